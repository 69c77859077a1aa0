//! The reader's side of remote presentations (`docs/protocols/apcv.md`, "Remote
//! presentation"): phones post their engagement to the reader's endpoint, and each gets its
//! own session, under an id, until it answers or its time runs out. The HTTP server around
//! it is the shell's (`carnet reader serve`); this holds the sessions, their limits and the
//! signed verdicts.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use carnet_identity::IdentityError;
use carnet_identity::remote::{Endpoint, RemoteReply};
use ring::rand::{SecureRandom, SystemRandom};

use crate::CarnetError;
use crate::card::CardCheck;
use crate::card_reader::CardReader;

/// How long a phone has to answer the request, in seconds.
pub const REMOTE_SESSION_SECONDS: i64 = 300;
/// Most sessions open at once; past it a new phone is told to try again.
pub const MAX_REMOTE_SESSIONS: usize = 64;

/// What the reader makes of a phone's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteAnswer {
    /// The reply to send back to the phone (the signed verdict).
    pub reply: Vec<u8>,
    /// The reader's check of the card, for the professional's screen; `None` when the
    /// phone ended the session without answering.
    pub check: Option<CardCheck>,
}

/// Where a serving reader gets the issuer's newest status list, and how old the one it holds
/// may be before a new phone's engagement fetches it again.
struct StatusRefresh {
    services: std::sync::Arc<crate::NationalServices>,
    max_age_secs: i64,
    /// When the list held was fetched (Unix seconds); `i64::MIN` before the first fetch.
    fetched: Mutex<i64>,
}

struct OpenSession {
    reader: CardReader,
    opened: i64,
}

/// A reader serving remote presentations at one endpoint.
pub struct RemoteReader {
    template: Mutex<CardReader>,
    endpoint: Endpoint,
    items: Vec<String>,
    date_of_care: Option<String>,
    sessions: Mutex<HashMap<String, OpenSession>>,
    refresh: Option<StatusRefresh>,
}

impl std::fmt::Debug for RemoteReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteReader")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl CardReader {
    /// This reader serving remote presentations at `endpoint` (the address phones post to),
    /// asking each phone for `items`, the rights checked against `date_of_care`
    /// (`YYYY-MM-DD`) if given.
    ///
    /// # Errors
    /// [`CarnetError::Identity`] for a reader without a certified key, an endpoint or a date
    /// that is not one.
    pub fn serve_remote(
        &self,
        endpoint: &str,
        items: &[String],
        date_of_care: Option<&str>,
    ) -> Result<RemoteReader, CarnetError> {
        self.certified_key()?;
        let endpoint = Endpoint::parse(endpoint)?;
        self.check_time(date_of_care)?;
        Ok(RemoteReader {
            template: Mutex::new(self.without_session()),
            endpoint,
            items: items.to_vec(),
            date_of_care: date_of_care.map(str::to_owned),
            sessions: Mutex::new(HashMap::new()),
            refresh: None,
        })
    }
}

impl RemoteReader {
    fn sessions(&self) -> MutexGuard<'_, HashMap<String, OpenSession>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn template(&self) -> MutexGuard<'_, CardReader> {
        self.template.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps the issuer's status list current from `services`: before a new phone's
    /// engagement, a list held longer than `max_age_secs` is fetched again (a card enrolled
    /// since is otherwise `cannot_confirm`).
    #[must_use]
    pub fn with_status_refresh(
        mut self,
        services: std::sync::Arc<crate::NationalServices>,
        max_age_secs: i64,
    ) -> Self {
        self.refresh = Some(StatusRefresh {
            services,
            max_age_secs,
            fetched: Mutex::new(i64::MIN),
        });
        self
    }

    /// Fetches the issuer's status list if the one held is older than the refresh allows.
    /// A failure (offline, a list not signed by the issuer) is logged and leaves the list
    /// held: the checks then say what it can confirm.
    pub async fn refresh_status_if_stale(&self) {
        let Some(refresh) = &self.refresh else {
            return;
        };
        let now = self.template().now();
        {
            let fetched = refresh
                .fetched
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if now.saturating_sub(*fetched) <= refresh.max_age_secs {
                return;
            }
        }
        match refresh.services.issuer_status().await {
            Ok(signed) => match self.template().update_status(&signed) {
                Ok(true) => {
                    *refresh
                        .fetched
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = now;
                }
                Ok(false) => tracing::warn!("the status list is not signed by the issuer trusted"),
                Err(error) => tracing::warn!(%error, "the status list could not be read"),
            },
            Err(error) => tracing::warn!(%error, "the status list could not be fetched"),
        }
    }

    /// Opens a session for the phone that posted `engagement`: the reply carries its id and
    /// the `SessionEstablishment`.
    ///
    /// # Errors
    /// [`IdentityError::Busy`] with [`MAX_REMOTE_SESSIONS`] open; [`CarnetError::Identity`]
    /// for an engagement that does not read.
    pub fn engage(&self, engagement: &[u8]) -> Result<Vec<u8>, CarnetError> {
        let now = self.template().now();
        self.sessions()
            .retain(|_, open| now - open.opened <= REMOTE_SESSION_SECONDS);
        if self.sessions().len() >= MAX_REMOTE_SESSIONS {
            return Err(IdentityError::Busy.into());
        }
        let mut reader = self.template().without_session();
        let establishment = reader.request_remote(engagement, self.endpoint.url(), &self.items)?;
        let mut id = [0u8; 16];
        SystemRandom::new()
            .fill(&mut id)
            .map_err(|_| IdentityError::Random)?;
        let id = URL_SAFE_NO_PAD.encode(id);
        let reply = RemoteReply {
            session: Some(id.clone()),
            message: Some(establishment),
            verdict: None,
        }
        .to_bytes()?;
        let mut sessions = self.sessions();
        if sessions.len() >= MAX_REMOTE_SESSIONS {
            return Err(IdentityError::Busy.into());
        }
        sessions.insert(
            id,
            OpenSession {
                reader,
                opened: now,
            },
        );
        Ok(reply)
    }

    /// Takes the phone's `message` in session `session`: its answer checked, the verdict
    /// signed in the reply. The session is over either way.
    ///
    /// # Errors
    /// [`IdentityError::SessionEnded`] for a session that is not open (never was, answered
    /// already, or past its time); [`CarnetError::Identity`] for a message that does not
    /// decrypt or read.
    pub fn answer(&self, session: &str, message: &[u8]) -> Result<RemoteAnswer, CarnetError> {
        let open = self
            .sessions()
            .remove(session)
            .ok_or(IdentityError::SessionEnded)?;
        if self.template().now() - open.opened > REMOTE_SESSION_SECONDS {
            return Err(IdentityError::SessionEnded.into());
        }
        let mut reader = open.reader;
        let check = reader.read(message, self.date_of_care.as_deref())?;
        if !reader.in_session() {
            // The phone ended the session (declined, or its own error): nothing to sign.
            return Ok(RemoteAnswer {
                reply: RemoteReply::default().to_bytes()?,
                check: None,
            });
        }
        let reply = RemoteReply {
            session: None,
            message: None,
            verdict: Some(reader.signed_verdict(&check)?),
        }
        .to_bytes()?;
        Ok(RemoteAnswer {
            reply,
            check: Some(check),
        })
    }

    /// How many sessions are open.
    #[must_use]
    pub fn open_sessions(&self) -> usize {
        self.sessions().len()
    }
}

/// The reader's HTTP routes at its endpoint's path: `POST path` takes an
/// engagement, `POST path/{session}` an answer, whose check goes to `on_answer` (the
/// professional's screen). Bodies over [`MAX_REMOTE_MESSAGE`] are refused (413); a reader
/// with too many sessions open answers 503, an unknown or spent session 404, a message that
/// does not read 400, in words. Serve it behind connection bounds (`carnet_server::serve`).
#[cfg(feature = "reader-server")]
pub fn router(
    reader: std::sync::Arc<RemoteReader>,
    on_answer: std::sync::Arc<dyn Fn(&CardCheck) + Send + Sync>,
) -> axum::Router {
    use axum::body::Bytes;
    use axum::extract::{DefaultBodyLimit, Path, State};
    use axum::http::{StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use carnet_identity::remote::MAX_REMOTE_MESSAGE;

    type Served = (
        std::sync::Arc<RemoteReader>,
        std::sync::Arc<dyn Fn(&CardCheck) + Send + Sync>,
    );

    fn answered(result: Result<Vec<u8>, CarnetError>) -> Response {
        match result {
            Ok(reply) => ([(header::CONTENT_TYPE, "application/cbor")], reply).into_response(),
            Err(error) => {
                let status = match &error {
                    CarnetError::Identity(IdentityError::Busy) => StatusCode::SERVICE_UNAVAILABLE,
                    CarnetError::Identity(IdentityError::SessionEnded) => StatusCode::NOT_FOUND,
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, format!("{error} [{}]", error.code())).into_response()
            }
        }
    }
    async fn engage(State((reader, _)): State<Served>, body: Bytes) -> Response {
        reader.refresh_status_if_stale().await;
        answered(reader.engage(&body))
    }
    async fn answer(
        State((reader, on_answer)): State<Served>,
        Path(session): Path<String>,
        body: Bytes,
    ) -> Response {
        answered(reader.answer(&session, &body).map(|answer| {
            if let Some(check) = &answer.check {
                on_answer(check);
            }
            answer.reply
        }))
    }

    let base = reader.endpoint.path().to_owned();
    let base = base.as_str();
    axum::Router::new()
        .route(
            if base.is_empty() { "/" } else { base },
            axum::routing::post(engage),
        )
        .route(&format!("{base}/{{session}}"), axum::routing::post(answer))
        .layer(DefaultBodyLimit::max(MAX_REMOTE_MESSAGE))
        .with_state((reader, on_answer))
}
