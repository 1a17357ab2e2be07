//! Compile-time checks of the macros: what users see when a declaration is
//! wrong. Refresh the `.stderr` files with `TRYBUILD=overwrite` and read the
//! diff; they depend on the pinned compiler.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/attribute/*.rs");
    t.compile_fail("ui/window/*.rs");
    t.compile_fail("ui/aggregation/*.rs");
    t.compile_fail("ui/columns/*.rs");
    t.compile_fail("ui/types/*.rs");
    t.compile_fail("ui/duplicate/*.rs");
    t.compile_fail("ui/sql/*.rs");
    t.compile_fail("ui/fill/*.rs");
    t.compile_fail("ui/source/*.rs");
    t.compile_fail("ui/dataset/*.rs");
}
