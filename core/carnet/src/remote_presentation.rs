//! Showing the card to a reader the person is not in front of (a teleconsultation, an online
//! pharmacy): the same ISO/IEC 18013-5 session, its messages posted over HTTPS to the
//! reader's endpoint (`docs/protocols/apcv.md`, "Remote presentation";
//! [`carnet_identity::remote`]).
//!
//! The reader must hold a certificate naming the endpoint's host, or it is refused before
//! anything is shown; and what it says of the answer is shown as its verdict only when it is
//! signed by that certificate's key over this session ([`RemoteOutcome::Confirmed`]) —
//! anything else is [`RemoteOutcome::Unconfirmed`], whatever the endpoint claims.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use carnet_identity::IdentityError;
use carnet_identity::holder::EngagementKind;
use carnet_identity::presentation::DeviceSigner;
use carnet_identity::remote::{Endpoint, MAX_REMOTE_MESSAGE, RemoteReply};
use carnet_identity::session::EphemeralKey;
use carnet_net::{Client, NetConfig};

use crate::CarnetError;
use crate::health_record::HealthRecord;
use crate::presentation::{CardPresentation, ConsentRequest, PresentationStep};

/// What came of a remote presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteOutcome {
    /// The reader's verdict, signed by its verified certificate's key over this session.
    Confirmed {
        /// Whether it accepted the card.
        accepted: bool,
        /// `accepted`, or its refusal code (`revoked`, `rights_expired`…).
        code: String,
        /// The elements it says it received.
        elements: Vec<String>,
    },
    /// The answer was sent, and what the reader said of it cannot be believed: it did not
    /// authenticate, sent no verdict, or a verdict it did not sign over this session.
    Unconfirmed {
        /// Why, in words.
        reason: String,
    },
    /// The person declined: the reader was told, nothing was shown.
    Declined,
}

/// One presentation to a remote reader: its request is checked and waiting for the person.
pub struct RemotePresentation {
    presentation: Mutex<CardPresentation>,
    client: Client,
    session_path: String,
    request: ConsentRequest,
}

impl std::fmt::Debug for RemotePresentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePresentation")
            .field("session_path", &self.session_path)
            .finish_non_exhaustive()
    }
}

impl HealthRecord {
    /// Starts showing the card to the reader at `endpoint` (`https://…`; `http://` only to
    /// this machine): posts the engagement, takes the reader's request and checks it — the
    /// reader's certificate must verify and name the endpoint's host.
    ///
    /// # Errors
    /// [`CarnetError::NotFound`] before a card is enrolled; [`CarnetError::Identity`] for an
    /// endpoint that is not one or a reply that does not read or decrypt;
    /// [`CarnetError::Network`] when the reader cannot be reached or refuses.
    pub async fn start_remote_presentation(
        self: &Arc<Self>,
        endpoint: &str,
    ) -> Result<RemotePresentation, CarnetError> {
        let endpoint = Endpoint::parse(endpoint)?;
        let mut presentation = self.present(
            EngagementKind::Remote(endpoint.clone()),
            Vec::new(),
            Box::new(EphemeralKey::generate()?),
        )?;
        let client = Client::new(NetConfig::new(endpoint.url()))?;
        let engagement = presentation.session.engagement().bytes().to_vec();
        let reply = RemoteReply::from_bytes(
            &client
                .post_cbor("", &engagement, MAX_REMOTE_MESSAGE)
                .await?,
        )?;
        let (Some(session), Some(message)) = (reply.session, reply.message) else {
            return Err(
                IdentityError::Structure("the reader's reply opens no session".into()).into(),
            );
        };
        let session_path = Endpoint::session_path(&session)?;
        match presentation.receive(&message) {
            Ok(PresentationStep::Asked(request)) => Ok(RemotePresentation {
                presentation: Mutex::new(presentation),
                client,
                session_path,
                request,
            }),
            Ok(PresentationStep::Ended) => Err(IdentityError::SessionEnded.into()),
            Err(error) => {
                // The reader is told why (status 10, 11 or 20); that it hears is not needed.
                if let Some(closing) = presentation.closing_message() {
                    let _ = client
                        .post_cbor(&session_path, &closing, MAX_REMOTE_MESSAGE)
                        .await;
                }
                Err(error)
            }
        }
    }
}

impl RemotePresentation {
    /// The reader's request, checked, for the consent screen.
    #[must_use]
    pub fn request(&self) -> &ConsentRequest {
        &self.request
    }

    fn lock(&self) -> MutexGuard<'_, CardPresentation> {
        self.presentation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers for person `rank` with the `approved` elements (within what this reader may be
    /// given), signed by `signer`, and reads the reader's verdict. The session then ends.
    ///
    /// # Errors
    /// As [`CardPresentation::respond`]; [`CarnetError::Network`] when the answer cannot be
    /// posted; [`CarnetError::Identity`] for a reply that does not read.
    pub async fn respond(
        &self,
        rank: u32,
        approved: &[String],
        signer: &(dyn DeviceSigner + Sync),
    ) -> Result<RemoteOutcome, CarnetError> {
        let answer = self.lock().respond(rank, approved, signer)?;
        let reply = self.post(&answer).await;
        let outcome = reply.map(|reply| self.outcome(&reply));
        let _ = self.lock().end();
        outcome
    }

    /// Declines: the reader is told, nothing is shown; the session ends.
    ///
    /// # Errors
    /// [`CarnetError::Network`] when the reader cannot be told.
    pub async fn decline(&self) -> Result<RemoteOutcome, CarnetError> {
        let answer = self.lock().decline()?;
        let posted = self.post(&answer).await;
        let _ = self.lock().end();
        posted.map(|_| RemoteOutcome::Declined)
    }

    async fn post(&self, message: &[u8]) -> Result<RemoteReply, CarnetError> {
        let reply = self
            .client
            .post_cbor(&self.session_path, message, MAX_REMOTE_MESSAGE)
            .await?;
        Ok(RemoteReply::from_bytes(&reply)?)
    }

    fn outcome(&self, reply: &RemoteReply) -> RemoteOutcome {
        let Some(verdict) = &reply.verdict else {
            return RemoteOutcome::Unconfirmed {
                reason: "the reader sent no verdict".into(),
            };
        };
        match self.lock().session.reader_verdict(verdict) {
            Ok(verdict) => RemoteOutcome::Confirmed {
                accepted: verdict.accepted,
                code: verdict.code,
                elements: verdict.elements,
            },
            Err(error) => RemoteOutcome::Unconfirmed {
                reason: error.to_string(),
            },
        }
    }
}
