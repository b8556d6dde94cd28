//! The storage RPC of the devnet, driven with requests written out the way Session Desktop
//! builds them (network.md §3–§4), against an in-process devnet on ephemeral ports.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod devnet_common;

use devnet_common::*;
use serde_json::{json, Value};

async fn now(http: &reqwest::Client, node: &Snode) -> u64 {
    let (s, body) = rpc(http, node, json!({"method":"info","params":{}})).await;
    assert_eq!(s, 200);
    let v = json_of(&body);
    assert_eq!(v["version"], json!([2, 8, 0]));
    assert!(v["hf"].is_array());
    v["timestamp"].as_u64().unwrap()
}

fn retrieve_req(user: &User, ns: i16, ts: u64, last_hash: &str) -> Value {
    let nstext = if ns == 0 {
        String::new()
    } else {
        ns.to_string()
    };
    json!({"method":"retrieve","params":{
        "pubkey": user.id(), "pubkey_ed25519": user.ed_hex(), "namespace": ns,
        "lastHash": last_hash, "timestamp": ts,
        "signature": user.sign(format!("retrieve{nstext}{ts}").as_bytes())}})
}

fn verify_entry_sigs(body: &Value, nodes: &[Snode], msg: impl Fn(&Value) -> Vec<u8>) {
    let swarm = body["swarm"].as_object().unwrap();
    assert_eq!(swarm.len(), nodes.len());
    for (ed, entry) in swarm {
        let vk =
            ed25519_dalek::VerifyingKey::from_bytes(&hex::decode(ed).unwrap().try_into().unwrap())
                .unwrap();
        let sig =
            ed25519_dalek::Signature::from_slice(&unb64(entry["signature"].as_str().unwrap()))
                .unwrap();
        vk.verify_strict(&msg(entry), &sig)
            .unwrap_or_else(|_| panic!("bad entry sig {entry}"));
    }
}

/// Seed → swarm → store on one member → retrieve from another (replication), entries signed.
#[tokio::test]
async fn bootstrap_store_replicate_retrieve() {
    let devnet = devnet().await;
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    assert_eq!(nodes.len(), 12);
    let user = User::new();
    let swarm = swarm_of(&http, &nodes[0], &user.id()).await;
    assert_eq!(swarm.len(), 4);
    let t = now(&http, &swarm[0]).await;
    let data = b"hello devnet";
    let store = json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t,
        "namespace": 0, "ttl": 86_400_000, "data": b64(data)}});
    let (s, body) = rpc(&http, &swarm[0], store).await;
    assert_eq!(s, 200, "{body}");
    let v = json_of(&body);
    let h = hash(&user.id(), 0, data);
    assert_eq!(v["hash"], json!(h));
    assert!(v["t"].is_u64() && v["hf"].is_array());
    verify_entry_sigs(&v, &swarm, |e| {
        e["hash"].as_str().unwrap().as_bytes().to_vec()
    });
    assert!(v["swarm"][&swarm[0].ed]["t"].is_u64());

    // Same message again: "already".
    let again = json!({"method":"store","params":{"pubKey": user.id(), "timestamp": t.to_string(),
        "ttl": "86400000", "data": b64(data)}});
    let v = json_of(&rpc(&http, &swarm[1], again).await.1);
    assert_eq!(v["swarm"][&swarm[2].ed]["already"], json!(true));

    for member in &swarm {
        let (s, body) = rpc(&http, member, retrieve_req(&user, 0, t, "")).await;
        assert_eq!(s, 200, "{body}");
        let v = json_of(&body);
        let msgs = v["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0]["hash"], json!(h));
        assert_eq!(unb64(msgs[0]["data"].as_str().unwrap()), data);
        assert_eq!(msgs[0]["expiration"], json!(t + 86_400_000));
        assert_eq!(v["more"], json!(false));
    }
    // After the last hash: nothing more.
    let v = json_of(&rpc(&http, &swarm[3], retrieve_req(&user, 0, t, &h)).await.1);
    assert!(v["messages"].as_array().unwrap().is_empty());

    // Unauthenticated retrieve of namespace 0 is refused.
    let (s, body) = rpc(
        &http,
        &swarm[0],
        json!({"method":"retrieve","params":{"pubkey": user.id()}}),
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (401, "retrieve: request signature required")
    );

    // The same list through oxend_request.
    let req = json!({"method":"oxend_request","params":{"endpoint":"get_service_nodes",
        "params":{"active_only":true,"fields":{"public_ip":true,"storage_port":true,"pubkey_x25519":true,"pubkey_ed25519":true}}}});
    let v = json_of(&rpc(&http, &nodes[5], req).await.1);
    assert_eq!(
        v["result"]["service_node_states"].as_array().unwrap().len(),
        12
    );
    let (s, body) = rpc(
        &http,
        &nodes[5],
        json!({"method":"oxend_request","params":{"endpoint":"get_info"}}),
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (400, "invalid request: Invalid oxend endpoint 'get_info'")
    );
    devnet.shutdown().await;
}

/// 421 with the right swarm, before any signature check.
#[tokio::test]
async fn wrong_swarm_is_421_before_auth() {
    let devnet = devnet().await;
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    let user = User::new();
    let swarm = swarm_of(&http, &nodes[0], &user.id()).await;
    let outsider = nodes
        .iter()
        .find(|n| !swarm.iter().any(|s| s.ed == n.ed))
        .unwrap();
    let bogus = json!({"method":"store","params":{"pubkey": user.id(), "timestamp": 1_700_000_000_000u64,
        "ttl": 1000, "namespace": 2, "data": "", "signature": b64(&[0; 64])}});
    let (s, body) = rpc(&http, outsider, bogus).await;
    assert_eq!(s, 421);
    let v = json_of(&body);
    let eds: Vec<&str> = v["snodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["pubkey_ed25519"].as_str().unwrap())
        .collect();
    assert_eq!(eds, swarm.iter().map(|n| n.ed.as_str()).collect::<Vec<_>>());
    assert!(v["swarm"].is_string() && v["t"].is_u64() && v["hf"].is_array());
    assert_eq!(v["snodes"][0]["port"], json!(swarm[0].port.to_string()));
    devnet.shutdown().await;
}

/// Clock-window, TTL and signature rules of §4.4/§4.6 with their exact texts.
#[tokio::test]
async fn clock_skew_ttl_and_signature_rejection() {
    let devnet = devnet().await;
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    let user = User::new();
    let swarm = swarm_of(&http, &nodes[0], &user.id()).await;
    let n = &swarm[0];
    let t = now(&http, n).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            retrieve_req(&user, 0, t - 61_000, ""),
            406,
            "retrieve timestamp too far from current time",
        ),
        (
            retrieve_req(&user, 0, t + 61_000, ""),
            406,
            "retrieve timestamp too far from current time",
        ),
        (
            {
                let mut r = retrieve_req(&user, 0, t, "");
                r["params"]["signature"] = json!(User::new().sign(b"x"));
                r
            },
            401,
            "retrieve signature verification failed",
        ),
        (
            {
                let mut r = retrieve_req(&user, 0, t, "");
                r["params"]["pubkey_ed25519"] = json!(User::new().ed_hex());
                r
            },
            401,
            "retrieve signature verification failed",
        ),
        (
            {
                let mut r = retrieve_req(&user, 0, t, "");
                r["params"]["signature"] = json!("abc");
                r
            },
            400,
            "invalid request: invalid signature: expected base64 encoded Ed25519 signature",
        ),
        (
            json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t + 11_000, "ttl": 60_000, "data": ""}}),
            406,
            "Timestamp error: check your clock",
        ),
        (
            json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t, "ttl": 9_999, "data": ""}}),
            403,
            "Provided expiry/TTL is not valid.",
        ),
        (
            json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t, "ttl": 15 * 86_400_000u64, "data": ""}}),
            403,
            "Provided expiry/TTL is not valid.",
        ),
        (
            json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t, "ttl": 60_000, "namespace": 2, "data": ""}}),
            401,
            "store: signature required to store to namespace 2",
        ),
        (
            json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t - 70_000, "ttl": 600_000, "namespace": 2,
            "data": "", "pubkey_ed25519": user.ed_hex(), "signature": user.sign(format!("store2{}", t - 70_000).as_bytes())}}),
            406,
            "store signature timestamp too far from current time",
        ),
        (
            json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t, "ttl": 600_000, "namespace": 2,
            "data": "", "pubkey_ed25519": user.ed_hex(), "signature": user.sign(format!("store{t}").as_bytes())}}),
            401,
            "store signature verification failed",
        ),
        (
            json!({"method":"retrieve","params":{"pubkey": user.id(), "timestamp": 1_700_000}}),
            400,
            "invalid request: Invalid timestamp for 'timestamp': timestamp must be in milliseconds",
        ),
    ];
    for (req, status, text) in cases {
        let (s, body) = rpc(&http, n, req.clone()).await;
        assert_eq!((s, body.as_str()), (status, text), "{req}");
    }
    // And the signed config store works (30-day TTL allowed off the public inbox).
    let ok = json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t, "ttl": 30 * 86_400_000u64,
        "namespace": 2, "data": b64(b"cfg"), "pubkey_ed25519": user.ed_hex().to_uppercase(),
        "signature": user.sign(format!("store2{t}").as_bytes())}});
    let (s, body) = rpc(&http, n, ok).await;
    assert_eq!(s, 200, "{body}");
    devnet.shutdown().await;
}

/// `batch` holds at most 20, refuses meta-requests; `sequence` stops at the first failure.
#[tokio::test]
async fn batch_and_sequence() {
    let devnet = devnet().await;
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    let info = json!({"method":"info","params":{}});
    let twenty: Vec<Value> = (0..20).map(|_| info.clone()).collect();
    let (s, body) = rpc(
        &http,
        &nodes[0],
        json!({"method":"batch","params":{"requests": twenty}}),
    )
    .await;
    assert_eq!(s, 200);
    let v = json_of(&body);
    assert_eq!(v["results"].as_array().unwrap().len(), 20);
    assert_eq!(v["results"][0]["code"], json!(200));
    assert!(v.get("t").is_none());
    let twenty_one: Vec<Value> = (0..21).map(|_| info.clone()).collect();
    let (s, body) = rpc(
        &http,
        &nodes[0],
        json!({"method":"batch","params":{"requests": twenty_one}}),
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (
            400,
            "invalid request: Invalid batch request: subrequest limit exceeded"
        )
    );
    let nested = json!({"method":"batch","params":{"requests":[{"method":"batch","params":{"requests":[]}}]}});
    let (s, body) = rpc(&http, &nodes[0], nested).await;
    assert_eq!(
        (s, body.as_str()),
        (
            400,
            "invalid request: Invalid batch subrequest: subrequests may not contain meta-requests"
        )
    );
    let (s, body) = rpc(
        &http,
        &nodes[0],
        json!({"method":"batch","params":{"requests":[]}}),
    )
    .await;
    assert_eq!(
        (s, body.as_str()),
        (
            400,
            "invalid request: Invalid batch request: empty \"requests\" list"
        )
    );

    let ifelse = json!({"method":"ifelse","params":{"if":{"hf_at_least":[19,0]},
        "then":{"method":"info","params":{}},"else":{"method":"fly","params":{}}}});
    let v = json_of(&rpc(&http, &nodes[0], ifelse).await.1);
    assert_eq!(v["condition"], json!(true));
    assert_eq!(v["result"]["code"], json!(200));
    assert_eq!(v["v"], json!([2, 8, 0]));

    let user = User::new();
    let swarm = swarm_of(&http, &nodes[0], &user.id()).await;
    let bad = json!({"method":"retrieve","params":{"pubkey": user.id()}});
    let seq = json!({"method":"sequence","params":{"requests":[info, bad, {"method":"info","params":{}}]}});
    let v = json_of(&rpc(&http, &swarm[0], seq.clone()).await.1);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[1],
        json!({"code": 401, "body": "retrieve: request signature required"})
    );
    let mut b = seq;
    b["method"] = json!("batch");
    let v = json_of(&rpc(&http, &swarm[0], b).await.1);
    assert_eq!(v["results"].as_array().unwrap().len(), 3);
    devnet.shutdown().await;
}

/// `get_expiries`, `expire`, `delete`, `delete_before`, `expire_all`, `delete_all`.
#[tokio::test]
async fn expire_and_delete_family() {
    let devnet = devnet().await;
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    let user = User::new();
    let swarm = swarm_of(&http, &nodes[0], &user.id()).await;
    let n = &swarm[1];
    let t = now(&http, n).await;
    let mut hashes = Vec::new();
    for i in 0..4u8 {
        let store = json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t - 1000 + u64::from(i),
            "ttl": 3_600_000, "data": b64(&[i; 5])}});
        let (s, body) = rpc(&http, n, store).await;
        assert_eq!(s, 200, "{body}");
        hashes.push(json_of(&body)["hash"].as_str().unwrap().to_owned());
    }
    let pk = user.id();
    // get_expiries
    let req = json!({"method":"get_expiries","params":{"pubkey": pk, "pubkey_ed25519": user.ed_hex(),
        "messages": [hashes[0]], "timestamp": t,
        "signature": user.sign(format!("get_expiries{t}{}", hashes[0]).as_bytes())}});
    let v = json_of(&rpc(&http, &swarm[2], req).await.1);
    assert_eq!(
        v,
        json!({"expiries": {hashes[0].clone(): t - 1000 + 3_600_000}})
    );
    // expire (shorten)
    let exp = t + 600_000;
    let req = json!({"method":"expire","params":{"pubkey": pk, "pubkey_ed25519": user.ed_hex(),
        "messages": [hashes[0], hashes[1]], "expiry": exp, "shorten": true,
        "signature": user.sign(format!("expireshorten{exp}{}{}", hashes[0], hashes[1]).as_bytes())}});
    let (s, body) = rpc(&http, n, req).await;
    assert_eq!(s, 200, "{body}");
    let v = json_of(&body);
    let mut sorted = vec![hashes[0].clone(), hashes[1].clone()];
    sorted.sort();
    verify_entry_sigs(&v, &swarm, |e| {
        assert_eq!(e["updated"], json!(sorted));
        assert_eq!(e["expiry"], json!(exp));
        format!("{pk}{exp}{}{}{}", hashes[0], hashes[1], sorted.concat()).into_bytes()
    });
    // expire with a past expiry → 401
    let past = t - 120_000;
    let req = json!({"method":"expire","params":{"pubkey": pk, "pubkey_ed25519": user.ed_hex(),
        "messages": [hashes[0]], "expiry": past, "signature": user.sign(b"x")}});
    assert_eq!(
        rpc(&http, n, req).await,
        (401, "expire: timestamp should be >= current time".into())
    );
    // delete one (required) then again → 404
    let del = json!({"method":"delete","params":{"pubkey": pk, "pubkey_ed25519": user.ed_hex(),
        "messages": [hashes[2]], "required": true, "signature": user.sign(format!("delete{}", hashes[2]).as_bytes())}});
    let (s, body) = rpc(&http, n, del.clone()).await;
    assert_eq!(s, 200);
    verify_entry_sigs(&json_of(&body), &swarm, |e| {
        assert_eq!(e["deleted"], json!([hashes[2]]));
        format!("{pk}{}{}", hashes[2], hashes[2]).into_bytes()
    });
    assert_eq!(rpc(&http, n, del).await.0, 404);
    // delete_before
    let before = t - 1000;
    let req = json!({"method":"delete_before","params":{"pubkey": pk, "pubkey_ed25519": user.ed_hex(),
        "before": before, "signature": user.sign(format!("delete_before{before}").as_bytes())}});
    let v = json_of(&rpc(&http, n, req).await.1);
    assert_eq!(v["swarm"][&n.ed]["deleted"], json!([hashes[0]]));
    let far = t + 3_600_000;
    let req = json!({"method":"delete_before","params":{"pubkey": pk, "pubkey_ed25519": user.ed_hex(),
        "before": far, "signature": user.sign(format!("delete_before{far}").as_bytes())}});
    assert_eq!(
        rpc(&http, n, req).await,
        (401, "delete_before timestamp too far in the future".into())
    );
    // expire_all (namespace "all") shortens the remaining ones
    let e = t + 60_000;
    let req = json!({"method":"expire_all","params":{"pubkey": pk, "pubkey_ed25519": user.ed_hex(),
        "namespace": "all", "expiry": e, "signature": user.sign(format!("expire_allall{e}").as_bytes())}});
    let v = json_of(&rpc(&http, n, req).await.1);
    let mut rest = vec![hashes[1].clone(), hashes[3].clone()];
    rest.sort();
    assert_eq!(v["swarm"][&n.ed]["updated"], json!({"0": rest}));
    // delete_all default namespace
    let req = json!({"method":"delete_all","params":{"pubkey": pk, "pubkey_ed25519": user.ed_hex(),
        "timestamp": t, "signature": user.sign(format!("delete_all{t}").as_bytes())}});
    let (s, body) = rpc(&http, n, req).await;
    assert_eq!(s, 200);
    verify_entry_sigs(&json_of(&body), &swarm, |e| {
        assert_eq!(e["deleted"], json!(rest));
        format!("{pk}{t}{}", rest.concat()).into_bytes()
    });
    let v = json_of(&rpc(&http, &swarm[3], retrieve_req(&user, 0, t, "")).await.1);
    assert!(v["messages"].as_array().unwrap().is_empty());
    devnet.shutdown().await;
}

/// Group (03) accounts with subaccount tokens; revocation and the unrevocable namespace.
#[tokio::test]
async fn subaccount_tokens_and_revocation() {
    let devnet = devnet().await;
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    let group = User::new();
    let gid = format!("03{}", group.ed_hex());
    let swarm = swarm_of(&http, &nodes[0], &gid).await;
    let n = &swarm[0];
    let t = now(&http, n).await;
    let member = User::new();
    let token = |flags: u8| -> Vec<u8> {
        [
            vec![0x03, flags, 0, 0],
            member.ed.verifying_key().to_bytes().to_vec(),
        ]
        .concat()
    };
    let read = token(0x01);
    // Admin store to ns 11 with the group key.
    let store = json!({"method":"store","params":{"pubkey": gid, "timestamp": t, "ttl": 600_000,
        "namespace": 11, "data": b64(b"group msg"), "signature": group.sign(format!("store11{t}").as_bytes())}});
    assert_eq!(rpc(&http, n, store).await.0, 200);
    let sub_retrieve = |ns: i16, tok: &[u8]| {
        json!({"method":"retrieve","params":{"pubkey": gid, "namespace": ns, "timestamp": t,
            "subaccount": b64(tok), "subaccount_sig": group.sign(tok),
            "signature": member.sign(format!("retrieve{ns}{t}").as_bytes())}})
    };
    let (s, body) = rpc(&http, n, sub_retrieve(11, &read)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(json_of(&body)["messages"].as_array().unwrap().len(), 1);
    // Read-only token cannot store.
    let sub_store = json!({"method":"store","params":{"pubkey": gid, "timestamp": t, "ttl": 600_000,
        "namespace": 11, "data": b64(b"x"), "subaccount": hex::encode(&read), "subaccount_sig": group.sign(&read),
        "signature": member.sign(format!("store11{t}").as_bytes())}});
    assert_eq!(
        rpc(&http, n, sub_store).await,
        (401, "store signature verification failed".into())
    );
    // Revoke it: ns 11 refuses, ns -11 (unrevocable) still reads.
    let revoke = json!({"method":"revoke_subaccount","params":{"pubkey": gid, "timestamp": t, "revoke": b64(&read),
        "signature": group.sign(&[format!("revoke_subaccount{t}").as_bytes(), &read].concat())}});
    let (s, body) = rpc(&http, n, revoke).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(rpc(&http, &swarm[1], sub_retrieve(11, &read)).await.0, 401);
    assert_eq!(rpc(&http, &swarm[1], sub_retrieve(-11, &read)).await.0, 200);
    let unrevoke = json!({"method":"unrevoke_subaccount","params":{"pubkey": gid, "timestamp": t, "unrevoke": [b64(&read)],
        "signature": group.sign(&[format!("unrevoke_subaccount{t}").as_bytes(), &read].concat())}});
    let v = json_of(&rpc(&http, n, unrevoke).await.1);
    assert_eq!(v["swarm"][&swarm[2].ed]["count"], json!(1));
    assert_eq!(rpc(&http, &swarm[2], sub_retrieve(11, &read)).await.0, 200);
    // pubkey_ed25519 is only for 05 accounts.
    let mut bad = sub_retrieve(11, &read);
    bad["params"]["pubkey_ed25519"] = json!(group.ed_hex());
    assert_eq!(
        rpc(&http, n, bad).await,
        (
            400,
            "invalid request: pubkey_ed25519 is only permitted for 05[...] pubkeys".into()
        )
    );
    devnet.shutdown().await;
}

/// Messages disappear at expiry (devnet clock moved, no sleeping).
#[tokio::test]
async fn expired_messages_disappear() {
    let devnet = devnet().await;
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    let user = User::new();
    let swarm = swarm_of(&http, &nodes[0], &user.id()).await;
    let t = now(&http, &swarm[0]).await;
    let store = json!({"method":"store","params":{"pubkey": user.id(), "timestamp": t, "ttl": 10_000, "data": b64(b"brief")}});
    assert_eq!(rpc(&http, &swarm[0], store).await.0, 200);
    let v = json_of(&rpc(&http, &swarm[1], retrieve_req(&user, 0, t, "")).await.1);
    assert_eq!(v["messages"].as_array().unwrap().len(), 1);
    devnet.advance_clock(10_001);
    let t2 = now(&http, &swarm[1]).await;
    assert!(t2 >= t + 10_001);
    let v = json_of(
        &rpc(&http, &swarm[1], retrieve_req(&user, 0, t2, ""))
            .await
            .1,
    );
    assert!(v["messages"].as_array().unwrap().is_empty());
    assert_eq!(
        devnet
            .network()
            .nodes
            .iter()
            .map(|n| n.store().len())
            .sum::<usize>(),
        0
    );
    devnet.shutdown().await;
}

/// Junk at the RPC entry point gets the real server's answers.
#[tokio::test]
async fn malformed_rpc_input() {
    let devnet = devnet().await;
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    let n = &nodes[0];
    let user = User::new();
    let swarm = swarm_of(&http, n, &user.id()).await;
    let cases: Vec<(Vec<u8>, u16, String)> = vec![
        (b"{not json".to_vec(), 400, "invalid json".into()),
        (b"{\"params\":{}}".to_vec(), 400, "invalid json: no `method` field".into()),
        (b"{\"method\":\"info\"}".to_vec(), 400, "invalid json: no `params` field".into()),
        (b"{\"method\":\"info\",\"params\":[]}".to_vec(), 400, "invalid json: no `params` field".into()),
        (b"{\"method\":\"fly\",\"params\":{}}".to_vec(), 400, "no method fly".into()),
        (json!({"method":"get_swarm","params":{"pubkey":"05abc"}}).to_string().into_bytes(), 400,
            "invalid request: Pubkey must be 66 hex digits (33 bytes) long".into()),
        (json!({"method":"get_swarm","params":{}}).to_string().into_bytes(), 400,
            "invalid request: Required field 'pubkey' missing".into()),
        (json!({"method":"store","params":{"pubkey": user.id(), "timestamp": 1_700_000_000_000u64, "ttl": 60000, "data": "!!!"}}).to_string().into_bytes(),
            400, "invalid request: Invalid 'data' value: not base64 encoded".into()),
        (json!({"method":"store","params":{"pubkey": user.id(), "timestamp": 1_700_000_000_000u64, "ttl": 60000, "expiry": 1_700_000_060_000u64, "data": ""}}).to_string().into_bytes(),
            400, "invalid request: Cannot specify both 'expiry' and 'ttl'".into()),
        (json!({"method":"store","params":{"pubkey": user.id(), "timestamp": 1_700_000_000_000u64, "ttl": 60000, "data": b64(&[0; 76_801])}}).to_string().into_bytes(),
            400, "invalid request: Message body exceeds maximum allowed length of 76800 bytes".into()),
        (json!({"method":"retrieve","params":{"pubkey": user.id(), "namespace": 40000}}).to_string().into_bytes(),
            400, "invalid request: Invalid value given for 'namespace': value out of range".into()),
        (json!({"method":"retrieve","params":{"pubkey": user.id(), "namespace": -10, "last_hash": "short"}}).to_string().into_bytes(),
            400, "invalid request: Invalid last_hash: expected base64 (43 chars)".into()),
        (json!({"method":"delete","params":{"pubkey": user.id(), "messages": [], "signature": b64(&[0; 64])}}).to_string().into_bytes(),
            400, "invalid request: messages does not contain any message hashes".into()),
    ];
    for (body, status, text) in cases {
        let (s, got) = raw(&http, &swarm[0], "/storage_rpc/v1", body.clone()).await;
        assert_eq!(
            (s, got),
            (status, text),
            "{}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        );
    }
    // Oversized body, unknown path, obsolete long-poll header.
    let (s, got) = raw(
        &http,
        n,
        "/storage_rpc/v1",
        vec![b' '; 10 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!((s, got.as_str()), (413, "Request body too large"));
    assert_eq!(raw(&http, n, "/nope", vec![]).await.0, 404);
    let resp = http
        .post(n.url("/storage_rpc/v1"))
        .header("X-Loki-Long-Poll", "true")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 410);
    assert_eq!(raw(&http, n, "/ping_test/v1", vec![]).await.0, 200);
    // Seed junk.
    let resp = http
        .post(devnet.seed_url())
        .body("junk")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(&resp.text().await.unwrap())["error"]["code"],
        json!(-32700)
    );
    devnet.shutdown().await;
}

/// §1 / §4.7: direct client RPCs are rate limited per client IP (429 with SS's text); onion
/// requests through the same node are not. A tiny bucket that never refills makes it exact.
#[tokio::test]
async fn direct_rpcs_are_rate_limited_per_client() {
    use session_gateway::devnet::rate_limit::RateLimit;
    let devnet = session_gateway::devnet::Devnet::start(session_gateway::devnet::DevnetConfig {
        rate_limit: RateLimit {
            bucket_size: 3,
            tokens_per_second: 0.0,
        },
        ..Default::default()
    })
    .await
    .unwrap();
    let http = http();
    let nodes = seed_nodes(&http, devnet.seed_url()).await;
    let info = json!({"method": "info", "params": {}});
    for _ in 0..3 {
        assert_eq!(rpc(&http, &nodes[0], info.clone()).await.0, 200);
    }
    let (status, body) = rpc(&http, &nodes[0], info.clone()).await;
    assert_eq!(
        (status, body.as_str()),
        (429, "Too many requests, try again later")
    );
    // Another node keeps its own buckets.
    assert_eq!(rpc(&http, &nodes[1], info.clone()).await.0, 200);
    // Onion requests entering through the limited node still pass (the limiter is for
    // direct storage RPCs only).
    let path = [nodes[0].clone(), nodes[2].clone(), nodes[3].clone()];
    let (wire, key) = onion_to_snode(&path, &nodes[4], &info, Enc::Gcm);
    let (status, body) = send_onion(&http, &nodes[0], wire).await;
    assert_eq!(status, 200);
    let (code, _) = open_snode_reply(&key, &body).unwrap();
    assert_eq!(code, 200);
    devnet.shutdown().await;
}
