//! The routes, the middleware around them, and the native API:
//! `GET /` (the page), `GET /v1/feature-sets`, `GET /v1/feature-sets/{name}`,
//! `POST /v1/feature-sets/{name}/rows`, `GET /health`, `GET /metrics`,
//! `GET /openapi.json`.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonBody, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use subtle::ConstantTimeEq;

use super::body::parse_body;
use super::error::ApiError;
use super::feast;
use super::json::{key_value, timestamp_json, value_json};
use super::state::Shared;
use crate::spec::TIMESTAMP_COLUMN;
use crate::store::online::Value;

/// Every route, with authentication (when a token is set) on all but
/// `/health`, and the limits on everything.
pub(crate) fn router(
    state: Shared,
    max_body_bytes: usize,
    timeout: Duration,
    max_concurrency: usize,
) -> Router {
    let protected = Router::new()
        .route("/get-online-features", post(feast::get_online_features))
        .route("/v1/feature-sets", get(list_feature_sets))
        .route("/v1/feature-sets/{name}", get(feature_set))
        .route("/v1/feature-sets/{name}/rows", post(rows))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/", get(catalog_page))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/health", get(health))
        .merge(protected)
        .fallback(|| async { ApiError::not_found("no such route; `GET /openapi.json` lists them") })
        .layer(axum::extract::DefaultBodyLimit::max(max_body_bytes))
        // Requests past the bound wait for a place; the timeout, outside
        // it, counts the wait.
        .layer(tower::limit::ConcurrencyLimitLayer::new(max_concurrency))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            // The handlers give up on the store at `timeout` with a message;
            // this bounds everything else (a slow client body, a wait).
            timeout * 2,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Counts every request for `/metrics`, under its route's template.
async fn count(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().to_string();
    let started = Instant::now();
    state.metrics.started();
    let response = next.run(request).await;
    state.metrics.finished(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Lets a request through when no token is set, or when it carries
/// `Authorization: Bearer <token>`; compares in constant time, so the
/// time of a refusal tells nothing of the token.
async fn authenticate(
    State(state): State<Shared>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if bool::from(given.trim().as_bytes().ct_eq(token)) => next.run(request).await,
        Some(_) => ApiError::unauthorized("the bearer token is not the server's").into_response(),
        None => ApiError::unauthorized("this server needs `Authorization: Bearer <token>`")
            .into_response(),
    }
}

async fn list_feature_sets(State(state): State<Shared>) -> JsonBody<Json> {
    JsonBody(json!({ "feature_sets": state.catalog }))
}

async fn feature_set(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> Result<JsonBody<Json>, ApiError> {
    state.feature_set(&name)?;
    let found = state
        .catalog
        .iter()
        .find(|f| f["feature_set"] == name.as_str())
        .cloned()
        .unwrap_or(Json::Null);
    Ok(JsonBody(found))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowsRequest {
    /// One object per key, by key column: `{"cpf": "x"}`.
    keys: Vec<Map<String, Json>>,
}

/// The stored rows of many keys of one feature set, typed: `rows[i]` is
/// the row of `keys[i]`, or null.
async fn rows(
    State(state): State<Shared>,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<JsonBody<Json>, ApiError> {
    let spec = *state.feature_set(&name)?;
    let request: RowsRequest = parse_body(body)?;
    if request.keys.len() > state.limits.max_keys {
        return Err(ApiError::bad_request(format!(
            "`keys`: {} keys asked for; at most {} per request",
            request.keys.len(),
            state.limits.max_keys
        )));
    }
    let mut keys: Vec<Vec<Value>> = Vec::with_capacity(request.keys.len());
    for (i, object) in request.keys.iter().enumerate() {
        if let Some(extra) = object
            .keys()
            .find(|k| !spec.key_names().any(|n| n == k.as_str()))
        {
            return Err(ApiError::bad_request(format!(
                "`keys[{i}]`: `{extra}` is no key column of `{name}` (its keys: {})",
                spec.key_names().collect::<Vec<_>>().join(", ")
            )));
        }
        let mut key = Vec::with_capacity(spec.keys.len());
        for column in spec.keys {
            let Some(json) = object.get(column.name) else {
                return Err(ApiError::bad_request(format!(
                    "`keys[{i}]`: key column `{}` is missing",
                    column.name
                )));
            };
            let at = || format!("`keys[{i}].{}`", column.name);
            key.push(key_value(column, json, &at)?);
        }
        keys.push(key);
    }
    let found = state
        .with_store(|store| async move { store.get_many(&spec, &keys).await })
        .await?;
    let served = found.iter().filter(|r| r.is_some()).count();
    state.metrics.rows(spec.name, found.len(), served);
    let rows: Vec<Json> = found
        .iter()
        .map(|record| match record {
            None => Json::Null,
            Some(r) => {
                let mut row = Map::new();
                for (k, v) in spec.key_names().zip(&r.key) {
                    row.insert(k.to_string(), value_json(v));
                }
                row.insert(TIMESTAMP_COLUMN.to_string(), timestamp_json(r.timestamp));
                for (o, v) in spec.outputs.iter().zip(&r.values) {
                    row.insert(o.name.to_string(), value_json(v));
                }
                Json::Object(row)
            }
        })
        .collect();
    Ok(JsonBody(
        json!({ "feature_set": spec.name, "found": served, "rows": rows }),
    ))
}

/// Ready when the store answers: each feature set's recorded declaration
/// is read (and checked against the one compiled in).
async fn health(State(state): State<Shared>) -> Result<JsonBody<Json>, ApiError> {
    let specs: Vec<_> = state.registry.feature_sets().to_vec();
    let (backend, location) = state
        .with_store(|store| async move {
            for spec in &specs {
                store.check(spec).await?;
            }
            Ok((store.backend(), store.location()))
        })
        .await?;
    Ok(JsonBody(json!({
        "status": "ok",
        "online_store": { "backend": backend, "location": location },
        "feature_sets": state.registry.feature_sets().len(),
    })))
}

async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// The catalog page, with each feature set's last runs.
async fn catalog_page(State(state): State<Shared>) -> axum::response::Html<String> {
    let reports = crate::page::reports(&state.registry, state.historical.as_ref());
    axum::response::Html(crate::page::render(&state.registry, &reports))
}

async fn openapi(State(state): State<Shared>) -> JsonBody<Json> {
    JsonBody(state.openapi.clone())
}
