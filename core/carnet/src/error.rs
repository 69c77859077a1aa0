//! The facade's error: every component error, with a stable code and a message key.

use carnet_cda::CdaError;
use carnet_certs::CertsError;
use carnet_codec::CodecError;
use carnet_exposure::ExposureError;
use carnet_identity::IdentityError;
use carnet_net::NetError;
use carnet_record::RecordError;

use crate::platform::PlatformError;

/// Everything that can go wrong through the facade.
#[derive(Debug, thiserror::Error)]
pub enum CarnetError {
    /// An identifier or identity trait was refused.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A health certificate, trust list or revocation list was refused.
    #[error(transparent)]
    Certs(#[from] CertsError),
    /// A CDA document could not be read (malformed or hostile XML, a body that does not
    /// decode, a limit passed).
    #[error(transparent)]
    Cda(#[from] CdaError),
    /// Outside data (an image, a camera frame, text to encode) could not be used.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The health record refused or failed.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The national services could not be reached, or refused.
    #[error(transparent)]
    Network(#[from] NetError),
    /// Exposure notification refused something (a key file, a key, the radio).
    #[error(transparent)]
    Exposure(#[from] ExposureError),
    /// Local storage failed (disk full, damaged file, newer schema).
    #[error("storage: {0}")]
    Storage(String),
    /// Nothing stored under that identifier.
    #[error("no {0} with that identifier")]
    NotFound(&'static str),
    /// A platform service (key vault, ...) failed.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// An entry of the key vault is not what Carnet wrote there.
    #[error("key vault entry {name:?} is corrupt: {reason}")]
    CorruptVaultEntry {
        /// Name of the entry.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The broad class of an error, for shells that react per class (ask again, retry later...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller's input was refused; asking the user again may help.
    InvalidInput,
    /// A platform service is unavailable; retrying later may help.
    PlatformUnavailable,
    /// A platform service refused (user cancelled, keystore locked).
    PlatformDenied,
    /// Stored data is damaged; Carnet will not use it.
    CorruptData,
    /// Local storage failed; the operation changed nothing.
    Storage,
    /// The national services could not be reached; what was done is kept, and trying again
    /// later goes on from there.
    Offline,
    /// The national services refused (this device not enrolled, or no longer recognised);
    /// trying again will not help until the user acts.
    Refused,
}

impl CarnetError {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CarnetError::Codec(CodecError::Read { .. }) => ErrorKind::Storage,
            CarnetError::Identity(IdentityError::Signer(platform)) => {
                CarnetError::Platform(platform.clone()).kind()
            }
            CarnetError::Identity(IdentityError::Random) => ErrorKind::PlatformUnavailable,
            CarnetError::Identity(_)
            | CarnetError::Certs(_)
            | CarnetError::Codec(_)
            | CarnetError::NotFound(_) => ErrorKind::InvalidInput,
            CarnetError::Storage(_) => ErrorKind::Storage,
            CarnetError::Platform(PlatformError::Unavailable(_)) => ErrorKind::PlatformUnavailable,
            CarnetError::Platform(PlatformError::Denied(_)) => ErrorKind::PlatformDenied,
            CarnetError::Platform(PlatformError::InvalidName(_)) => ErrorKind::InvalidInput,
            CarnetError::Platform(PlatformError::StorageFull(_)) => ErrorKind::Storage,
            CarnetError::CorruptVaultEntry { .. } => ErrorKind::CorruptData,
            CarnetError::Network(e) => network_kind(e),
            CarnetError::Record(e) => record_kind(e),
            CarnetError::Exposure(ExposureError::Radio(_) | ExposureError::Random) => {
                ErrorKind::PlatformUnavailable
            }
            CarnetError::Exposure(_) => ErrorKind::InvalidInput,
            CarnetError::Cda(CdaError::Io(_)) => ErrorKind::Storage,
            CarnetError::Cda(_) => ErrorKind::InvalidInput,
        }
    }

    /// A stable machine-readable code (`nir.control_key`, ...). Codes are never renamed.
    pub fn code(&self) -> &'static str {
        self.code_and_message_key().0
    }

    /// The key of the user-facing message the shells translate (`error.nir.typo`, ...).
    /// Several codes can share one message.
    pub fn message_key(&self) -> &'static str {
        self.code_and_message_key().1
    }

    fn code_and_message_key(&self) -> (&'static str, &'static str) {
        match self {
            CarnetError::Identity(e) => match e {
                IdentityError::NirLength { .. } => ("nir.length", "error.nir.length"),
                IdentityError::NirCharacter { .. } => ("nir.character", "error.nir.character"),
                IdentityError::NirControlKey { .. } => ("nir.control_key", "error.nir.typo"),
                IdentityError::InsOid(_) => ("ins.oid", "error.ins.unknown_kind"),
                IdentityError::InsTrait { .. } => ("ins.trait", "error.ins.trait"),
                IdentityError::InsMismatch { .. } => ("ins.mismatch", "error.ins.mismatch"),
                IdentityError::Encoding { .. } => ("apcv.malformed", "error.apcv.unreadable"),
                IdentityError::Structure(_) => ("apcv.structure", "error.apcv.unreadable"),
                IdentityError::TooLarge { .. } => ("apcv.too_large", "error.apcv.unreadable"),
                IdentityError::Signature(_) => ("apcv.signature", "error.apcv.signature"),
                IdentityError::Random => ("apcv.random", "error.platform.unavailable"),
                IdentityError::Claims(_) => ("apcv.claims", "error.apcv.claims"),
                IdentityError::Certificate(_) => ("apcv.certificate", "error.apcv.certificate"),
                IdentityError::Nfc(_) => ("apcv.nfc", "error.apcv.nfc"),
                IdentityError::NotConsented => ("apcv.not_consented", "error.apcv.not_consented"),
                IdentityError::Decryption => ("mdoc.decryption", "error.mdoc.session"),
                IdentityError::SessionEnded => ("mdoc.session_ended", "error.mdoc.session"),
                IdentityError::EngagementExpired => {
                    ("mdoc.engagement_expired", "error.mdoc.engagement_expired")
                }
                IdentityError::Unsupported(_) => ("mdoc.unsupported", "error.mdoc.unsupported"),
                IdentityError::Busy => ("mdoc.busy", "error.mdoc.busy"),
                IdentityError::Signer(platform) => {
                    CarnetError::Platform(platform.clone()).code_and_message_key()
                }
            },
            CarnetError::Certs(e) => certs_code_and_message_key(e),
            CarnetError::Codec(CodecError::NoQrCode) => ("qr.not_found", "error.qr.not_found"),
            CarnetError::Codec(CodecError::TooLarge { .. } | CodecError::ImageTooLarge { .. }) => {
                ("input.too_large", "error.input.too_large")
            }
            CarnetError::Codec(CodecError::Read { .. }) => {
                ("file.unreadable", "error.file.unreadable")
            }
            CarnetError::Codec(_) => ("input.unreadable", "error.input.unreadable"),
            CarnetError::Storage(_) => ("storage.failed", "error.storage.failed"),
            CarnetError::NotFound(_) => ("not_found", "error.not_found"),
            CarnetError::Platform(e) => match e {
                PlatformError::Unavailable(_) => ("platform.unavailable", "error.platform.retry"),
                PlatformError::Denied(_) => ("platform.denied", "error.platform.denied"),
                PlatformError::InvalidName(_) => ("platform.vault_name", "error.internal"),
                PlatformError::StorageFull(_) => ("storage.full", "error.storage.full"),
            },
            CarnetError::CorruptVaultEntry { .. } => ("vault.corrupt", "error.storage.corrupt"),
            CarnetError::Network(e) => network_code_and_message_key(e),
            CarnetError::Record(RecordError::Platform(e)) => {
                CarnetError::Platform(e.clone()).code_and_message_key()
            }
            CarnetError::Record(e) => record_code_and_message_key(e),
            CarnetError::Exposure(e) => exposure_code_and_message_key(e),
            CarnetError::Cda(e) => (
                e.code(),
                match e {
                    CdaError::TooLarge { .. } => "error.input.too_large",
                    CdaError::Io(_) => "error.file.unreadable",
                    _ => "error.cda.unreadable",
                },
            ),
        }
    }
}

/// The code and message key of an exposure error.
fn exposure_code_and_message_key(error: &ExposureError) -> (&'static str, &'static str) {
    match error {
        ExposureError::Signature(_) => ("exposure.signature", "error.exposure.key_file"),
        ExposureError::KeyFile(_) | ExposureError::TooLarge { .. } => {
            ("exposure.key_file", "error.exposure.key_file")
        }
        ExposureError::Length { .. } | ExposureError::Period(_) => {
            ("exposure.key", "error.input.unreadable")
        }
        ExposureError::Json(_) | ExposureError::Calibration(_) => {
            ("input.unreadable", "error.input.unreadable")
        }
        ExposureError::Advertisement(_) => ("exposure.advertisement", "error.input.unreadable"),
        ExposureError::Radio(_) => ("exposure.radio", "error.exposure.radio"),
        ExposureError::Random => ("platform.unavailable", "error.platform.retry"),
        ExposureError::Simulation(_) => ("exposure.simulation", "error.input.unreadable"),
        ExposureError::Matching(_) => ("exposure.matching", "error.internal"),
    }
}

/// The class of a record error.
fn record_kind(error: &RecordError) -> ErrorKind {
    match error {
        RecordError::Platform(e) => CarnetError::Platform(e.clone()).kind(),
        RecordError::RolledBack { .. }
        | RecordError::Tampered(_)
        | RecordError::Corrupt(_)
        | RecordError::NewerSchema { .. } => ErrorKind::CorruptData,
        RecordError::WrongDeviceKey => ErrorKind::PlatformDenied,
        RecordError::Network(e) => network_kind(e),
        RecordError::Sync(_) => ErrorKind::Refused,
        RecordError::Busy
        | RecordError::StorageFull(_)
        | RecordError::Database(_)
        | RecordError::Io { .. } => ErrorKind::Storage,
        RecordError::WrongPassphrase
        | RecordError::WeakPassphrase(_)
        | RecordError::NoSuchKeySlot(_)
        | RecordError::AlreadyExists(_)
        | RecordError::NoStore(_)
        | RecordError::NotFound(_)
        | RecordError::InvalidInput(_)
        | RecordError::UnsupportedDocument(_)
        | RecordError::NotAllowed(_)
        | RecordError::Import(_)
        | RecordError::XdmMetadata { .. }
        | RecordError::ImportIntoNonEmpty => ErrorKind::InvalidInput,
    }
}

/// The class of a network error.
fn network_kind(error: &NetError) -> ErrorKind {
    match error {
        NetError::Offline(_) => ErrorKind::Offline,
        NetError::Refused { .. }
        | NetError::Protocol(_)
        | NetError::Untrusted(_)
        | NetError::NotEnrolled => ErrorKind::Refused,
        NetError::Platform(e) => CarnetError::Platform(e.clone()).kind(),
    }
}

/// Code and message key of a network error.
fn network_code_and_message_key(error: &NetError) -> (&'static str, &'static str) {
    match error {
        NetError::Offline(_) => ("net.offline", "error.network.offline"),
        // A test result's code that the key server does not take (wrong, used, expired):
        // the user can do something about it.
        NetError::Refused { code, .. } if code == "keys.code" => {
            ("exposure.code", "error.exposure.code")
        }
        NetError::Refused { .. } => ("net.refused", "error.network.refused"),
        NetError::Protocol(_) => ("net.protocol", "error.network.refused"),
        NetError::Untrusted(_) => ("net.untrusted", "error.network.untrusted"),
        NetError::NotEnrolled => ("net.not_enrolled", "error.network.not_enrolled"),
        NetError::Platform(e) => CarnetError::Platform(e.clone()).code_and_message_key(),
    }
}

/// The user-facing message of a record error.
/// Codes and message keys of the record's errors. Codes are never renamed.
fn record_code_and_message_key(error: &RecordError) -> (&'static str, &'static str) {
    match error {
        RecordError::WrongPassphrase => {
            ("record.wrong_passphrase", "error.record.wrong_passphrase")
        }
        RecordError::WeakPassphrase(_) => {
            ("record.weak_passphrase", "error.record.weak_passphrase")
        }
        RecordError::WrongDeviceKey => ("record.wrong_device_key", "error.record.device_key_lost"),
        RecordError::NoSuchKeySlot(_) => ("record.no_key_slot", "error.record.invalid"),
        RecordError::AlreadyExists(_) => ("record.already_exists", "error.record.invalid"),
        RecordError::NoStore(_) => ("record.no_store", "error.record.invalid"),
        RecordError::Busy => ("record.busy", "error.record.busy"),
        RecordError::RolledBack { .. } => ("record.rolled_back", "error.record.rolled_back"),
        RecordError::Tampered(_) => ("record.tampered", "error.storage.corrupt"),
        RecordError::Corrupt(_) => ("record.corrupt", "error.storage.corrupt"),
        RecordError::NewerSchema { .. } => ("record.newer_schema", "error.app.update_needed"),
        RecordError::NotFound(_) => ("record.not_found", "error.not_found"),
        RecordError::InvalidInput(_) => ("record.invalid_input", "error.record.invalid"),
        RecordError::UnsupportedDocument(_) => (
            "record.unsupported_document",
            "error.record.unsupported_document",
        ),
        RecordError::NotAllowed(_) => ("record.not_allowed", "error.record.not_allowed"),
        RecordError::Import(_) => ("record.import_refused", "error.record.import"),
        RecordError::XdmMetadata { error, .. } => (error.code(), "error.record.import"),
        RecordError::ImportIntoNonEmpty => ("record.import_not_empty", "error.record.import"),
        RecordError::Network(e) => ("record.network", network_code_and_message_key(e).1),
        RecordError::Sync(_) => ("record.sync", "error.network.refused"),
        RecordError::Platform(_) => ("record.platform", "error.storage.failed"),
        RecordError::StorageFull(_) => ("storage.full", "error.storage.full"),
        RecordError::Database(_) => ("record.database", "error.storage.failed"),
        RecordError::Io { .. } => ("record.io", "error.storage.failed"),
    }
}

/// Codes of certificate refusals, one per pipeline step.
fn certs_code_and_message_key(error: &CertsError) -> (&'static str, &'static str) {
    match error {
        CertsError::Prefix => ("dcc.prefix", "error.dcc.not_a_certificate"),
        CertsError::Base45(_) => ("dcc.base45", "error.dcc.unreadable"),
        CertsError::Compression(_) => ("dcc.compression", "error.dcc.unreadable"),
        CertsError::Cose(_) => ("dcc.cose", "error.dcc.unreadable"),
        CertsError::Claims(_) => ("dcc.claims", "error.dcc.unreadable"),
        CertsError::Payload(_) => ("dcc.payload", "error.dcc.unreadable"),
        CertsError::Schema { .. } => ("dcc.schema", "error.dcc.malformed"),
        CertsError::Content { .. } => ("dcc.content", "error.dcc.malformed"),
        CertsError::MissingKid | CertsError::UnknownKid { .. } => {
            ("dcc.unknown_signer", "error.dcc.unknown_signer")
        }
        CertsError::Signature(_) => ("dcc.signature", "error.dcc.forged"),
        CertsError::Expiry(_) => ("dcc.expiry", "error.dcc.expired"),
        CertsError::KeyUsage(_) => ("dcc.key_usage", "error.dcc.forged"),
        CertsError::Revoked(_) => ("dcc.revoked", "error.dcc.revoked"),
        CertsError::List(_) => ("dcc.list", "error.dcc.lists"),
        CertsError::Signer(_) => ("dcc.signer", "error.dcc.lists"),
        CertsError::Rule(_) => ("dcc.rule", "error.dcc.rules"),
        CertsError::RuleLimit(_) => ("dcc.rule_limit", "error.dcc.rules"),
        CertsError::RulesNotMet { .. } => ("dcc.rules_not_met", "error.dcc.rules_not_met"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_distinct() {
        let errors = [
            CarnetError::from(IdentityError::NirLength { found: 3 }),
            IdentityError::NirCharacter {
                position: 1,
                found: 'x',
            }
            .into(),
            IdentityError::NirControlKey {
                expected: 1,
                found: 2,
            }
            .into(),
            IdentityError::InsOid("x".into()).into(),
            IdentityError::InsTrait {
                name: "sex",
                reason: "r",
            }
            .into(),
            IdentityError::InsMismatch { name: "sex" }.into(),
            PlatformError::Unavailable("x".into()).into(),
            PlatformError::Denied("x".into()).into(),
            PlatformError::InvalidName("x".into()).into(),
            CarnetError::CorruptVaultEntry {
                name: "n",
                reason: "r",
            },
            RecordError::WrongPassphrase.into(),
            RecordError::RolledBack {
                expected: 2,
                found: 1,
            }
            .into(),
            RecordError::Busy.into(),
            RecordError::WrongDeviceKey.into(),
            NetError::Offline("x".into()).into(),
            NetError::NotEnrolled.into(),
        ];
        let codes: std::collections::HashSet<_> = errors.iter().map(CarnetError::code).collect();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(errors[2].code(), "nir.control_key");
        assert_eq!(errors[2].kind(), ErrorKind::InvalidInput);
        assert_eq!(errors[7].kind(), ErrorKind::PlatformDenied);
        assert_eq!(
            (errors[10].kind(), errors[10].message_key()),
            (ErrorKind::InvalidInput, "error.record.wrong_passphrase")
        );
        assert_eq!(errors[11].kind(), ErrorKind::CorruptData);
        assert_eq!(errors[12].kind(), ErrorKind::Storage);
        assert_eq!(errors[13].kind(), ErrorKind::PlatformDenied);
        assert_eq!(
            (errors[14].kind(), errors[15].kind()),
            (ErrorKind::Offline, ErrorKind::Refused)
        );
        assert_eq!(
            CarnetError::from(RecordError::Network(NetError::Offline("x".into()))).kind(),
            ErrorKind::Offline
        );
        assert_eq!(
            CarnetError::from(RecordError::Platform(PlatformError::Denied("x".into()))).code(),
            "platform.denied"
        );
        assert!(errors.iter().all(|e| e.message_key().starts_with("error.")));
    }
}
