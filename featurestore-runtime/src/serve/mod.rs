//! `features serve`: the HTTP feature server (cargo feature `server`).
//!
//! It reads the online store through the seam every backend implements
//! ([`crate::store::online::OnlineStore`]), so it serves from the embedded
//! file, Redis or any other backend alike, and it answers:
//!
//! - `POST /get-online-features`: Feast's request and response (`feast.rs`);
//! - `GET /v1/feature-sets`, `GET /v1/feature-sets/{name}`: the catalog
//!   as `features describe --json` prints it;
//! - `POST /v1/feature-sets/{name}/rows`: the typed rows of many keys;
//! - `GET /health` (ready when the store answers), `GET /metrics`
//!   (Prometheus), `GET /openapi.json`;
//! - `GET /`: the catalog, lineage, freshness and quality plots as a page
//!   ([`crate::page`]).
//!
//! Safe by default: it listens on loopback unless told otherwise; with a
//! token file every route but `/health` needs the bearer token; bodies,
//! keys per request, time per request and requests at once are bounded;
//! bad requests get a 4xx naming what is wrong and a store that cannot
//! answer a 503, never a crash. SIGTERM or Ctrl-C stop it after the
//! requests in progress are answered.

mod body;
mod error;
mod feast;
mod json;
mod metrics;
mod openapi;
mod routes;
mod state;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;

use crate::config::ServerConfig;
use crate::error::{Error, Result};
use crate::location::{FileLocation, OnlineLocation};
use crate::registry::Registry;
use state::{AppState, Limits, StoreHandle};

/// A server bound to its address, not yet answering.
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    app: axum::Router,
    address: SocketAddr,
}

/// Binds the server of `registry`'s feature sets, reading the online store
/// at `online` (with the `[online.*]` options `online_options`) and the
/// runs' quality reports under the historical store at `historical`;
/// `catalog` is each feature set as `describe --json` prints it, `version`
/// the API's.
pub fn bind(
    registry: Registry,
    catalog: Vec<Json>,
    online: OnlineLocation,
    online_options: crate::store::online::OnlineOptions,
    historical: Option<FileLocation>,
    options: &ServerConfig,
    version: &str,
) -> Result<Server> {
    let token = options.token_file.as_deref().map(read_token).transpose()?;
    let address: SocketAddr = options.bind.parse().map_err(|e| {
        Error::Invalid(format!(
            "`--bind {}`: {e}; expected an address and a port, e.g. 127.0.0.1:6566",
            options.bind
        ))
    })?;
    let timeout = Duration::from_millis(options.request_timeout_ms.max(1));
    let state = Arc::new(AppState {
        openapi: openapi::document(&registry, version, token.is_some(), options.max_keys),
        outputs: state::outputs_of(&registry),
        registry,
        catalog,
        limits: Limits {
            max_keys: options.max_keys,
            timeout,
        },
        token,
        metrics: metrics::Metrics::default(),
        store: StoreHandle::new(online, online_options),
        historical,
    });
    let listener =
        crate::io::block_on(tokio::net::TcpListener::bind(address)).map_err(|e| Error::Io {
            context: format!("listening on {address}"),
            source: e,
        })?;
    let address = listener.local_addr().map_err(|e| Error::Io {
        context: "reading the address listened on".to_string(),
        source: e,
    })?;
    // Say now, not at the first request, that the store is not there; the
    // server still starts, answers 503 and recovers when the store is back.
    let probe = state.clone();
    crate::io::block_on(async move {
        if let Err(e) = probe.store.lease().await {
            tracing::warn!(
                "the online store is not available yet (requests get 503 until it is): {e}"
            );
        }
    });
    let app = routes::router(
        state,
        options.max_body_bytes,
        timeout,
        options.max_concurrency.max(1),
    );
    Ok(Server {
        listener,
        app,
        address,
    })
}

impl Server {
    /// The address listened on (with the port chosen, for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Answers requests until SIGTERM or Ctrl-C, then finishes the requests
    /// in progress and returns.
    pub fn run(self) -> Result<()> {
        let Server {
            listener,
            app,
            address,
        } = self;
        crate::io::block_on(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop_signal())
                .await
        })
        .map_err(|e| Error::Io {
            context: format!("serving on {address}"),
            source: e,
        })
    }
}

/// SIGTERM (how service managers stop a process) or Ctrl-C.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("stopping: finishing the requests in progress");
}

/// The token in `path`: its text without the line end. An empty or
/// unreadable file is an error; the token itself is never shown.
fn read_token(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        context: format!("reading the token file {}", path.display()),
        source: e,
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::Invalid(format!(
            "the token file {} is empty; write the bearer token clients send into it",
            path.display()
        )));
    }
    Ok(token.as_bytes().to_vec())
}
