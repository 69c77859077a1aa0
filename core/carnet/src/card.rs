//! The carte Vitale on the phone (ApCV, `docs/protocols/apcv.md`), the holder's side:
//!
//! * the device key ([`SoftwareDeviceKey`] kept in the [`KeyVault`], or a platform keystore
//!   through [`DeviceSigner`]), enrolment and rights refresh against the issuer
//!   ([`NationalServices::enrol_card`], [`NationalServices::refresh_card`]) — which also bring
//!   the professionals' PKI the phone checks readers with — and the card's people read offline
//!   from the record ([`HealthRecord::card`]);
//! * Carnet's own counter QR ([`HealthRecord::present_counter`]). The standard presentation
//!   is [`crate::presentation`]; the reader's side is [`crate::card_reader`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_identity::IdentityError;
use carnet_identity::apcv::{Credential, DEFAULT_DISCLOSURE, ENROLMENT_PROOF_CONTEXT, STATUS_PATH};
use carnet_identity::mdoc::{DeviceKey, IssuerSignedItem};
use carnet_identity::presentation::{Binding, DeviceSigner};
use carnet_identity::qr_text::counter_to_text;
use carnet_identity::reader::SLOT_SECONDS;
use carnet_identity::reader_trust::ReaderTrust;
use carnet_net::NetError;
use carnet_wire::health_space::AccountProof;
use carnet_wire::issuer::{
    CardEnrolled, CardEnrolment, EnrolmentNonce, IssuedCredential, IssuedCredentials,
};
use ciborium::Value;
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use tracing::instrument::WithSubscriber;

use crate::health_record::HealthRecord;
use crate::services::NationalServices;
use crate::{CarnetError, KeyVault};

/// Vault entry of the software device key (Ed25519, PKCS#8).
const DEVICE_KEY_ENTRY: &str = "apcv.device-key";

fn malformed(what: impl Into<String>) -> CarnetError {
    CarnetError::Identity(IdentityError::Structure(what.into()))
}

/// A software device key: Ed25519, made once and kept in the [`KeyVault`] (for phones whose
/// keystore does not hold one, and for the desktop CLI).
pub struct SoftwareDeviceKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SoftwareDeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareDeviceKey").finish_non_exhaustive()
    }
}

impl SoftwareDeviceKey {
    /// The key kept in `vault`, made and kept the first time.
    ///
    /// # Errors
    /// [`CarnetError::Platform`] when the vault fails; [`CarnetError::CorruptVaultEntry`] for a
    /// damaged key.
    pub fn load_or_create(vault: &dyn KeyVault) -> Result<Self, CarnetError> {
        let pkcs8 = match vault.load(DEVICE_KEY_ENTRY)? {
            Some(pkcs8) => pkcs8,
            None => {
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                    .map_err(|_| malformed("no random generator"))?
                    .as_ref()
                    .to_vec();
                vault.store(DEVICE_KEY_ENTRY, pkcs8.clone())?;
                pkcs8
            }
        };
        let pair =
            Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| CarnetError::CorruptVaultEntry {
                name: DEVICE_KEY_ENTRY,
                reason: "not an Ed25519 PKCS#8 key",
            })?;
        Ok(SoftwareDeviceKey { pair })
    }
}

impl DeviceSigner for SoftwareDeviceKey {
    fn device_key(&self) -> DeviceKey {
        let mut public = [0u8; 32];
        public.copy_from_slice(self.pair.public_key().as_ref());
        DeviceKey::Ed25519(public)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IdentityError> {
        Ok(self.pair.sign(message).as_ref().to_vec())
    }
}

/// One person on the card, as the phone shows it offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPerson {
    /// Rank on the card (1: the holder).
    pub rank: u32,
    /// Family name, as on the card.
    pub family_name: String,
    /// Given names, as on the card.
    pub given_names: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// The card's NIR (the holder's).
    pub nir: String,
    /// This person's INS matricule.
    pub ins_matricule: String,
    /// Insurance scheme code.
    pub regime: String,
    /// Code of the caisse the person depends on.
    pub caisse: String,
    /// AMO rights open from, `YYYY-MM-DD`.
    pub amo_valid_from: String,
    /// AMO rights open until, `YYYY-MM-DD`.
    pub amo_valid_until: String,
    /// The credential may be shown until then (Unix seconds): a rights refresh renews it.
    pub valid_until: i64,
    /// When the issuer last gave it, Unix milliseconds.
    pub refreshed_millis: i64,
}

impl CardPerson {
    fn read(
        rank: u32,
        credential: &Credential,
        refreshed_millis: i64,
    ) -> Result<Self, CarnetError> {
        let items = credential.items()?;
        let text = |name: &str| element_text(&items, name).unwrap_or_default();
        Ok(CardPerson {
            rank,
            family_name: text("family_name"),
            given_names: text("given_names"),
            birth_date: text("birth_date"),
            nir: text("nir"),
            ins_matricule: text("ins_matricule"),
            regime: text("regime"),
            caisse: text("caisse"),
            amo_valid_from: text("amo_valid_from"),
            amo_valid_until: text("amo_valid_until"),
            valid_until: credential.mso()?.validity.valid_until,
            refreshed_millis,
        })
    }
}

/// The value of element `name` of a credential's items, as text ([`display`]).
fn element_text(items: &[IssuerSignedItem], name: &str) -> Option<String> {
    items
        .iter()
        .find(|item| item.element_identifier == name)
        .map(|item| display(&item.element_value))
}

/// A disclosed value as text: full dates and texts as they are, numbers in decimal.
pub(crate) fn display(value: &Value) -> String {
    match value {
        Value::Tag(_, inner) => display(inner),
        Value::Text(text) => text.clone(),
        Value::Integer(number) => i128::from(*number).to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => format!("{other:?}"),
    }
}

impl HealthRecord {
    /// The people on the card enrolled on this phone, by rank (empty before enrolment).
    ///
    /// # Errors
    /// [`CarnetError::Record`]; [`CarnetError::Identity`] for a damaged credential.
    pub fn card(&self) -> Result<Vec<CardPerson>, CarnetError> {
        self.record
            .card()?
            .iter()
            .map(|kept| {
                CardPerson::read(
                    kept.rank,
                    &Credential::from_cbor(&kept.credential)?,
                    kept.refreshed_millis,
                )
            })
            .collect()
    }

    /// Carnet's counter QR (`APCV1:` text) for person `rank`: the default disclosure,
    /// signed by `signer` (the key the card was enrolled with) for the current 30-second slot,
    /// without the certificate (a QR code's size is tight). No reader can ask anything of it.
    ///
    /// # Errors
    /// [`CarnetError::NotFound`] for a rank not on the card; [`CarnetError::Identity`] for a
    /// credential that does not parse or the signer's refusal.
    pub fn present_counter(
        &self,
        rank: u32,
        signer: &dyn DeviceSigner,
    ) -> Result<String, CarnetError> {
        let kept = self
            .record
            .card()?
            .into_iter()
            .find(|kept| kept.rank == rank)
            .ok_or(CarnetError::NotFound("card person"))?;
        let credential = Credential::from_cbor(&kept.credential)?.without_certificate();
        let slot = (self.clock.now_unix_millis() / 1000).div_euclid(SLOT_SECONDS);
        let response =
            credential.present(&DEFAULT_DISCLOSURE, &Binding::Counter { slot }, signer)?;
        let text = counter_to_text(&response, slot)?;
        tracing::dispatcher::with_default(&self.dispatch, || {
            tracing::info!(rank, "counter QR shown");
        });
        Ok(text)
    }
}

impl NationalServices {
    /// Enrols the card `nir` on this phone with the caisse's activation `code`: a nonce from
    /// the issuer, the device key's proof of possession over it, and the health-space account
    /// made in the same step. The credentials (one per person on the card) are checked to be
    /// bound to `signer`'s key and kept in `record`.
    ///
    /// # Errors
    /// [`CarnetError::Network`] (offline; refused: wrong or used code, locked card);
    /// [`CarnetError::Identity`] for credentials that do not read or are not bound to this
    /// device; [`CarnetError::Record`].
    pub async fn enrol_card(
        &self,
        record: &HealthRecord,
        nir: &str,
        code: &str,
        signer: &(dyn DeviceSigner + Sync),
    ) -> Result<Vec<CardPerson>, CarnetError> {
        let work = async {
            let start: EnrolmentNonce = self
                .client
                .post_once("/v1/issuer/enrolment/start", &serde_json::json!({}))
                .await?
                .json("enrolment nonce")?;
            let nonce = STANDARD
                .decode(&start.nonce)
                .map_err(|_| NetError::Protocol("the enrolment nonce is not base64".into()))?;
            let device_key = carnet_codec::cbor::to_vec(&signer.device_key().to_cose_key())?;
            let proof = signer.sign(&[ENROLMENT_PROOF_CONTEXT, &nonce].concat())?;
            let request = |account: AccountProof| CardEnrolment {
                nir: nir.to_owned(),
                code: code.trim().to_owned(),
                nonce: start.nonce.clone(),
                device_key: STANDARD.encode(device_key),
                proof: STANDARD.encode(proof),
                account_key: account.account_key,
                account_proof: account.account_proof,
            };
            let (_, answer) = self
                .client
                .enrol_with::<_, CardEnrolled>(self.vault.as_ref(), "/v1/issuer/enrolment", request)
                .await?;
            let people = keep_credentials(record, &answer.credentials, &signer.device_key())?;
            self.refresh_reader_trust(record).await?;
            Ok(people)
        };
        work.with_subscriber(self.dispatch.clone()).await
    }

    /// Asks the issuer for the card's credentials again with the rights the caisse holds now
    /// (the ones they replace are revoked) and keeps them in `record`. Offline, the card held
    /// stays as it is.
    ///
    /// # Errors
    /// [`CarnetError::Network`] (offline, not enrolled, refused); [`CarnetError::Identity`];
    /// [`CarnetError::Record`].
    pub async fn refresh_card(
        &self,
        record: &HealthRecord,
        signer: &(dyn DeviceSigner + Sync),
    ) -> Result<Vec<CardPerson>, CarnetError> {
        let credential = self.credential()?;
        let work = async {
            let response = self
                .client
                .signed(
                    &credential,
                    Method::POST,
                    "/v1/me/issuer/rights",
                    Vec::new(),
                )
                .await?;
            let answer: IssuedCredentials = response.json("rights answer")?;
            let people = keep_credentials(record, &answer.credentials, &signer.device_key())?;
            self.refresh_reader_trust(record).await?;
            Ok(people)
        };
        work.with_subscriber(self.dispatch.clone()).await
    }

    /// Fetches what the phone checks readers with and keeps it with the card: the
    /// professionals' PKI root (the one kept is kept: in production it ships with the app)
    /// and its current signed revocation list, which must verify under it.
    async fn refresh_reader_trust(&self, record: &HealthRecord) -> Result<(), CarnetError> {
        let roots = match record.record.reader_trust()? {
            Some(kept) => kept.roots,
            None => vec![
                self.client
                    .get_conditional("/v1/readers/root", None)
                    .await?
                    .body,
            ],
        };
        let revocations = self
            .client
            .get_conditional("/v1/readers/revocations", None)
            .await?
            .body;
        let mut trust = ReaderTrust::new(&roots)?;
        if !trust.update_revocations(&revocations)? {
            return Err(NetError::Protocol(
                "the readers' revocation list is not signed by the PKI this phone trusts".into(),
            )
            .into());
        }
        record.record.keep_reader_trust(&roots, &revocations)?;
        Ok(())
    }

    /// The issuer's root certificate (DER), for a reader to trust — fetched once and kept; in
    /// production it ships with the reader's software.
    ///
    /// # Errors
    /// [`CarnetError::Network`].
    pub async fn issuer_root(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self
            .client
            .get_conditional("/v1/issuer/root", None)
            .with_subscriber(self.dispatch.clone())
            .await?
            .body)
    }

    /// The issuer's signed status list, for a reader ([`CardReader::update_status`]).
    ///
    /// # Errors
    /// [`CarnetError::Network`].
    pub async fn issuer_status(&self) -> Result<Vec<u8>, CarnetError> {
        Ok(self
            .client
            .get_conditional(STATUS_PATH, None)
            .with_subscriber(self.dispatch.clone())
            .await?
            .body)
    }
}

/// Checks that each credential the issuer gave is bound to `device_key`, and keeps them as
/// the card, with each person's INS matricule (the documents the record takes as theirs).
fn keep_credentials(
    record: &HealthRecord,
    issued: &[IssuedCredential],
    device_key: &DeviceKey,
) -> Result<Vec<CardPerson>, CarnetError> {
    let mut credentials = Vec::with_capacity(issued.len());
    for entry in issued {
        let rank = entry.rank;
        let bytes = STANDARD
            .decode(&entry.credential)
            .map_err(|_| NetError::Protocol("a credential that is not base64".into()))?;
        let credential = Credential::from_cbor(&bytes)?;
        if credential.mso()?.device_key != *device_key {
            return Err(malformed(
                "the issuer bound a credential to another device key",
            ));
        }
        let ins_matricule =
            element_text(&credential.items()?, "ins_matricule").filter(|ins| !ins.is_empty());
        credentials.push(carnet_record::NewCardCredential {
            rank,
            credential: bytes,
            ins_matricule,
        });
    }
    record.record.replace_card(&credentials)?;
    record.card()
}

/// One element a phone disclosed, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosedElement {
    /// Its identifier (`family_name`, `amo_valid_until`…).
    pub name: String,
    /// Its value: texts and full dates as they are, numbers in decimal.
    pub value: String,
}

/// What a reader concluded of what a phone showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardCheck {
    /// Accepted: the disclosed elements, in the order shown.
    Accepted {
        /// The elements disclosed, in the order the reader asked them.
        elements: Vec<DisclosedElement>,
    },
    /// Refused, with the reason's stable code (`revoked`, `device_signature`, ...: the
    /// list is in `docs/protocols/apcv.md`).
    Refused {
        /// The refusal code.
        code: String,
    },
}
