//! Bootstrap from seed nodes (`network.md` §2.1, SD `SeedNodeAPI.ts`): oxend JSON-RPC
//! `get_n_service_nodes` POSTed to every seed in parallel, the whole round retried with
//! exponential back-off.
//!
//! Whoever answers as a seed picks every node this client will ever talk to (issue 13, attack
//! 1), so unlike the node requests this is checked: seeds are read over verified TLS (the
//! client's bundled web PKI roots, or for the mainnet seed hosts their pinned certificates, as
//! Session Desktop pins them, [`SEED_PINS`]); plain `http://` only on loopback (a devnet) unless
//! `allow_insecure_seeds`; each answer at most [`MAX_SEED_BODY`] bytes; and with two or more
//! seeds configured, two must answer and only the nodes every answer lists are kept.
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

use std::net::IpAddr;
use std::time::Duration;

use futures::future::join_all;
use serde_json::{json, Value};

use super::error::{clip, NetworkError};
use super::node::{parse_node_list, ServiceNode};
use super::pool::intersect;
use super::reply_budget::ReplyBudget;
use super::seed_tls::SeedClients;

/// Largest seed answer read (mainnet's full list with our fields is well under 1 MiB).
pub const MAX_SEED_BODY: usize = 8 * 1024 * 1024;

/// Certificate SHA-256 fingerprints pinned per mainnet seed host (`network.md` §2.1, SD).
pub const SEED_PINS: [(&str, &str); 3] = [
    (
        "seed1.getsession.org",
        "36EA0B253537988551EE856E4FD20D55011E9C8B27EAA2F34B8F32A0BDF04F2D",
    ),
    (
        "seed2.getsession.org",
        "C5908DD4139ACD96AEDD1E45576597650809C8A5EA02AF556D4853D45396E0E7",
    ),
    (
        "seed3.getsession.org",
        "8A0AF2C712342F22CE00E53C1601410EF8D84156AEE0A9809C32F6F7EFBE556E",
    ),
];

/// Checks that every seed URL is `https://`, or `http://` on a loopback host (a devnet), or
/// that `allow_insecure` is set.
pub fn check_seed_urls(seeds: &[String], allow_insecure: bool) -> Result<(), NetworkError> {
    for seed in seeds {
        let url = reqwest::Url::parse(seed)
            .map_err(|e| NetworkError::Config(format!("seed URL {seed}: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_insecure || is_loopback(url.host_str().unwrap_or_default()) => {}
            "http" => {
                return Err(NetworkError::Config(format!(
                    "seed {seed} is plain http:// and not on loopback; use https:// or set \
                     network.allow_insecure_seeds"
                )))
            }
            other => {
                return Err(NetworkError::Config(format!(
                    "seed {seed}: scheme {other} is not http(s)"
                )))
            }
        }
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

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
    clients: &SeedClients,
    seed: &str,
    timeout: Duration,
) -> Result<Vec<ServiceNode>, String> {
    let url = json_rpc_url(seed);
    let resp = clients
        .post(&url, &request_body(), timeout)
        .await
        .map_err(|e| clip(&format!("{url}: {e}")))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = ReplyBudget::new(MAX_SEED_BODY)
        .read(resp, MAX_SEED_BODY)
        .await
        .map_err(|e| clip(&format!("{url}: {e}")))?;
    parse_answer(status, content_type.as_deref(), &body.bytes).map_err(|e| format!("{url}: {e}"))
}

/// Answers needed from `seeds` configured seeds: two when there are two or more (one seed
/// alone could hand out any list), else one.
pub fn answers_needed(seeds: usize) -> usize {
    seeds.min(2)
}

/// Combines the lists the seeds answered: the nodes all of them list (same key, address and
/// port), when at least `needed` answered and they agree on some.
pub fn agreed_nodes(lists: &[Vec<ServiceNode>], needed: usize) -> Result<Vec<ServiceNode>, String> {
    if lists.len() < needed.max(1) {
        return Err(format!("{} of {needed} seed answers", lists.len()));
    }
    let agreed = intersect(lists);
    if agreed.is_empty() {
        return Err("the seeds' node lists share no node".into());
    }
    Ok(agreed)
}

/// Queries every seed in parallel and keeps what the answers agree on ([`agreed_nodes`]). Up
/// to `retries` more rounds follow a failed round, after `backoff`, `2·backoff`, `4·backoff`,
/// … (SD p-retry: 3 retries, factor 2, 1 s).
pub async fn fetch_nodes(
    clients: &SeedClients,
    seeds: &[String],
    timeout: Duration,
    retries: u32,
    backoff: Duration,
) -> Result<Vec<ServiceNode>, NetworkError> {
    if seeds.is_empty() {
        return Err(NetworkError::Config("no seed URLs".into()));
    }
    let needed = answers_needed(seeds.len());
    let mut last = String::new();
    for round in 0..=retries {
        if round > 0 {
            let factor = 1u32.checked_shl(round - 1).unwrap_or(u32::MAX);
            tokio::time::sleep(backoff.saturating_mul(factor)).await;
        }
        let answers = join_all(seeds.iter().map(|s| fetch_one(clients, s, timeout))).await;
        let mut lists = Vec::new();
        for answer in answers {
            match answer {
                Ok(nodes) => lists.push(nodes),
                Err(e) => {
                    tracing::debug!(round, error = %e, "seed failed");
                    last = e;
                }
            }
        }
        match agreed_nodes(&lists, needed) {
            Ok(nodes) => return Ok(nodes),
            Err(e) => {
                tracing::debug!(round, error = %e, "seed round failed");
                if !lists.is_empty() {
                    last = format!("{e}; last error: {last}");
                }
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

    #[test]
    fn only_tls_or_loopback_seeds() {
        let urls = |u: &[&str]| u.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(check_seed_urls(&urls(&crate::network::config::MAINNET_SEEDS), false).is_ok());
        for ok in [
            "http://127.0.0.1:5/json_rpc",
            "http://localhost:1/",
            "http://[::1]:2/",
        ] {
            assert!(check_seed_urls(&urls(&[ok]), false).is_ok(), "{ok}");
        }
        for bad in [
            "http://seed.example:1/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "nope",
        ] {
            assert!(check_seed_urls(&urls(&[bad]), false).is_err(), "{bad}");
        }
        assert!(check_seed_urls(&urls(&["http://seed.example:1/"]), true).is_ok());
    }

    #[test]
    fn seeds_must_agree() {
        let n = |i: u8| {
            ServiceNode::from_json(&serde_json::json!({"ip": format!("1.1.1.{i}"),
                "port_https": 1, "pubkey_ed25519": hex::encode([i; 32]),
                "pubkey_x25519": hex::encode([i; 32])}))
            .unwrap()
        };
        assert_eq!(answers_needed(1), 1);
        assert_eq!(answers_needed(3), 2);
        let honest = vec![n(1), n(2), n(3)];
        let liar = vec![n(1), n(9)];
        assert!(
            agreed_nodes(std::slice::from_ref(&honest), 2).is_err(),
            "one answer of two needed"
        );
        assert_eq!(
            agreed_nodes(std::slice::from_ref(&honest), 1)
                .unwrap()
                .len(),
            3
        );
        let agreed = agreed_nodes(&[honest.clone(), liar], 2).unwrap();
        assert_eq!(agreed.len(), 1, "the liar's own node is not kept");
        assert!(agreed_nodes(&[honest, vec![n(9)]], 2).is_err());
        for (host, pin) in SEED_PINS {
            assert!(host.ends_with(".getsession.org"));
            assert_eq!(hex::decode(pin).unwrap().len(), 32);
        }
    }

    proptest! {
        #[test]
        fn junk_answers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_answer(200, Some("application/json"), &body);
        }
    }
}
