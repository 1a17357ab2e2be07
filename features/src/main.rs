//! The chargeback feature store's command line.

use std::process::ExitCode;

// glibc's allocator keeps most of what a run frees (the text of a parsed CSV,
// the sort buffers) mapped, in per-thread arenas: a 10M-event run then peaks
// about 40% higher than its live memory. mimalloc gives it back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // `--help` names this crate; the configuration is carried inside, for a
    // copy of the binary run where no `featurestore.toml` is.
    let app = featurestore_runtime::app!().embed_config(include_str!("../featurestore.toml"));
    featurestore_runtime::cli::main(features::registry(), app)
}
