//! Junk at every devnet entry point returns an error, never a panic (style.md habit 7):
//! proptests over the RPC envelope, the onion entry, the fault spec and the byte decoders.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;
use session_gateway::devnet::config::parse_fault_spec;
use session_gateway::devnet::net::{Clock, Network, Node};
use session_gateway::devnet::rpc::{handle_envelope, Ctx};
use session_gateway::devnet::{onion, wire};

fn network() -> Arc<Network> {
    let nodes = (0..4)
        .map(|i| {
            Arc::new(Node::new(
                i,
                1000 + i as u16,
                (i as u64 / 2) * 1000,
                Default::default(),
            ))
        })
        .collect();
    Arc::new(Network {
        nodes,
        clock: Clock::default(),
        http: reqwest::Client::new(),
    })
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("store"),
        Just("retrieve"),
        Just("delete"),
        Just("delete_all"),
        Just("delete_before"),
        Just("expire"),
        Just("expire_all"),
        Just("get_expiries"),
        Just("get_swarm"),
        Just("info"),
        Just("oxend_request"),
        Just("revoke_subaccount"),
        Just("unrevoke_subaccount"),
        Just("batch"),
        Just("sequence"),
        Just("ifelse"),
        Just("nope"),
    ]
    .prop_map(str::to_owned)
}

fn value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|i| json!(i)),
        ".{0,80}".prop_map(|s| json!(s)),
        Just(json!("05".to_owned() + &"ab".repeat(32))),
        Just(json!("all")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| json!(v)),
            prop::collection::hash_map(
                prop_oneof![
                    Just("pubkey".to_owned()),
                    Just("namespace".to_owned()),
                    Just("messages".to_owned()),
                    Just("timestamp".to_owned()),
                    Just("signature".to_owned()),
                    Just("data".to_owned()),
                    Just("ttl".to_owned()),
                    Just("expiry".to_owned()),
                    Just("requests".to_owned()),
                    Just("method".to_owned()),
                    Just("params".to_owned()),
                    Just("subaccount".to_owned()),
                    "[a-z_]{1,12}"
                ],
                inner,
                0..8
            )
            .prop_map(|m| json!(m)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn rpc_envelope_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let net = network();
        let ctx = Ctx { net: &net, node: &net.nodes[0], now: 1_700_000_000_000 };
        let (resp, _) = handle_envelope(&ctx, &bytes);
        prop_assert!(resp.status >= 200);
    }

    #[test]
    fn rpc_methods_with_junk_params_never_panic(m in method(), params in value()) {
        let net = network();
        let ctx = Ctx { net: &net, node: &net.nodes[1], now: 1_700_000_000_000 };
        let body = json!({"method": m, "params": params}).to_string();
        let (resp, _) = handle_envelope(&ctx, body.as_bytes());
        prop_assert!([200, 400, 401, 403, 404, 406, 421, 500].contains(&resp.status), "{}", resp.status);
    }

    #[test]
    fn byte_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = wire::split_combined(&bytes);
        let _ = wire::bencode_string_list(&bytes);
        let _ = parse_fault_spec(&String::from_utf8_lossy(&bytes), 4);
    }

    #[test]
    fn onion_entry_never_panics(blob in prop::collection::vec(any::<u8>(), 0..200), key in "[0-9a-f]{64}", enc in prop_oneof![Just("aes-gcm"), Just("xchacha20"), Just("cbc"), Just("x")]) {
        let net = network();
        let meta = json!({"ephemeral_key": key, "enc_type": enc}).to_string();
        let body = wire::combine(&blob, meta.as_bytes());
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let reply = rt.block_on(onion::handle_entry(net.clone(), net.nodes[0].clone(), &body, "127.0.0.1:1".into()));
        prop_assert_eq!(reply.status, 400);
    }
}
