//! A feature set's online write on a thread of its own, while the run goes
//! on with the next feature set.
//!
//! The online write of a large feature set runs on one core (an embedded
//! store has one writer), and the next feature set's read and compute have
//! stretches on one core too: side by side, both cores work. The order of
//! the stores is kept: the next feature set waits for the write before its
//! first change to a store (the swap of its days, or a repair of its
//! online rows), so a failed online write stops the run where it stopped
//! it before, with the same error, and no other store changed.

use std::sync::Mutex;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Duration;

use polars::prelude::DataFrame;

use super::RunReport;
use crate::error::Result;
use crate::store::online::OnlineWrite;

/// What an online write gives its run's report.
pub(super) struct OnlineDone {
    pub(super) write: OnlineWrite,
    pub(super) time: Duration,
    /// The latest rows offered, for [`RunReport::latest`]; `None` keeps the
    /// report's.
    pub(super) latest: Option<DataFrame>,
}

/// The online write running, if one is, and the result of the last one
/// waited for, until it is recorded in its report.
pub(super) struct OnlineWrites<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    running: Mutex<Option<(usize, ScopedJoinHandle<'scope, Result<OnlineDone>>)>>,
    done: Mutex<Vec<(usize, OnlineDone)>>,
}

impl<'scope, 'env> OnlineWrites<'scope, 'env> {
    pub(super) fn new(scope: &'scope Scope<'scope, 'env>) -> Self {
        OnlineWrites {
            scope,
            running: Mutex::new(None),
            done: Mutex::new(Vec::new()),
        }
    }

    /// Starts the online write of the run whose report is `report`, once
    /// the one running is done.
    pub(super) fn start(
        &self,
        report: usize,
        write: impl FnOnce() -> Result<OnlineDone> + Send + 'scope,
    ) -> Result<()> {
        self.wait()?;
        let handle = self.scope.spawn(write);
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = Some((report, handle));
        Ok(())
    }

    /// Waits for the online write running, if one is: its error is the
    /// run's.
    pub(super) fn wait(&self) -> Result<()> {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((report, handle)) = running {
            let done = handle
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            self.done
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((report, done));
        }
        Ok(())
    }

    /// Records the online writes waited for in their reports.
    pub(super) fn record(&self, reports: &mut [RunReport]) {
        for (i, done) in self
            .done
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let report = &mut reports[i];
            report.online = done.write;
            report.times.online = done.time;
            if let Some(latest) = done.latest {
                report.latest = latest;
            }
        }
    }
}
