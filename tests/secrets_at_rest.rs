//! Secrets at rest: the database never holds a phrase, seed or webhook secret in the clear, and
//! the gateway refuses to start without the master key or with another one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

mod common;

use common::{master_key, spawn, start_in, test_settings};
use serde_json::json;
use session_gateway::app::StartError;
use session_gateway::store::StoreError;

fn data_dir_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

#[tokio::test]
async fn phrases_seeds_and_webhook_secrets_are_encrypted_on_disk() {
    let mut gw = spawn().await;
    let (id, phrase) = gw.create_account().await;
    let hook = gw
        .admin(
            "POST",
            "/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/x"})),
        )
        .await;
    let secret = hook.body["secret"].as_str().unwrap().to_owned();
    gw.stop().await;

    let seed = hex::decode(phrase.strip_prefix("test ").unwrap()).unwrap();
    assert!(
        data_dir_contains(gw.dir.path(), id.as_bytes()),
        "sanity: the scan sees plaintext"
    );
    assert!(
        !data_dir_contains(gw.dir.path(), phrase.as_bytes()),
        "phrase on disk"
    );
    assert!(!data_dir_contains(gw.dir.path(), &seed), "seed on disk");
    assert!(
        !data_dir_contains(gw.dir.path(), secret.as_bytes()),
        "webhook secret on disk"
    );

    // The right key opens everything again after a restart.
    let restarted = start_in(gw.dir.path(), test_settings(&gw.master))
        .await
        .unwrap();
    let reply = reqwest::Client::new()
        .get(format!("{}/v1/accounts/{id}/phrase", restarted.base_url()))
        .bearer_auth(common::ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(reply["phrase"], phrase.as_str());
    restarted.stop().await;
}

#[tokio::test]
async fn a_wrong_or_missing_master_key_refuses_to_start() {
    let mut gw = spawn().await;
    gw.create_account().await;
    gw.stop().await;

    let wrong = start_in(gw.dir.path(), test_settings(&master_key())).await;
    assert!(
        matches!(wrong, Err(StartError::Store(StoreError::WrongMasterKey))),
        "{:?}",
        wrong.err()
    );

    let mut missing = test_settings(&gw.master);
    missing.security.master_key = None;
    let result = start_in(gw.dir.path(), missing).await;
    assert!(matches!(result, Err(StartError::MissingMasterKey)));

    let result = start_in(gw.dir.path(), test_settings("c2hvcnQ=")).await;
    assert!(matches!(result, Err(StartError::BadMasterKey(_))));

    let mut no_admin = test_settings(&gw.master);
    no_admin.api.admin_key = None;
    assert!(matches!(
        start_in(gw.dir.path(), no_admin).await,
        Err(StartError::MissingAdminKey)
    ));
}
