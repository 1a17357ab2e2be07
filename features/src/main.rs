//! The chargeback feature store's command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    featurestore_runtime::cli::main(features::registry(), Some(env!("CARGO_MANIFEST_DIR")))
}
