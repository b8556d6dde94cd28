//! Test vectors from `tests/vectors/*.json`, each with its provenance. A missing file fails the
//! build (`include_str!`), never skips.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed setup step should fail loudly

use serde::Deserialize;
use session_gateway::webhooks::signature;

#[derive(Deserialize)]
struct Source {
    repo: String,
    file: String,
}

#[derive(Deserialize)]
struct WebhookVector {
    name: String,
    source: Source,
    secret: String,
    id: String,
    timestamp: i64,
    body: String,
    signature: String,
}

#[derive(Deserialize)]
struct WebhookVectors {
    vectors: Vec<WebhookVector>,
}

#[test]
fn standard_webhooks_signatures() {
    let file: WebhookVectors = serde_json::from_str(include_str!("vectors/webhooks.json")).unwrap();
    assert!(!file.vectors.is_empty());
    for v in file.vectors {
        assert!(!v.source.repo.is_empty() && !v.source.file.is_empty());
        let body = v.body.as_bytes();
        assert_eq!(
            signature::sign(&v.secret, &v.id, v.timestamp, body).unwrap(),
            v.signature,
            "{}",
            v.name
        );
        assert!(signature::verify(
            &v.secret,
            &v.signature,
            &v.id,
            v.timestamp,
            body
        ));
        assert!(!signature::verify(
            &v.secret,
            &v.signature,
            &v.id,
            v.timestamp + 1,
            body
        ));
    }
}
