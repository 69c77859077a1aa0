//! Request body limits sized to each route, enforced before a byte of the body is read.
//!
//! A route that takes a document or an attachment accepts up to the configuration's
//! `max_body_bytes`; a key upload (at most 30 keys) a few KiB; every other route, which takes
//! a small JSON message or nothing, 64 KiB. A request that declares a longer body
//! (`Content-Length`) is answered 413 at once, and a body without a declared length is cut at
//! the limit as it streams in: the limit holds for any client.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// The body limit of routes taking a small JSON message (or none).
pub const SMALL_BODY_BYTES: usize = 64 * 1024;
/// The body limit of an exposure key upload: 30 keys of ~60 bytes of JSON each, and room.
pub const KEY_UPLOAD_BYTES: usize = 16 * 1024;

/// The route templates whose bodies carry documents or attachments.
const FILE_ROUTES: [&str; 3] = [
    "/v1/me/blobs/{sha256}",
    "/v1/pro/patients/{user}/documents",
    "/v1/pro/patients/{user}/messages",
];

/// The body limit of the route `template` (as axum matched it).
pub fn body_limit(template: &str, max_body_bytes: usize) -> usize {
    if FILE_ROUTES.contains(&template) {
        max_body_bytes
    } else if template == "/v1/keys/upload" {
        KEY_UPLOAD_BYTES
    } else {
        SMALL_BODY_BYTES
    }
}

/// Middleware: refuses a declared body over the route's limit with 413 before reading it,
/// and bounds the body stream to the limit for the extractors and handlers behind.
pub(crate) async fn enforce(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    let limit = body_limit(template, state.config.max_body_bytes);
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large(limit);
    }
    let (parts, body) = request.into_parts();
    let bounded = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, bounded)).await
}

fn too_large(limit: usize) -> Response {
    let mut response = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body.too_large",
        format!("the request body is larger than this route's {limit} bytes"),
    )
    .into_response();
    // The body was not read: the connection cannot carry another request.
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_get_limits_sized_to_what_they_carry() {
        let max = 48 << 20;
        assert_eq!(body_limit("/v1/me/blobs/{sha256}", max), max);
        assert_eq!(body_limit("/v1/keys/upload", max), KEY_UPLOAD_BYTES);
        assert_eq!(body_limit("/v1/issuer/enrolment", max), SMALL_BODY_BYTES);
        assert_eq!(body_limit("", max), SMALL_BODY_BYTES);
    }
}
