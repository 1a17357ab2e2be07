//! Request bodies: JSON read with messages that say where it is wrong.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The body as JSON of type `T`; a body past the limit is 413, JSON that
/// does not parse or does not fit is 400 with serde's line and column.
pub(crate) fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = match body {
        Ok(bytes) => bytes,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(ApiError::too_large(format!(
                "request body: {}",
                e.body_text()
            )))
        }
        Err(e) => {
            return Err(ApiError::bad_request(format!(
                "request body: {}",
                e.body_text()
            )))
        }
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("request body is not the JSON expected: {e}")))
}
