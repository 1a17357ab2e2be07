//! What every request shares: the declarations, the limits, the metrics,
//! and the online store, opened through the seam every backend implements
//! ([`crate::store::online::open`]).
//!
//! How the store is held depends on its backend:
//!
//! - A server backend (Redis, …) is opened once and kept: its client
//!   multiplexes every request over one connection. A server that is down
//!   when `features serve` starts, or an error that may pass (a dropped
//!   connection, a timeout), leaves no store kept, and the next request
//!   opens it again: the server recovers by itself when the store is back.
//! - The embedded file (`redb://`) is opened while requests are in flight
//!   and closed as soon as none is: redb allows one process at a time on a
//!   file, so a server that kept it open would stop every `features
//!   execute` from writing. Requests that arrive together share one open
//!   file; between requests the file is free for a run. While a run writes,
//!   the server answers 503 ("open in another process") and a retry after
//!   the run succeeds.

use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::Value as Json;
use tokio::sync::Mutex;

use super::error::ApiError;
use super::metrics::Metrics;
use crate::error::ErrorKind;
use crate::location::{FileLocation, OnlineLocation};
use crate::registry::Registry;
use crate::spec::FeatureSetSpec;
use crate::store::online::{self, OnlineStore, OpenMode};

/// What handlers get: the state, shared.
pub(crate) type Shared = Arc<AppState>;

/// The limits a request is held to.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_keys: usize,
    pub(crate) timeout: Duration,
}

/// Shared by every request.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) registry: Registry,
    /// Each feature set's output columns by name: a request may name
    /// hundreds, and a search of each among hundreds costs more than the read.
    pub(crate) outputs: HashMap<&'static str, HashMap<&'static str, usize>>,
    /// Each feature set as `features describe --json` prints it.
    pub(crate) catalog: Vec<Json>,
    pub(crate) limits: Limits,
    /// The bearer token requests must carry, if any.
    pub(crate) token: Option<Vec<u8>>,
    pub(crate) metrics: Metrics,
    pub(crate) store: StoreHandle,
    pub(crate) openapi: Json,
    /// Where the runs' quality reports are (the historical store's root).
    pub(crate) historical: Option<FileLocation>,
}

/// [`AppState::outputs`] of `registry`.
pub(crate) fn outputs_of(
    registry: &Registry,
) -> HashMap<&'static str, HashMap<&'static str, usize>> {
    registry
        .feature_sets()
        .iter()
        .map(|f| {
            let columns = f
                .outputs
                .iter()
                .enumerate()
                .map(|(i, o)| (o.name, i))
                .collect();
            (f.name, columns)
        })
        .collect()
}

impl AppState {
    /// The index of output `column` of feature set `name`, if it has one.
    pub(crate) fn output(&self, name: &str, column: &str) -> Option<usize> {
        self.outputs.get(name)?.get(column).copied()
    }

    /// A declared feature set, or 404 naming the declared ones.
    pub(crate) fn feature_set(&self, name: &str) -> Result<&FeatureSetSpec, ApiError> {
        self.registry
            .feature_sets()
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self
                    .registry
                    .feature_sets()
                    .iter()
                    .map(|f| f.name)
                    .collect();
                ApiError::not_found(format!(
                    "no feature set `{name}`; declared: {}",
                    known.join(", ")
                ))
            })
    }

    /// Runs `f` on the store, within the request's time limit; a failure
    /// is counted and becomes a 503 (or 500) naming the store.
    pub(crate) async fn with_store<T, F, Fut>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(Arc<dyn OnlineStore>) -> Fut,
        Fut: std::future::Future<Output = crate::Result<T>>,
    {
        let limit = self.limits.timeout;
        let run = async {
            let store = self.store.lease().await?;
            let out = f(store).await;
            if let Err(e) = &out {
                self.store.failed(e).await;
            }
            out
        };
        match tokio::time::timeout(limit, run).await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => {
                self.metrics.store_error(kind_label(e.kind()));
                tracing::warn!("online store: {e}");
                Err(ApiError::store(&e))
            }
            Err(_) => {
                self.metrics.store_error("timeout");
                tracing::warn!(
                    "online store at {}: no answer within {} ms",
                    self.store.location,
                    limit.as_millis()
                );
                self.store.forget().await;
                Err(ApiError::store_timeout(
                    &self.store.location.to_string(),
                    limit,
                ))
            }
        }
    }
}

fn kind_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Transient => "transient",
        ErrorKind::Conflict => "conflict",
        ErrorKind::InvalidInput => "invalid_input",
        _ => "permanent",
    }
}

/// The online store, opened on demand (see the module's docs).
#[derive(Debug)]
pub(crate) struct StoreHandle {
    pub(crate) location: OnlineLocation,
    /// `[online.*]` of the configuration (a Cassandra store's credentials,
    /// consistency, entity tables).
    options: online::OnlineOptions,
    slot: Mutex<Slot>,
}

#[derive(Debug)]
enum Slot {
    /// A store kept open between requests (server backends, `memory://`).
    Kept(Option<Arc<dyn OnlineStore>>),
    /// A store open only while requests hold it (the embedded file).
    Leased(Weak<dyn OnlineStore>),
}

impl StoreHandle {
    pub(crate) fn new(location: OnlineLocation, options: online::OnlineOptions) -> Self {
        let slot = match location {
            OnlineLocation::Redb(_) => Slot::Leased(Weak::<online::MemoryStore>::new()),
            _ => Slot::Kept(None),
        };
        StoreHandle {
            location,
            options,
            slot: Mutex::new(slot),
        }
    }

    /// The open store, opening it if no request holds it.
    pub(crate) async fn lease(&self) -> crate::Result<Arc<dyn OnlineStore>> {
        let mut slot = self.slot.lock().await;
        match &*slot {
            Slot::Kept(Some(store)) => return Ok(store.clone()),
            Slot::Leased(weak) => {
                if let Some(store) = weak.upgrade() {
                    return Ok(store);
                }
            }
            Slot::Kept(None) => {}
        }
        let store = online::open_with(&self.location, OpenMode::Read, &self.options).await?;
        *slot = match &*slot {
            Slot::Kept(_) => Slot::Kept(Some(store.clone())),
            Slot::Leased(_) => Slot::Leased(Arc::downgrade(&store)),
        };
        Ok(store)
    }

    /// After an error that may pass, the next request opens the store
    /// afresh rather than trust a client that may be broken.
    async fn failed(&self, e: &crate::Error) {
        if e.kind() == ErrorKind::Transient {
            self.forget().await;
        }
    }

    async fn forget(&self) {
        if let Slot::Kept(kept) = &mut *self.slot.lock().await {
            *kept = None;
        }
    }
}
