//! The chargeback feature store's command line.

use std::process::ExitCode;

// glibc's allocator keeps most of what a run frees (the text of a parsed CSV,
// the sort buffers) mapped, in per-thread arenas: a 10M-event run then peaks
// about 40% higher than its live memory. mimalloc gives it back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    featurestore_runtime::cli::main(features::registry(), Some(env!("CARGO_MANIFEST_DIR")))
}
