//! The exposure-notification key server (upload of diagnosis keys with one-time codes, signed
//! daily export files): its routes come with the exposure issue and are mounted under
//! `/v1/keys`. Until then the prefix answers `404` like any unknown route.

use std::sync::Arc;

use axum::Router;

use crate::AppState;

/// The key server's routes (none yet).
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
}
