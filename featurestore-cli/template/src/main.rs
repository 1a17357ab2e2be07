//! The command line of this feature crate: `cargo run -- --help`.

use std::process::ExitCode;

// glibc's allocator keeps most of what a run frees (the text of a parsed CSV,
// the sort buffers) mapped in per-thread arenas; mimalloc gives it back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `--help` shows this crate's name, version and description; the
    // configuration travels inside the binary, used wherever it runs without
    // a featurestore.toml (relative paths then start at the working directory).
    let app = featurestore_runtime::app!().embed_config(include_str!("../featurestore.toml"));
    featurestore_runtime::cli::main({{lib}}::registry(), app)
}
