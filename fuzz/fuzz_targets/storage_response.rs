//! What service nodes answer to storage RPCs (`network.md` §3.3, §4.6, §4.7): the RPC status and
//! body after the onion layer, the `retrieve` batch and its messages, `get_swarm` and 421
//! bodies turned into swarm members, every swarm-method answer type, and the seed's node list.
//!
//! Input: one mode byte, then the bytes. Modes (low 3 bits):
//! * 0: an RPC answer (`u16` selects the status, odd → 200) read as a retrieve of 1-4
//!   namespaces: status classification, the batch, each message checked against its hash.
//! * 1: a 421 body: the swarm it names, read into members (unique, never empty).
//! * 2: the body as every answer type; each one that parses serialises and parses back equal.
//! * 3: a seed's JSON-RPC answer and `service_node_states` list.
//! * 4: one node entry of a swarm or node list.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use session_gateway::network::node::parse_node_list;
use session_gateway::network::seeds::parse_answer;
use session_gateway::network::swarms::members_from;
use session_gateway::network::transport::{answer_time, classify_snode};
use session_gateway::network::{accept_retrieve, RetrievedItem, SendError, ServiceNode};
use session_gateway::protocol::storage::response::{
    BatchResponse, DeleteAllResponse, DeleteResponse, ExpireAllResponse, ExpireResponse,
    GetExpiriesResponse, InfoResponse, RetrieveResponse, RevokeResponse, StoreResponse, SwarmInfo,
};
use session_gateway::protocol::storage::{message_hash, AccountId, Namespace};

fn node() -> &'static ServiceNode {
    static NODE: OnceLock<ServiceNode> = OnceLock::new();
    NODE.get_or_init(|| {
        ServiceNode::from_json(&json!({"ip": "10.0.0.1", "port": "443",
            "pubkey_ed25519": "ab".repeat(32), "pubkey_x25519": "cd".repeat(32)}))
        .expect("fixed node")
    })
}

fn account() -> AccountId {
    AccountId::from_hex(&format!("05{}", "42".repeat(32))).expect("fixed account")
}

/// Parses `bytes` as `T`; if it does, serialising and parsing again gives the same value.
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        let text = serde_json::to_vec(&value).expect("serialises");
        let again: T = serde_json::from_slice(&text).expect("our own JSON parses");
        assert_eq!(again, value);
    }
}

fn retrieve(status: u16, body: &str, count: usize) {
    let Ok(answer) = classify_snode(node(), status, body) else {
        return;
    };
    assert!((200..300).contains(&answer.status));
    let _ = answer_time(&answer.body);
    let Ok(namespaces) = accept_retrieve(node(), answer, count) else {
        return;
    };
    assert_eq!(namespaces.len(), count);
    let account = account();
    for response in &namespaces {
        for message in &response.messages {
            let item = RetrievedItem::check(&account, Namespace(0), message);
            if let Some(data) = item.is_intact().then(|| data_of(&item)) {
                assert_eq!(message_hash(&account, Namespace(0), data), message.hash);
            }
        }
    }
}

fn data_of(item: &RetrievedItem) -> &[u8] {
    match &item.data {
        session_gateway::network::ItemData::Intact(d)
        | session_gateway::network::ItemData::Tampered(d) => d,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = common::mode(data) else {
        return;
    };
    match mode & 0x07 {
        0 => {
            let (s, body) = common::take_u16(rest);
            let status = if s % 2 == 1 { 200 } else { s / 2 };
            let body = String::from_utf8_lossy(body);
            retrieve(status, &body, usize::from(mode >> 3) % 4 + 1);
        }
        1 => {
            let body = String::from_utf8_lossy(rest);
            match classify_snode(node(), 421, &body) {
                Err(SendError::Misdirected {
                    swarm: Some(info), ..
                }) => {
                    if let Ok(members) = members_from(&info, None) {
                        assert!(!members.is_empty());
                        for (i, m) in members.iter().enumerate() {
                            assert!(members[..i].iter().all(|n| n.ed25519 != m.ed25519));
                        }
                    }
                    let _ = members_from(&info, Some(info.swarm));
                }
                Err(SendError::Misdirected { swarm: None, .. }) => {
                    assert!(serde_json::from_str::<SwarmInfo>(&body).is_err());
                }
                other => panic!("a 421 classified as {other:?}"),
            }
        }
        2 => {
            round_trip::<RetrieveResponse>(rest);
            round_trip::<SwarmInfo>(rest);
            round_trip::<StoreResponse>(rest);
            round_trip::<DeleteResponse>(rest);
            round_trip::<DeleteAllResponse>(rest);
            round_trip::<ExpireResponse>(rest);
            round_trip::<ExpireAllResponse>(rest);
            round_trip::<RevokeResponse>(rest);
            round_trip::<InfoResponse>(rest);
            round_trip::<GetExpiriesResponse>(rest);
            round_trip::<BatchResponse>(rest);
        }
        3 => {
            let _ = parse_answer(200, Some("application/json"), rest);
            if let Ok(value) = serde_json::from_slice::<Value>(rest) {
                if let Ok((nodes, _skipped)) = parse_node_list(&value) {
                    for (i, m) in nodes.iter().enumerate() {
                        assert!(nodes[..i].iter().all(|n| n.ed25519 != m.ed25519));
                    }
                }
            }
        }
        4 => {
            if let Ok(value) = serde_json::from_slice::<Value>(rest) {
                let _ = ServiceNode::from_json(&value);
            }
        }
        _ => {}
    }
});
