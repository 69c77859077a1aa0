//! The reference server over real HTTP on loopback: enrolment, signed requests, the health
//! space, the DCC lists, and hostile requests (each refused with the right status, nothing
//! written).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_server::{RunningServer, ServerConfig};
use carnet_wire::signing_string;
use reqwest::{Client, Method, StatusCode};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

const CODE: &str = carnet_server::TEST_ENROLMENT_CODE;

struct Harness {
    server: RunningServer,
    client: Client,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn start(requests_per_minute: u32, max_body_bytes: usize) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let config = ServerConfig {
            data_dir: dir.path().to_path_buf(),
            requests_per_minute,
            max_body_bytes,
            ..ServerConfig::with_test_enrolment()
        };
        let server = RunningServer::start(config).await.unwrap();
        assert!(server.address().ip().is_loopback());
        Harness {
            server,
            client: Client::new(),
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.address())
    }

    async fn enrol(&self) -> Device {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let public = key.public_key().as_ref().to_vec();
        let proof = key.sign(&rng, &public).unwrap();
        let response = self
            .client
            .post(self.url("/v1/enrol/test"))
            .json(&json!({ "code": CODE, "account_key": STANDARD.encode(&public), "account_proof": STANDARD.encode(proof.as_ref()) }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        Device {
            user: body["user_id"].as_str().unwrap().into(),
            token: body["token"].as_str().unwrap().into(),
            key,
        }
    }

    /// A device-signed request; returns the status and the body as JSON (or Null).
    async fn call(
        &self,
        device: &Device,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let headers = device.sign(method.as_str(), path, &body, now_millis());
        self.send(method, path, body, &headers).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        headers: &[(String, String)],
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .body(body)
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn professional(&self, path: &str, body: &Value, key: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The body of an unauthenticated GET.
    async fn get_bytes(&self, path: &str) -> Vec<u8> {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.bytes().await.unwrap().to_vec()
    }

    /// A professional's deposit (`documents` or `messages`) for `user`.
    async fn deposit_for(&self, user: &str, what: &str, body: &Value, key: &str) -> StatusCode {
        self.professional(&format!("/v1/pro/patients/{user}/{what}"), body, key)
            .await
            .0
    }

    async fn feed(&self, device: &Device) -> Vec<Value> {
        let (status, body) = self
            .call(device, Method::GET, "/v1/me/changes?since=0", Vec::new())
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["changes"].as_array().unwrap().clone()
    }
}

struct Device {
    user: String,
    token: String,
    key: EcdsaKeyPair,
}

impl Device {
    fn sign(&self, method: &str, path: &str, body: &[u8], date: i64) -> Vec<(String, String)> {
        let mut nonce = [0u8; 16];
        ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut nonce).unwrap();
        let nonce = hex::encode(nonce);
        let message = signing_string(method, path, &date.to_string(), &nonce, body);
        let signature = self
            .key
            .sign(&SystemRandom::new(), message.as_bytes())
            .unwrap();
        vec![
            ("authorization".into(), format!("Carnet {}", self.token)),
            ("carnet-date".into(), date.to_string()),
            ("carnet-nonce".into(), nonce),
            (
                "carnet-signature".into(),
                STANDARD.encode(signature.as_ref()),
            ),
        ]
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn deposit(id: &str, content: &[u8]) -> Value {
    json!({
        "id": id,
        "metadata": { "title": "Compte rendu opératoire", "type": { "system": "http://loinc.org", "code": "34874-8" } },
        "content_base64": STANDARD.encode(content),
    })
}

#[tokio::test]
async fn professionals_deposit_and_devices_sync_read_and_write() {
    let h = Harness::start(10_000, 1 << 20).await;
    let key = h.server.professional_key().to_owned();
    let device = h.enrol().await;
    let pdf = b"%PDF-1.7\ncompte rendu".to_vec();
    let documents = format!("/v1/pro/patients/{}/documents", device.user);
    let (status, first) = h
        .professional(&documents, &deposit("cr-2026-001", &pdf), &key)
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    // A retried deposit is the same item; a different file under the same id is refused.
    let (status, again) = h
        .professional(&documents, &deposit("cr-2026-001", &pdf), &key)
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &first));
    let (status, _) = h
        .professional(&documents, &deposit("cr-2026-001", b"%PDF-other"), &key)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let letter = json!({ "id": "msg-1", "message": {
        "sender": { "name": "Dr Marie Curie", "rpps": "10003456789" }, "subject": "Résultats",
        "body": "Normaux.", "reply_allowed": true,
        "attachments": [{ "name": "cr.pdf", "content_base64": STANDARD.encode(&pdf) }],
    }});
    let status = h.deposit_for(&device.user, "messages", &letter, &key).await;
    assert_eq!(status, StatusCode::OK);

    let feed = h.feed(&device).await;
    assert_eq!(
        feed.iter()
            .map(|c| c["kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["document", "message"]
    );
    let sha = feed[0]["body"]["blob"].as_str().unwrap().to_owned();
    let response = h
        .client
        .get(h.url(&format!("/v1/me/blobs/{sha}")))
        .headers(headers(&device.sign(
            "GET",
            &format!("/v1/me/blobs/{sha}"),
            b"",
            now_millis(),
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().to_vec(), pdf);
    let (status, _) = h
        .call(
            &device,
            Method::GET,
            &format!("/v1/me/changes?since={}", feed[1]["seq"]),
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Profile: last writer wins, the loser kept.
    let put = |resource: &str, base: Option<i64>, at: i64| {
        serde_json::to_vec(&json!({ "resource": { "resourceType": "AllergyIntolerance", "code": { "text": resource } }, "base_version": base, "updated_millis": at })).unwrap()
    };
    let path = "/v1/me/profile/allergy-1";
    let (status, v1) = h
        .call(&device, Method::PUT, path, put("Arachide", None, 100))
        .await;
    assert_eq!((status, v1["version"].as_i64()), (StatusCode::OK, Some(1)));
    let (status, v2) = h
        .call(&device, Method::PUT, path, put("Arachides", Some(1), 200))
        .await;
    assert_eq!((status, v2["version"].as_i64()), (StatusCode::OK, Some(2)));
    // Another device edited version 1 earlier (t=150): it loses, and is told the current one.
    let (status, current) = h
        .call(&device, Method::PUT, path, put("Noix", Some(1), 150))
        .await;
    assert_eq!(
        (status, current["body"]["code"]["text"].as_str()),
        (StatusCode::CONFLICT, Some("Arachides"))
    );
    // An edit of version 1 made later (t=300) wins over version 2.
    let (status, v3) = h
        .call(
            &device,
            Method::PUT,
            path,
            put("Arachide et noix", Some(1), 300),
        )
        .await;
    assert_eq!((status, v3["version"].as_i64()), (StatusCode::OK, Some(3)));
    let (_, history) = h
        .call(
            &device,
            Method::GET,
            "/v1/me/profile/allergy-1/history",
            Vec::new(),
        )
        .await;
    let outcomes: Vec<(i64, &str)> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes, [(1, "replaced"), (2, "lost"), (2, "lost")]);
    let (status, item) = h
        .call(
            &device,
            Method::GET,
            "/v1/me/items/profile/allergy-1",
            Vec::new(),
        )
        .await;
    assert_eq!(
        (status, item["version"].as_i64()),
        (StatusCode::OK, Some(3))
    );
    h.server.stop().await.unwrap();
}

fn headers(pairs: &[(String, String)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

#[tokio::test]
async fn the_dcc_lists_are_signed_and_cached_by_etag() {
    let h = Harness::start(10_000, 1 << 20).await;
    let anchor = h.get_bytes("/v1/lists/anchor").await;
    // A DER SubjectPublicKeyInfo: the SEC1 point is its last 65 bytes.
    assert_eq!(anchor.len(), 91);
    let anchor = anchor[26..].to_vec();
    let response = h.client.get(h.url("/v1/lists/trust")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let bytes = response.bytes().await.unwrap();
    let list = carnet_certs::TrustList::open(
        &bytes,
        &carnet_codec::cose::VerifyingKey::EcdsaP256(anchor.clone()),
    )
    .unwrap();
    assert!(list.header().version > 0);
    let cached = h
        .client
        .get(h.url("/v1/lists/trust"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let key = carnet_codec::cose::VerifyingKey::EcdsaP256(anchor);
    let revocation = h.get_bytes("/v1/lists/revocation").await;
    carnet_certs::RevocationList::open(&revocation, &key).unwrap();
    // Business rules and value sets, seeded with the gateway's last ones.
    let rules = carnet_certs::RuleList::open(&h.get_bytes("/v1/lists/rules").await, &key).unwrap();
    assert!(rules.rules().iter().any(|r| r.identifier == "TR-FR-0002"));
    assert_eq!(rules.header().version, list.header().version);
    let sets =
        carnet_certs::ValueSets::open(&h.get_bytes("/v1/lists/valuesets").await, &key).unwrap();
    assert_eq!(
        sets.display_field("v", "mp", "EU/1/20/1528"),
        Some("Comirnaty")
    );
    for unknown in ["/v1/lists/other", "/v1/issuer/enrol", "/v1/keys/exports"] {
        let response = h.client.get(h.url(unknown)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{unknown}");
    }
}

#[tokio::test]
async fn hostile_requests_are_refused_and_write_nothing() {
    let h = Harness::start(10_000, 64 * 1024).await;
    let key = h.server.professional_key().to_owned();
    let alice = h.enrol().await;
    let mallory = h.enrol().await;
    let (status, _) = h
        .professional(
            &format!("/v1/pro/patients/{}/documents", alice.user),
            &deposit("d1", b"%PDF-1"),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let alice_feed = h.feed(&alice).await;
    let profile = serde_json::to_vec(&json!({ "resource": { "resourceType": "Condition" }, "base_version": null, "updated_millis": 1 })).unwrap();

    // Oversized bodies.
    let (status, _) = h
        .call(
            &alice,
            Method::PUT,
            "/v1/me/profile/big",
            vec![b' '; 100 * 1024],
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let big = deposit("d2", &vec![0u8; 100 * 1024]);
    let status = h.deposit_for(&alice.user, "documents", &big, &key).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Malformed JSON, and JSON of the wrong shape.
    let deep = format!(
        "{{\"resource\": {}{}, \"updated_millis\": 1}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let malformed: [(&str, Vec<u8>); 4] = [
        ("/v1/me/profile/p1", b"{\"resource\": [".to_vec()),
        (
            "/v1/me/profile/p1",
            b"{\"resource\": 3, \"updated_millis\": 1}".to_vec(),
        ),
        ("/v1/me/profile/p1", deep.into_bytes()),
        ("/v1/me/profile/..%2F..%2Fx", profile.clone()),
    ];
    for (path, body) in malformed {
        let (status, _) = h.call(&alice, Method::PUT, path, body).await;
        assert!(status.is_client_error(), "{path}: {status}");
    }

    // Wrong credentials.
    let path = "/v1/me/profile/p1";
    let mut forged = alice.sign("PUT", path, &profile, now_millis());
    forged[0].1 = format!("Carnet {}", mallory.token);
    let (status, body) = h.send(Method::PUT, path, profile.clone(), &forged).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.signature")),
        "another user's token with Alice's signature"
    );
    let mut tampered_token = alice.sign("PUT", path, &profile, now_millis());
    tampered_token[0].1.push('x');
    assert_eq!(
        h.send(Method::PUT, path, profile.clone(), &tampered_token)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let stale = alice.sign("PUT", path, &profile, now_millis() - 10 * 60 * 1000);
    let (status, body) = h.send(Method::PUT, path, profile.clone(), &stale).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.date"))
    );
    let signed_for_other_body = alice.sign("PUT", path, b"{}", now_millis());
    assert_eq!(
        h.send(Method::PUT, path, profile.clone(), &signed_for_other_body)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.send(Method::GET, "/v1/me/changes", Vec::new(), &[])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = h
        .professional(
            &format!("/v1/pro/patients/{}/documents", alice.user),
            &deposit("d3", b"%PDF-1"),
            "not-the-key",
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let wrong_code = h
        .client
        .post(h.url("/v1/enrol/test"))
        .json(&json!({ "code": "guess", "account_key": "", "account_proof": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_code.status(), StatusCode::UNAUTHORIZED);

    // A replayed request: the first goes through, the same bytes again are refused.
    let once = alice.sign("PUT", "/v1/me/profile/p2", &profile, now_millis());
    assert_eq!(
        h.send(Method::PUT, "/v1/me/profile/p2", profile.clone(), &once)
            .await
            .0,
        StatusCode::OK
    );
    let (status, body) = h
        .send(Method::PUT, "/v1/me/profile/p2", profile.clone(), &once)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("auth.replayed"))
    );

    // Another user's ids: not found, and nothing of Alice's shows through.
    let document = &alice_feed[0];
    let sha = document["body"]["blob"].as_str().unwrap();
    assert_eq!(
        h.call(
            &mallory,
            Method::GET,
            &format!("/v1/me/blobs/{sha}"),
            Vec::new()
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.call(
            &mallory,
            Method::GET,
            "/v1/me/items/document/d1",
            Vec::new()
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert!(h.feed(&mallory).await.is_empty());
    let (status, _) = h
        .professional(
            "/v1/pro/patients/0123456789abcdef0123456789abcdef/documents",
            &deposit("d4", b"%PDF-1"),
            &key,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Nothing written by any refused request: Alice has her document and the one accepted
    // profile item, Mallory nothing.
    let kinds: Vec<String> = h
        .feed(&alice)
        .await
        .iter()
        .map(|c| {
            format!(
                "{}/{}",
                c["kind"].as_str().unwrap(),
                c["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kinds, ["document/d1", "profile/p2"]);
}

#[tokio::test]
async fn clients_past_their_quota_are_slowed_down() {
    let h = Harness::start(5, 1 << 20).await;
    let device = h.enrol().await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            h.call(&device, Method::GET, "/v1/me/changes", Vec::new())
                .await
                .0,
        );
    }
    assert_eq!(statuses[..5], [StatusCode::OK; 5]);
    assert_eq!(statuses[6], StatusCode::TOO_MANY_REQUESTS);
    // Another user has a quota of their own.
    let other = h.enrol().await;
    assert_eq!(
        h.call(&other, Method::GET, "/v1/me/changes", Vec::new())
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn enrolment_without_a_card_is_off_unless_configured() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let server = RunningServer::start(ServerConfig::at(dir.path()))
        .await
        .unwrap();
    let response = Client::new()
        .post(format!("http://{}/v1/enrol/test", server.address()))
        .json(&json!({ "code": CODE, "account_key": "", "account_proof": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.stop().await.unwrap();
}
