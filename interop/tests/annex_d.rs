//! ISO/IEC 18013-5 Annex D: the session of the standard's own example, reproduced by
//! Carnet's session code. The vectors give both ephemeral private keys; `ring` (Carnet's
//! crypto) only makes fresh ones, so `p256` stands in for the key agreement here, through
//! Carnet's `KeyAgreement` trait. Everything else — the transcript, the HKDF derivation of
//! `SKReader`/`SKDevice`, AES-256-GCM with the standard's IVs and counters — is Carnet's.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use carnet_identity::IdentityError;
use carnet_identity::session::{KeyAgreement, Role, SessionCipher, SessionData, SessionKeys};
use carnet_testing::annex_d::{establishment, nfc_handover, point, transcript_with, vector};
use p256::elliptic_curve::sec1::ToEncodedPoint;

/// An ephemeral key given by the vectors.
struct VectorKey(p256::SecretKey);

impl VectorKey {
    fn of(name: &str) -> Box<Self> {
        Box::new(VectorKey(
            p256::SecretKey::from_slice(&vector(&format!("{name}_D"))).unwrap(),
        ))
    }
}

impl KeyAgreement for VectorKey {
    fn public_point(&self) -> Vec<u8> {
        self.0
            .public_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec()
    }

    fn agree(self: Box<Self>, peer_point: &[u8]) -> Result<[u8; 32], IdentityError> {
        let peer = p256::PublicKey::from_sec1_bytes(peer_point)
            .map_err(|_| IdentityError::Structure("not a point".into()))?;
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), peer.as_affine());
        Ok((*shared.raw_secret_bytes()).into())
    }
}

#[test]
fn the_annex_d_session_decrypts_and_reencrypts_byte_for_byte() {
    let establishment = establishment();
    let transcript = transcript_with(&nfc_handover());
    assert_eq!(
        transcript.bytes(),
        vector("SESSION_TRANSCRIPT_BYTES").as_slice()
    );

    // The mdoc's side: its ephemeral key with the reader's point from the establishment.
    let device_key = VectorKey::of("EPHEMERAL_DEVICE_KEY");
    let at_device = device_key
        .agree(&establishment.e_reader_point().unwrap())
        .unwrap();
    let keys = SessionKeys::derive(&at_device, &transcript);
    let mut device = SessionCipher::new(Role::Device, &keys).unwrap();
    assert_eq!(
        device.open(&establishment.data).unwrap(),
        vector("DEVICE_REQUEST")
    );

    // The reader's side: the same keys from the other pair.
    let reader_key = VectorKey::of("EPHEMERAL_READER_KEY");
    let at_reader = reader_key.agree(&point("EPHEMERAL_DEVICE_KEY")).unwrap();
    assert_eq!(SessionKeys::derive(&at_reader, &transcript), keys);
    let mut reader = SessionCipher::new(Role::Reader, &keys).unwrap();
    // Same key, same IV (identifier 0, counter 1): the reader's encryption is the vector's.
    assert_eq!(
        reader.seal(&vector("DEVICE_REQUEST")).unwrap(),
        establishment.data
    );

    let data = SessionData::from_bytes(&vector("SESSION_DATA")).unwrap();
    let sealed = data.data.unwrap();
    assert_eq!(device.seal(&vector("DEVICE_RESPONSE")).unwrap(), sealed);
    assert_eq!(reader.open(&sealed).unwrap(), vector("DEVICE_RESPONSE"));
    // The same message again is a replay: its counter is spent.
    assert_eq!(reader.open(&sealed), Err(IdentityError::Decryption));
}
