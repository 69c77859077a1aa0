//! The network layer against the reference server on loopback: enrolment, signed requests,
//! conditional GETs, retries through a server restart, refusals not retried.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Duration, Instant};

use carnet_net::{Client, Credential, NetConfig, NetError, RetryPolicy};
use carnet_platform::MemoryKeyVault;
use carnet_testing::server::TestServer;
use reqwest::Method;

#[tokio::test]
async fn a_device_enrols_signs_its_requests_and_reads_lists_conditionally() {
    let server = TestServer::start().await;
    let client = Client::new(NetConfig::new(server.url())).unwrap();
    let vault = MemoryKeyVault::new();
    assert!(Credential::load(&vault).unwrap().is_none());
    let wrong = client.enrol(&vault, "not the code").await.unwrap_err();
    assert!(
        matches!(wrong, NetError::Refused { status: 401, ref code, .. } if code == "enrol.code"),
        "{wrong:?}"
    );
    let credential = client
        .enrol(&vault, carnet_testing::server::TEST_ENROLMENT_CODE)
        .await
        .unwrap();
    let reloaded = Credential::load(&vault).unwrap().unwrap();
    assert_eq!(reloaded.user_id(), credential.user_id());

    let feed = client
        .signed(&reloaded, Method::GET, "/v1/me/changes?since=0", Vec::new())
        .await
        .unwrap();
    assert_eq!(feed.status, 200);
    let feed: serde_json::Value = serde_json::from_slice(&feed.body).unwrap();
    assert_eq!(feed["changes"].as_array().unwrap().len(), 0);

    let profile = br#"{"resource": {"resourceType": "Condition"}, "base_version": null, "updated_millis": 1}"#.to_vec();
    let stored = client
        .signed(
            &credential,
            Method::PUT,
            "/v1/me/profile/c1",
            profile.clone(),
        )
        .await
        .unwrap();
    assert_eq!(stored.status, 200);
    // The same write again (a retry after a lost answer) is accepted once.
    let again = client
        .signed(&credential, Method::PUT, "/v1/me/profile/c1", profile)
        .await
        .unwrap();
    assert_eq!(again.body, stored.body);

    let list = client
        .get_conditional("/v1/lists/trust", None)
        .await
        .unwrap();
    assert_eq!(list.status, 200);
    let etag = list.etag.clone().unwrap();
    let cached = client
        .get_conditional("/v1/lists/trust", Some(&etag))
        .await
        .unwrap();
    assert_eq!((cached.status, cached.body.len()), (304, 0));

    // A refusal is not retried: it comes back at once.
    let started = Instant::now();
    let refused = client
        .signed(&credential, Method::PUT, "/v1/me/profile/c2", b"{".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            NetError::Refused {
                status: 400..=499,
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    server.stop().await;
}

#[tokio::test]
async fn requests_retry_with_backoff_until_the_server_is_back() {
    let first = TestServer::start().await;
    let mut config = NetConfig::new(first.url());
    config.retry = RetryPolicy {
        attempts: 40,
        first_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    };
    let client = Client::new(config.clone()).unwrap();
    let vault = MemoryKeyVault::new();
    let credential = client
        .enrol(&vault, carnet_testing::server::TEST_ENROLMENT_CODE)
        .await
        .unwrap();
    let stopped = first.stop().await;

    // Down for good with few attempts: offline, after the retries.
    let mut brief = config.clone();
    brief.retry = RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    };
    let offline = Client::new(brief)
        .unwrap()
        .signed(&credential, Method::GET, "/v1/me/changes", Vec::new())
        .await;
    assert!(matches!(offline, Err(NetError::Offline(_))), "{offline:?}");

    // Back after half a second on the same address and data: the retrying request lands.
    let restart = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopped.start().await
    });
    let started = Instant::now();
    let response = client
        .signed(&credential, Method::GET, "/v1/me/changes", Vec::new())
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "it waited for the server"
    );
    restart.await.unwrap().stop().await;
}
