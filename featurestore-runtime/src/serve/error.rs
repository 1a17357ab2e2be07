//! What a request that failed gets: a status and a JSON message naming what
//! is wrong, following axum's `docs/error_handling.md` (errors are
//! responses, handlers never fail otherwise).
//!
//! Bad requests are 4xx and say which part of the request is wrong. A store
//! that cannot answer is 503 with `Retry-After`, so a client or a load
//! balancer tries again, and the server itself tries the store again on the
//! next request; only a store that answers with something broken (a
//! corrupted file, a bug) is 500.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{Error, ErrorKind};

/// A failed request.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    /// A stable word for programs: `bad_request`, `not_found`, …
    pub(crate) code: &'static str,
    /// What is wrong, for people.
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: message.into(),
        }
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
        }
    }

    /// The online store failed: 503 when trying again may work (the store
    /// is down, busy, slow, missing or written under another declaration,
    /// all of which change without a new server), 500 when it answered with
    /// something broken.
    pub(crate) fn store(e: &Error) -> Self {
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            message.push_str(": ");
            message.push_str(&c.to_string());
            cause = c.source();
        }
        match e.kind() {
            ErrorKind::Permanent => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "store_failed",
                message,
            },
            _ => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "store_unavailable",
                message,
            },
        }
    }

    /// The store took longer than the request may.
    pub(crate) fn store_timeout(location: &str, limit: std::time::Duration) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "store_timeout",
            message: format!(
                "the online store at {location} did not answer within {} ms",
                limit.as_millis()
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
