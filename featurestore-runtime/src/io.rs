//! One process-wide async runtime for every store's I/O, and a bridge that
//! lets synchronous code wait on it from anywhere.
//!
//! Object stores and network clients are async; the CLI and the batch
//! pipeline are synchronous. A store must not build a runtime of its own and
//! `block_on` it: called from a server handler or a Kafka loop, which already
//! run on a runtime, that panics ("cannot start a runtime from within a
//! runtime"). [`block_on`] is safe from any thread: outside a runtime it
//! blocks on the shared one; on a worker of a multi-threaded runtime it
//! tells the scheduler first (`block_in_place`); on a current-thread
//! runtime, which cannot give its thread away, it waits from a scoped thread.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

/// Worker threads of the I/O runtime: I/O waits, it does not compute, so a
/// few threads serve every request in flight.
const IO_THREADS: usize = 2;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process's I/O runtime, started on first use.
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .thread_name("featurestore-io")
            .enable_all()
            .build()
            // Without threads the process cannot do any I/O at all.
            .expect("cannot start the I/O runtime's threads")
    })
}

/// Runs `future` to completion on the I/O runtime and returns its output,
/// from synchronous code, inside or outside an async runtime.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    match Handle::try_current() {
        Err(_) => runtime().block_on(future),
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| runtime().block_on(future))
        }
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| runtime().block_on(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer() -> u32 {
        tokio::task::yield_now().await;
        42
    }

    #[test]
    fn from_plain_code() {
        assert_eq!(block_on(answer()), 42);
    }

    #[test]
    fn from_inside_a_current_thread_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async { block_on(answer()) }), 42);
    }

    #[test]
    fn from_inside_a_multi_thread_runtime() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        assert_eq!(rt.block_on(async { block_on(answer()) }), 42);
    }
}
