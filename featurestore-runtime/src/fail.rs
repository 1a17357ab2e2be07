//! Deterministic crash points for the crash tests: with
//! `FEATURESTORE_FAIL_AT=NAME` in the environment, the process aborts (as
//! abruptly as a kill: no unwinding, no destructors) when a run reaches the
//! point `NAME`. Unset, each point costs one comparison.

use std::sync::OnceLock;

/// The environment variable naming the point to abort at.
pub const ENV_FAIL_AT: &str = "FEATURESTORE_FAIL_AT";

/// Aborts the process if `FEATURESTORE_FAIL_AT` names this point.
pub(crate) fn point(name: impl FnOnce() -> String) {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    let Some(at) = AT.get_or_init(|| std::env::var(ENV_FAIL_AT).ok()) else {
        return;
    };
    if *at == name() {
        eprintln!("{ENV_FAIL_AT}: aborting at `{at}`");
        std::process::abort();
    }
}
