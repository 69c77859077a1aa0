//! The offline material verifier mode checks against.

use carnet_certs::verifier::{CountryRules, VerifierPolicy};
use carnet_certs::{
    ListHeader, RevocationList, RuleList, TrustList, ValueSets, certificate_der, parse_anchor,
};

use std::path::Path;

use crate::CarnetError;
use crate::files::read_kept_file;

/// File of the lists' directory holding the anchor key the lists were verified against.
pub(crate) const ANCHOR_FILE: &str = "anchor.key";
/// Largest anchor key file read back (a PEM certificate is a few KiB).
const MAX_ANCHOR_BYTES: usize = 64 * 1024;

/// Trust list, revocation list, business rules, value sets and the policy that goes with them.
#[derive(Debug, Clone)]
pub struct VerifierLists {
    /// Trusted document signers.
    pub trust: TrustList,
    /// Revoked certificates, when a list is held.
    pub revocation: Option<RevocationList>,
    /// Every country's business rules, when a list is held.
    pub rules: Option<RuleList>,
    /// The value sets: the signed list held, else those Carnet ships.
    pub value_sets: ValueSets,
    /// How old the lists may be.
    pub policy: VerifierPolicy,
}

impl VerifierLists {
    /// Verifies and reads signed lists against the anchor key (PEM or DER public key or
    /// certificate). Without a revocation list, results are "cannot confirm"; without rules,
    /// so are results for a country.
    ///
    /// # Errors
    /// [`CarnetError::Certs`] for a list or anchor that does not verify or parse.
    pub fn open(
        trust_list: &[u8],
        anchor: &[u8],
        revocation_list: Option<&[u8]>,
    ) -> Result<Self, CarnetError> {
        Self::open_all(trust_list, anchor, revocation_list, None, None)
    }

    /// As [`VerifierLists::open`], with the signed rule and value-set lists when held.
    ///
    /// # Errors
    /// [`CarnetError::Certs`] for a list or anchor that does not verify or parse.
    pub fn open_all(
        trust_list: &[u8],
        anchor: &[u8],
        revocation_list: Option<&[u8]>,
        rule_list: Option<&[u8]>,
        value_set_list: Option<&[u8]>,
    ) -> Result<Self, CarnetError> {
        let anchor = parse_anchor(anchor)?;
        let trust = TrustList::open(trust_list, &anchor)?;
        let revocation = revocation_list
            .map(|bytes| RevocationList::open(bytes, &anchor))
            .transpose()?;
        let rules = rule_list
            .map(|bytes| RuleList::open(bytes, &anchor))
            .transpose()?;
        let value_sets = match value_set_list {
            Some(bytes) => ValueSets::open(bytes, &anchor)?,
            None => ValueSets::shipped(),
        };
        Ok(Self::from_parts(trust, revocation, rules, value_sets))
    }

    /// Lists already verified, with the default policy.
    pub(crate) fn from_parts(
        trust: TrustList,
        revocation: Option<RevocationList>,
        rules: Option<RuleList>,
        value_sets: ValueSets,
    ) -> Self {
        VerifierLists {
            trust,
            revocation,
            rules,
            value_sets,
            policy: VerifierPolicy::default(),
        }
    }

    /// Verifier mode against these lists at `at` (Unix seconds), with no clock guard: the
    /// caller names the time ([`crate::Carnet::verify_pass`] uses the guarded platform clock).
    pub fn verify(&self, text: &str, at: i64) -> carnet_certs::verifier::Verdict {
        self.verify_in(text, None, at)
    }

    /// As [`VerifierLists::verify`], and when `arrival` is given (ISO 3166-1 alpha-2), by the
    /// business rules of that country of arrival and of the issuer.
    pub fn verify_in(
        &self,
        text: &str,
        arrival: Option<&str>,
        at: i64,
    ) -> carnet_certs::verifier::Verdict {
        let country = arrival.map(|arrival| CountryRules {
            arrival,
            rules: self.rules.as_ref(),
            value_sets: &self.value_sets,
        });
        carnet_certs::verifier::verify_in(
            text,
            &self.trust,
            self.revocation.as_ref(),
            country.as_ref(),
            at,
            &self.policy,
        )
    }

    /// The lists the last [`crate::NationalServices::update_lists`] kept in `lists_dir`,
    /// verified again against the anchor kept with them; `None` when no list was ever kept.
    ///
    /// # Errors
    /// [`CarnetError::Storage`] for kept files that cannot be read, [`CarnetError::Certs`] for
    /// lists that no longer verify.
    pub(crate) fn held_in(lists_dir: &Path) -> Result<Option<Self>, CarnetError> {
        let max = carnet_certs::MAX_LIST_BYTES;
        let (Some(trust), Some(anchor)) = (
            read_kept_file(&lists_dir.join("trust.signed"), max)?,
            read_kept_file(&lists_dir.join(ANCHOR_FILE), MAX_ANCHOR_BYTES)?,
        ) else {
            return Ok(None);
        };
        let kept = |name: &str| read_kept_file(&lists_dir.join(format!("{name}.signed")), max);
        Self::open_all(
            &trust,
            &anchor,
            kept("revocation")?.as_deref(),
            kept("rules")?.as_deref(),
            kept("valuesets")?.as_deref(),
        )
        .map(Some)
    }

    /// Trusts one document signer certificate (PEM or DER) directly, as of `at` (Unix seconds),
    /// without revocation checks: for developers and issuers testing their own certificates.
    ///
    /// # Errors
    /// [`CarnetError::Certs`] for a certificate that cannot be used.
    pub fn trusting_certificate(certificate: &[u8], at: i64) -> Result<Self, CarnetError> {
        let der = certificate_der(certificate)?;
        let trust = TrustList::new(
            ListHeader {
                version: 0,
                issued_at: at,
            },
            vec![(String::new(), der)],
        )?;
        let policy = VerifierPolicy {
            require_revocation_list: false,
            ..VerifierPolicy::default()
        };
        Ok(VerifierLists {
            trust,
            revocation: None,
            rules: None,
            value_sets: ValueSets::shipped(),
            policy,
        })
    }
}
