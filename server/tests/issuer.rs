//! The ApCV issuer over real HTTP on loopback: the caisse registers a card, a phone enrols it
//! (nonce, proof of possession, activation code) and gets one credential per person, which a
//! reader trusting the issuer's root accepts; rights refresh revokes what it replaces; a lost
//! phone revokes everything and locks the account; wrong codes lock the card; hostile
//! requests are refused with their codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_identity::apcv::{Credential, ENROLMENT_PROOF_CONTEXT};
use carnet_identity::presentation::{Binding, DeviceSigner};
use carnet_identity::reader::{CheckTime, Reader, Refusal};
use carnet_identity::trust::IssuerTrust;
use carnet_net::{Client, NetConfig, NetError};
use carnet_platform::MemoryKeyVault;
use carnet_server::{DepositError, ProfessionalClient};
use carnet_testing::family;
use carnet_testing::server::TestServer;
use carnet_testing::signers::Ed25519Key;
use carnet_wire::issuer::{CardEnrolled, CardEnrolment, IssuedCredential, IssuedCredentials};
use reqwest::Method;
use serde_json::{Value, json};

/// The enrolment request for `phone` (a fresh nonce from the server); the account fields are
/// filled by [`enrol`].
async fn enrolment(client: &Client, phone: &Ed25519Key, nir: &str, code: &str) -> CardEnrolment {
    let start = client
        .post_once("/v1/issuer/enrolment/start", &json!({}))
        .await
        .unwrap();
    let start: Value = serde_json::from_slice(&start.body).unwrap();
    let nonce = STANDARD.decode(start["nonce"].as_str().unwrap()).unwrap();
    let cose_key = carnet_codec::cbor::to_vec(&phone.device_key().to_cose_key()).unwrap();
    let proof = phone
        .sign(&[ENROLMENT_PROOF_CONTEXT, &nonce].concat())
        .unwrap();
    CardEnrolment {
        nir: nir.to_owned(),
        code: code.to_owned(),
        nonce: STANDARD.encode(&nonce),
        device_key: STANDARD.encode(cose_key),
        proof: STANDARD.encode(proof),
        account_key: String::new(),
        account_proof: String::new(),
    }
}

/// Sends `request` with a new account key's proof.
async fn enrol(
    client: &Client,
    vault: &MemoryKeyVault,
    request: CardEnrolment,
) -> Result<(carnet_net::Credential, CardEnrolled), NetError> {
    client
        .enrol_with(vault, "/v1/issuer/enrolment", |account| CardEnrolment {
            account_key: account.account_key,
            account_proof: account.account_proof,
            ..request
        })
        .await
}

fn credentials(issued: &[IssuedCredential]) -> Vec<Credential> {
    issued
        .iter()
        .map(|c| Credential::from_cbor(&STANDARD.decode(&c.credential).unwrap()).unwrap())
        .collect()
}

fn refusal(error: NetError) -> (u16, String) {
    match error {
        NetError::Refused { status, code, .. } => (status, code),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A server on loopback (accounts by card enrolment only) with the caisse's and a phone's
/// clients.
struct Setup {
    server: TestServer,
    base: String,
    caisse: ProfessionalClient,
    client: Client,
}

impl Setup {
    async fn start() -> Self {
        let server = TestServer::start_with(|config| config.test_enrolment_code = None).await;
        let base = server.url();
        Setup {
            caisse: ProfessionalClient::new(&base, server.professional_key()),
            client: Client::new(NetConfig::new(base.clone())).unwrap(),
            base,
            server,
        }
    }
}

/// The status and code of a refused enrolment.
async fn refused_enrolment(client: &Client, request: CardEnrolment) -> (u16, String) {
    let error = enrol(client, &MemoryKeyVault::new(), request)
        .await
        .unwrap_err();
    refusal(error)
}

#[tokio::test]
async fn a_card_is_enrolled_refreshed_and_revoked() {
    let Setup {
        server,
        base,
        caisse,
        client,
    } = Setup::start().await;
    let http = reqwest::Client::new();

    // Registration: bad claims and a second card for the same NIR are refused.
    let mut bad = family();
    bad[1].beneficiary_rank = 3;
    assert!(matches!(
        caisse.register_card(&bad).await,
        Err(DepositError::Refused { status: 400, .. })
    ));
    let mut bad = family();
    bad[0].amo_valid_until = "2025-01-01".into();
    assert!(matches!(
        caisse.register_card(&bad).await,
        Err(DepositError::Refused { status: 400, .. })
    ));
    let registered = caisse.register_card(&family()).await.unwrap();
    let code = registered.activation_code.clone();
    assert!(matches!(
        caisse.register_card(&family()).await,
        Err(DepositError::Refused { status: 409, .. })
    ));
    let stranger = ProfessionalClient::new(&base, "not the key");
    assert!(matches!(
        stranger.register_card(&family()).await,
        Err(DepositError::Refused { status: 401, .. })
    ));

    // Enrolment: a proof over another nonce, a nonce used twice, a wrong code.
    let marie = Ed25519Key::generate();
    let nir = "253072B07300470";
    let vault = MemoryKeyVault::new();
    let mut forged = enrolment(&client, &marie, nir, &code).await;
    forged.proof = STANDARD.encode(marie.sign(b"another nonce").unwrap());
    assert_eq!(
        refused_enrolment(&client, forged).await,
        (400, "enrol.proof".into())
    );
    let wrong = enrolment(&client, &marie, nir, "WRONGCODE").await;
    assert_eq!(
        refused_enrolment(&client, wrong.clone()).await,
        (401, "enrol.code".into())
    );
    assert_eq!(
        refused_enrolment(&client, wrong).await,
        (401, "enrol.nonce".into()),
        "a nonce serves once"
    );

    let request = enrolment(&client, &marie, nir, &code).await;
    let (account, answer) = enrol(&client, &vault, request).await.unwrap();
    assert_eq!(account.user_id(), registered.user_id);
    let first = credentials(&answer.credentials);
    assert_eq!(first.len(), 2, "one credential per person on the card");
    let again = enrolment(&client, &marie, nir, &code).await;
    assert_eq!(
        refused_enrolment(&client, again).await,
        (403, "enrol.locked".into()),
        "an activation code serves once"
    );

    // A reader trusting the root accepts them, with the status list it downloaded.
    let root = http
        .get(format!("{base}/v1/issuer/root"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut reader = Reader::new(IssuerTrust::new(&[root.to_vec()]).unwrap());
    let now = carnet_server_now();
    let status = client
        .get_conditional("/v1/issuer/status", None)
        .await
        .unwrap();
    reader.update_status(&status.body, now).unwrap().unwrap();
    let unchanged = client
        .get_conditional("/v1/issuer/status", status.etag.as_deref())
        .await
        .unwrap();
    assert_eq!(unchanged.status, 304);
    let check = |reader: &mut Reader, credential: &Credential| {
        let handover = Binding::Counter { slot: now / 30 };
        let response = credential
            .without_certificate()
            .present(&["given_names", "ins_matricule"], &handover, &marie)
            .unwrap();
        reader
            .check(
                &response,
                &handover,
                CheckTime {
                    now,
                    date_of_care: None,
                },
            )
            .unwrap()
    };
    let child = check(&mut reader, &first[1]).unwrap();
    assert_eq!(child.text("given_names"), Some("LEA"));
    assert_eq!(child.text("ins_matricule"), Some("216087511603014"));

    // The caisse extends the rights; a rights refresh (a signed POST) brings them: new
    // credentials, the old ones revoked.
    let mut extended = family();
    for person in &mut extended {
        person.amo_valid_until = "2028-12-31".into();
    }
    let mut wrong_card = extended.clone();
    wrong_card[0].given_names = String::new();
    assert!(matches!(
        caisse.update_card(nir, &wrong_card).await,
        Err(DepositError::Refused { status: 400, .. })
    ));
    assert!(matches!(
        caisse.update_card("180127512345678", &extended).await,
        Err(DepositError::Refused { status: 400, .. })
    ));
    caisse.update_card(nir, &extended).await.unwrap();
    let refreshed = client
        .signed(&account, Method::POST, "/v1/me/issuer/rights", Vec::new())
        .await
        .unwrap();
    let refreshed = credentials(
        &refreshed
            .json::<IssuedCredentials>("rights")
            .unwrap()
            .credentials,
    );
    assert_eq!(refreshed.len(), 2);
    let until = refreshed[1]
        .items()
        .unwrap()
        .into_iter()
        .find(|item| item.element_identifier == "amo_valid_until")
        .unwrap();
    assert_eq!(
        until.element_value,
        ciborium::Value::Tag(1004, Box::new("2028-12-31".into())),
        "the refreshed credential carries the extended rights"
    );
    let status = client
        .get_conditional("/v1/issuer/status", status.etag.as_deref())
        .await
        .unwrap();
    assert_eq!(
        status.status, 200,
        "a new list once credentials were revoked"
    );
    reader.update_status(&status.body, now).unwrap().unwrap();
    assert_eq!(
        check(&mut reader, &first[0]).map(drop),
        Err(Refusal::Revoked)
    );
    assert!(check(&mut reader, &refreshed[0]).is_ok());

    // The phone is lost: everything revoked, the account's requests refused, a new code.
    let lost = caisse.report_device_lost(nir).await.unwrap();
    let status = client
        .get_conditional("/v1/issuer/status", None)
        .await
        .unwrap();
    reader.update_status(&status.body, now).unwrap().unwrap();
    assert_eq!(
        check(&mut reader, &refreshed[1]).map(drop),
        Err(Refusal::Revoked)
    );
    let error = client
        .signed(&account, Method::GET, "/v1/me/changes?since=0", Vec::new())
        .await
        .unwrap_err();
    assert_eq!(refusal(error).0, 401);
    let new_phone = Ed25519Key::generate();
    let request = enrolment(&client, &new_phone, nir, &lost.activation_code).await;
    let (again, answer) = enrol(&client, &MemoryKeyVault::new(), request)
        .await
        .unwrap();
    assert_eq!(
        again.user_id(),
        account.user_id(),
        "the same health space on the new phone"
    );
    assert_eq!(credentials(&answer.credentials).len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn wrong_codes_lock_the_card() {
    let Setup {
        server,
        caisse,
        client,
        ..
    } = Setup::start().await;
    let code = caisse
        .register_card(&family())
        .await
        .unwrap()
        .activation_code;
    let device = Ed25519Key::generate();
    let nir = "253072B07300470";
    for _ in 0..5 {
        let fields = enrolment(&client, &device, nir, "GUESS").await;
        assert_eq!(
            refused_enrolment(&client, fields).await,
            (401, "enrol.code".into())
        );
    }
    let fields = enrolment(&client, &device, nir, &code).await;
    assert_eq!(
        refused_enrolment(&client, fields).await,
        (403, "enrol.locked".into()),
        "the right code after five wrong ones"
    );
    // An unknown card answers like a wrong code; malformed fields are 400s.
    let fields = enrolment(&client, &device, "180127512345678", &code).await;
    assert_eq!(
        refused_enrolment(&client, fields).await,
        (401, "enrol.code".into())
    );
    let mut fields = enrolment(&client, &device, nir, &code).await;
    fields.device_key = STANDARD.encode([0xa1, 0x01, 0x02]);
    assert_eq!(
        refused_enrolment(&client, fields).await,
        (400, "enrol.device_key".into())
    );
    server.stop().await;
}

fn carnet_server_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
