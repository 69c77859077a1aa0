//! The health professionals' PKI over real HTTP on loopback: a pharmacy's reader key
//! certified, the root and the revocation list a phone keeps, a certificate revoked and then
//! refused by the phone, and requests the PKI must not certify.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_identity::reader_trust::{ProfessionalId, ReaderRefusal, ReaderTrust};
use carnet_net::{Client, NetConfig};
use carnet_server::{DepositError, ProfessionalClient};
use carnet_testing::server::TestServer;
use carnet_testing::signers::ReaderKey;
use carnet_wire::readers::ReaderCertificateRequest;

fn request(key: &ReaderKey) -> ReaderCertificateRequest {
    ReaderCertificateRequest {
        name: "Jeanne Martin".into(),
        organisation: "Pharmacie du Port".into(),
        identifier: "RPPS:10003456789".into(),
        profession: "21".into(),
        hosts: vec!["127.0.0.1".into(), "pharmacie-du-port.example".into()],
        public_key: STANDARD.encode(key.public_point()),
    }
}

async fn trust(client: &Client) -> ReaderTrust {
    let root = client
        .get_conditional("/v1/readers/root", None)
        .await
        .unwrap()
        .body;
    let revocations = client
        .get_conditional("/v1/readers/revocations", None)
        .await
        .unwrap()
        .body;
    let mut trust = ReaderTrust::new(&[root]).unwrap();
    assert!(trust.update_revocations(&revocations).unwrap());
    trust
}

#[tokio::test]
async fn a_certified_reader_is_verified_by_a_phone_until_it_is_revoked() {
    let server = TestServer::start().await;
    let pki = ProfessionalClient::new(&server.url(), server.professional_key());
    let client = Client::new(NetConfig::new(server.url())).unwrap();
    let key = ReaderKey::generate();
    let issued = pki.certify_reader(&request(&key)).await.unwrap();
    let certificate = STANDARD.decode(&issued.certificate).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(issued.not_after_millis / 1000 > now + 300 * 86_400);

    let verified = trust(&client)
        .await
        .validate(std::slice::from_ref(&certificate), now)
        .unwrap()
        .unwrap();
    assert_eq!(verified.name, "Jeanne Martin");
    assert_eq!(verified.organisation, "Pharmacie du Port");
    assert_eq!(
        verified.identifier,
        ProfessionalId::Rpps("10003456789".into())
    );
    assert_eq!(verified.profession, "21");
    assert_eq!(
        verified.hosts,
        vec![
            "127.0.0.1".to_owned(),
            "pharmacie-du-port.example".to_owned()
        ]
    );
    assert_eq!(hex::encode(&verified.serial), issued.serial);

    let revoked = pki.revoke_reader(&issued.serial).await.unwrap();
    assert_eq!(revoked.serial, issued.serial);
    // Revoked twice: the first time stays.
    assert_eq!(pki.revoke_reader(&issued.serial).await.unwrap(), revoked);
    assert_eq!(
        trust(&client).await.validate(&[certificate], now).unwrap(),
        Err(ReaderRefusal::Revoked)
    );
    // Another reader's certificate is not touched.
    let other = ReaderKey::generate();
    let other = pki.certify_reader(&request(&other)).await.unwrap();
    let other = STANDARD.decode(&other.certificate).unwrap();
    assert!(
        trust(&client)
            .await
            .validate(&[other], now)
            .unwrap()
            .is_ok()
    );
}

#[tokio::test]
async fn the_pki_refuses_what_it_must_not_certify() {
    let server = TestServer::start().await;
    let pki = ProfessionalClient::new(&server.url(), server.professional_key());
    let key = ReaderKey::generate();
    fn refused<T: std::fmt::Debug>(result: Result<T, DepositError>) -> (u16, String) {
        match result {
            Err(DepositError::Refused { status, body }) => (status, body),
            other => panic!("refused expected: {other:?}"),
        }
    }
    let cases = [
        ReaderCertificateRequest {
            identifier: "RPPS:123".into(),
            ..request(&key)
        },
        ReaderCertificateRequest {
            profession: "99".into(),
            ..request(&key)
        },
        ReaderCertificateRequest {
            name: String::new(),
            ..request(&key)
        },
        ReaderCertificateRequest {
            hosts: vec!["evil host/".into()],
            ..request(&key)
        },
        ReaderCertificateRequest {
            // 65 bytes, not a point of the curve.
            public_key: STANDARD.encode([4u8; 65]),
            ..request(&key)
        },
    ];
    for case in cases {
        let (status, body) = refused(pki.certify_reader(&case).await);
        assert_eq!(status, 400, "{body}");
        assert!(body.contains("reader.request"), "{body}");
    }
    let (status, _) = refused(pki.revoke_reader("00ff").await);
    assert_eq!(status, 404);
    let stranger = ProfessionalClient::new(&server.url(), "not the key");
    let (status, _) = refused(stranger.certify_reader(&request(&key)).await);
    assert_eq!(status, 401);
}
