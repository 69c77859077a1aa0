//! The exposure-notification key server over real HTTP on loopback: a laboratory reports a
//! positive test, the person uploads their keys with the one-time code, the day's signed file
//! carries them padded with fake keys (today's key held back until its day is over) and
//! verifies with the server's key; bad uploads are refused without spending the code; the
//! code works once; day files are cached and answer `304` when unchanged.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use carnet_exposure::keyfile::{KeyFile, VerificationKey};
use carnet_exposure::keys::{TemporaryExposureKey, interval_number};
use carnet_server::{ProfessionalClient, RunningServer, ServerConfig, key_server_verification_key};
use serde_json::{Value, json};

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The key of the day `days_ago` days before today.
fn key(days_ago: i64, seed: u8) -> TemporaryExposureKey {
    let interval = interval_number(now_secs() - days_ago * 86_400).unwrap();
    TemporaryExposureKey::new(&[seed; 16], interval - interval % 144, 144).unwrap()
}

fn uploaded(key: &TemporaryExposureKey) -> Value {
    json!({
        "key": STANDARD.encode(key.bytes()),
        "rolling_start": key.rolling_start,
        "rolling_period": key.rolling_period,
    })
}

fn today() -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(now_secs())
        .unwrap()
        .date();
    date.to_string()
}

async fn get_json(http: &reqwest::Client, url: String) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn a_positive_persons_keys_are_published_in_the_days_signed_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = RunningServer::start(ServerConfig::at(dir.path()))
        .await
        .unwrap();
    let base = format!("http://{}", server.address());
    let laboratory = ProfessionalClient::new(&base, server.professional_key());
    let http = reqwest::Client::new();
    let upload = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/v1/keys/upload");
        async move {
            let response = http.post(url).json(&body).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };

    // Only a laboratory (professionals' key) reports tests.
    let stranger = ProfessionalClient::new(&base, "not the key");
    assert!(stranger.report_positive_test(None).await.is_err());
    let onset = time::OffsetDateTime::from_unix_timestamp(now_secs() - 2 * 86_400)
        .unwrap()
        .date()
        .to_string();
    let code = laboratory
        .report_positive_test(Some(&onset))
        .await
        .unwrap()
        .code;
    assert!(
        laboratory
            .report_positive_test(Some("2020-01-01"))
            .await
            .is_err()
    );
    assert!(
        laboratory
            .report_positive_test(Some("yesterday"))
            .await
            .is_err()
    );

    // Bad uploads are refused whole, and the code is not spent.
    let mut short = uploaded(&key(1, 1));
    short["key"] = json!(STANDARD.encode([1u8; 15]));
    let mut no_period = uploaded(&key(1, 1));
    no_period["rolling_period"] = json!(0);
    let future = TemporaryExposureKey::new(&[2; 16], key(0, 2).rolling_start + 144, 144).unwrap();
    let too_many: Vec<Value> = (0..31)
        .map(|seed| uploaded(&key(seed % 10, seed as u8)))
        .collect();
    for (keys, expected) in [
        (vec![short], "keys.key"),
        (vec![no_period], "keys.key"),
        (vec![uploaded(&future)], "keys.future"),
        (vec![uploaded(&key(15, 3))], "keys.old"),
        (
            vec![uploaded(&key(1, 4)), uploaded(&key(1, 4))],
            "keys.duplicate",
        ),
        (too_many, "keys.count"),
        (Vec::new(), "keys.count"),
    ] {
        let (status, answer) = upload(json!({ "code": code, "keys": keys })).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some(expected)));
    }
    let (status, _) = upload(json!({ "code": code, "keys": "garbage" })).await;
    assert!((400..500).contains(&status));
    let (status, answer) = upload(json!({ "code": "WRONG", "keys": [uploaded(&key(1, 1))] })).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("keys.code")));

    // The good upload: two past days and today's key (still in use).
    let real = [key(1, 11), key(3, 13), key(0, 10)];
    let (status, answer) =
        upload(json!({ "code": code, "keys": real.iter().map(uploaded).collect::<Vec<_>>() }))
            .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 3);
    // The code works once.
    let (status, _) = upload(json!({ "code": code, "keys": [uploaded(&key(2, 12))] })).await;
    assert_eq!(status, 403);

    let index = get_json(&http, format!("{base}/v1/keys/index")).await;
    assert_eq!(index["days"], json!([today()]));
    let day_url = format!("{base}/v1/keys/days/{}", today());
    let response = http.get(&day_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let zip = response.bytes().await.unwrap().to_vec();

    // The file verifies with the server's key, from its data directory and from its route.
    let trusted = key_server_verification_key(dir.path()).unwrap();
    let served = get_json(&http, format!("{base}/v1/keys/verification-key")).await;
    let spki = STANDARD
        .decode(served["public_key_spki"].as_str().unwrap())
        .unwrap();
    let from_route = VerificationKey::from_spki_der(
        served["id"].as_str().unwrap(),
        served["version"].as_str().unwrap(),
        &spki,
    )
    .unwrap();
    assert_eq!(from_route, trusted);
    let file = KeyFile::open(Cursor::new(zip.as_slice()), &[trusted]).unwrap();
    assert_eq!(file.batch().region, "FR");
    let keys: Vec<_> = file.keys().collect::<Result<_, _>>().unwrap();
    assert!((13..=17).contains(&keys.len()), "padded: {}", keys.len());
    for held in &real[..2] {
        let published = keys.iter().find(|key| key.key == *held).unwrap();
        assert_eq!(published.report_type, 1);
        let key_day = i64::from(held.rolling_start / 144);
        let onset_day = (now_secs() - 2 * 86_400).div_euclid(86_400);
        assert_eq!(
            published.days_since_onset_of_symptoms,
            Some((key_day - onset_day) as i32)
        );
    }
    assert!(
        keys.iter().all(|published| published.key != real[2]),
        "today's key waits for tomorrow's file"
    );
    // Padding looks like whole days of the last two weeks.
    assert!(keys.iter().all(|key| key.key.rolling_period == 144));

    // Cached: the same ETag answers 304; unknown and malformed days.
    let again = http
        .get(&day_url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let status = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(format!("{base}/v1/keys/days/2020-01-01")).await, 404);
    assert_eq!(status(format!("{base}/v1/keys/days/not-a-day")).await, 400);
    server.stop().await.unwrap();
}
