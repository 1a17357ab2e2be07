//! Compile-time checks of the macros: what users see when a declaration is
//! wrong. Refresh the `.stderr` files with `TRYBUILD=overwrite` and read the
//! diff; they depend on the pinned compiler.

use std::path::Path;

#[test]
fn ui() {
    trybuild_profile();
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
    t.compile_fail("ui/plain/*.rs");
    t.compile_fail("ui/keys/*.rs");
    t.compile_fail("ui/preprocess/*.rs");
    t.compile_fail("ui/catalog/*.rs");
}

/// trybuild builds its cases as a workspace of its own, which does not see
/// the `[profile]` of ours: polars would get full debug info there (over
/// 2 GB per linked case, ten minutes of build). Cargo reads `.cargo/config.toml`
/// from the directories above the one trybuild runs it in, so the same
/// profile is written there.
fn trybuild_profile() {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory");
    let dir = target.join("tests").join("trybuild").join(".cargo");
    std::fs::create_dir_all(&dir).expect("create trybuild's .cargo directory");
    std::fs::write(
        dir.join("config.toml"),
        "[profile.dev]\ndebug = false\n\n[profile.dev.package.\"*\"]\ndebug = false\n",
    )
    .expect("write trybuild's cargo config");
}
