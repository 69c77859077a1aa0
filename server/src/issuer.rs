//! The ApCV issuer (enrolment, issuance, rights refresh, revocation status list): its routes
//! come with the ApCV issue and are mounted under `/v1/issuer`. Until then the prefix answers
//! `404` like any unknown route: nothing here pretends to work.

use std::sync::Arc;

use axum::Router;

use crate::AppState;

/// The issuer's routes (none yet).
pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new()
}
