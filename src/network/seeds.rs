//! Bootstrap from seed nodes the way Session Desktop does (`network.md` §2.1, SD
//! `SeedNodeAPI.ts`): oxend JSON-RPC `get_n_service_nodes` POSTed to every seed in parallel,
//! the first usable answer wins, the whole round retried with exponential back-off.
//!
//! Request (we also ask for `swarm_id`, as libsession does, so swarms can be checked locally):
//!
//! ```json
//! {"jsonrpc":"2.0","method":"get_n_service_nodes",
//!  "params":{"active_only":true,"fields":{"public_ip":true,"storage_port":true,
//!    "pubkey_x25519":true,"pubkey_ed25519":true,"requested_unlock_height":true,
//!    "height":true,"swarm_id":true}}}
//! ```
//!
//! A usable answer is HTTP 200, content type `application/json`, and a non-empty
//! `result.service_node_states` after dropping bad entries (`0.0.0.0`, missing keys).

use std::time::Duration;

use futures::future::select_ok;
use serde_json::{json, Value};

use super::error::{clip, NetworkError};
use super::node::{parse_node_list, ServiceNode};

/// The URL to POST to: a seed given as `https://host:port/` gets `json_rpc` appended; one that
/// already ends in `/json_rpc` is used as is.
pub fn json_rpc_url(seed: &str) -> String {
    let trimmed = seed.trim_end_matches('/');
    if trimmed.ends_with("/json_rpc") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/json_rpc")
    }
}

/// The JSON-RPC request body.
pub fn request_body() -> Value {
    json!({"jsonrpc":"2.0","method":"get_n_service_nodes",
        "params":{"active_only":true,"fields":{"public_ip":true,"storage_port":true,
            "pubkey_x25519":true,"pubkey_ed25519":true,"requested_unlock_height":true,
            "height":true,"swarm_id":true}}})
}

/// Parses a seed's HTTP answer (untrusted).
pub fn parse_answer(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<ServiceNode>, String> {
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim);
    if media != Some("application/json") {
        return Err("content type is not application/json".into());
    }
    let json: Value = serde_json::from_slice(body).map_err(|_| "invalid JSON".to_owned())?;
    if let Some(err) = json.get("error") {
        return Err(clip(&format!("JSON-RPC error {err}")));
    }
    let result = json.get("result").ok_or("no result")?;
    let (nodes, _skipped) = parse_node_list(result).map_err(|e| e.to_string())?;
    if nodes.is_empty() {
        return Err("empty node list".into());
    }
    Ok(nodes)
}

async fn fetch_one(
    http: &reqwest::Client,
    seed: &str,
    timeout: Duration,
) -> Result<Vec<ServiceNode>, String> {
    let url = json_rpc_url(seed);
    let resp = http
        .post(&url)
        .header("User-Agent", "WhatsApp")
        .header("Accept-Language", "en-us")
        .timeout(timeout)
        .json(&request_body())
        .send()
        .await
        .map_err(|e| clip(&format!("{url}: {e}")))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp
        .bytes()
        .await
        .map_err(|e| clip(&format!("{url}: {e}")))?;
    parse_answer(status, content_type.as_deref(), &body).map_err(|e| format!("{url}: {e}"))
}

/// Queries every seed in parallel; the first usable list wins. Up to `retries` more rounds
/// follow a failed round, after `backoff`, `2·backoff`, `4·backoff`, … (SD p-retry: 3 retries,
/// factor 2, 1 s).
pub async fn fetch_nodes(
    http: &reqwest::Client,
    seeds: &[String],
    timeout: Duration,
    retries: u32,
    backoff: Duration,
) -> Result<Vec<ServiceNode>, NetworkError> {
    if seeds.is_empty() {
        return Err(NetworkError::Config("no seed URLs".into()));
    }
    let mut last = String::new();
    for round in 0..=retries {
        if round > 0 {
            let factor = 1u32.checked_shl(round - 1).unwrap_or(u32::MAX);
            tokio::time::sleep(backoff.saturating_mul(factor)).await;
        }
        let attempts = seeds.iter().map(|s| Box::pin(fetch_one(http, s, timeout)));
        match select_ok(attempts).await {
            Ok((nodes, _rest)) => return Ok(nodes),
            Err(e) => {
                tracing::debug!(round, error = %e, "seed round failed");
                last = e;
            }
        }
    }
    Err(NetworkError::Seeds(last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn both_seed_url_forms_work() {
        assert_eq!(
            json_rpc_url("https://seed1.getsession.org:4443/"),
            "https://seed1.getsession.org:4443/json_rpc"
        );
        assert_eq!(
            json_rpc_url("http://127.0.0.1:5/json_rpc"),
            "http://127.0.0.1:5/json_rpc"
        );
        assert_eq!(
            json_rpc_url("http://127.0.0.1:5"),
            "http://127.0.0.1:5/json_rpc"
        );
        assert_eq!(request_body()["params"]["fields"]["swarm_id"], true);
    }

    #[test]
    fn answers_must_be_usable() {
        let ok = format!(
            r#"{{"result":{{"service_node_states":[{{"public_ip":"1.2.3.4","storage_port":5,"pubkey_ed25519":"{}","pubkey_x25519":"{}"}},{{"public_ip":"0.0.0.0"}}]}}}}"#,
            "ab".repeat(32),
            "cd".repeat(32)
        );
        let json = Some("application/json");
        assert_eq!(parse_answer(200, json, ok.as_bytes()).unwrap().len(), 1);
        assert!(parse_answer(200, Some("text/html"), ok.as_bytes()).is_err());
        assert!(parse_answer(500, json, ok.as_bytes()).is_err());
        assert!(parse_answer(200, json, br#"{"result":{"service_node_states":[]}}"#).is_err());
        assert!(parse_answer(200, json, br#"{"error":{"code":-1}}"#).is_err());
    }

    proptest! {
        #[test]
        fn junk_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_answer(200, Some("application/json"), &body);
        }
    }
}
