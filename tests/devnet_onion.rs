//! Onion requests through the devnet (network.md §5): 3 hops to a node and to the file server
//! with both ciphers, the error answers, every fault kind, the control API and the route log.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod devnet_common;

use std::time::{Duration, Instant};

use devnet_common::*;
use serde_json::{json, Value};
use session_gateway::devnet::{Arrival, Faults};

struct Setup {
    devnet: session_gateway::devnet::Devnet,
    http: reqwest::Client,
    nodes: Vec<Snode>,
    user: User,
    swarm: Vec<Snode>,
    path: Vec<Snode>,
}

impl Setup {
    async fn new() -> Self {
        let devnet = devnet().await;
        let http = http();
        let nodes = seed_nodes(&http, devnet.seed_url()).await;
        let user = User::new();
        let swarm = swarm_of(&http, &nodes[0], &user.id()).await;
        // The path avoids the swarm and nodes[0], which answered the direct get_swarm above
        // (so its route log is not empty).
        let path: Vec<Snode> = nodes
            .iter()
            .skip(1)
            .filter(|n| !swarm.iter().any(|s| s.ed == n.ed))
            .take(3)
            .cloned()
            .collect();
        Self {
            devnet,
            http,
            nodes,
            user,
            swarm,
            path,
        }
    }

    fn index_of(&self, n: &Snode) -> usize {
        self.nodes.iter().position(|x| x.ed == n.ed).unwrap()
    }

    async fn onion_rpc(&self, dest: &Snode, body: &Value, enc: Enc) -> (u16, Vec<u8>, HopKey) {
        let (wire, key) = onion_to_snode(&self.path, dest, body, enc);
        let (s, b) = send_onion(&self.http, &self.path[0], wire).await;
        (s, b, key)
    }

    fn store_req(&self, data: &[u8]) -> Value {
        let t = self.devnet.network().clock.now_ms();
        json!({"method":"store","params":{"pubkey": self.user.id(), "timestamp": t, "ttl": 600_000, "data": b64(data)}})
    }

    fn retrieve_req(&self) -> Value {
        let t = self.devnet.network().clock.now_ms();
        json!({"method":"retrieve","params":{"pubkey": self.user.id(), "pubkey_ed25519": self.user.ed_hex(),
            "timestamp": t, "signature": self.user.sign(format!("retrieve{t}").as_bytes())}})
    }
}

/// Store and retrieve through 3 hops with aes-gcm and xchacha20; the route log shows the
/// destination got it from the last relay, and a direct request is logged as direct.
#[tokio::test]
async fn onion_to_node_over_three_hops() {
    let s = Setup::new().await;
    for (i, enc) in [Enc::Gcm, Enc::XChaCha].into_iter().enumerate() {
        let data = format!("via onion {i}");
        let (status, body, key) = s
            .onion_rpc(&s.swarm[0], &s.store_req(data.as_bytes()), enc)
            .await;
        assert_eq!(status, 200);
        let (code, inner) = open_snode_reply(&key, &body).expect("decrypts");
        assert_eq!(code, 200, "{inner}");
        assert_eq!(
            json_of(&inner)["hash"],
            json!(hash(&s.user.id(), 0, data.as_bytes()))
        );
        // SD's batch shape, retrieved from another member.
        let batch = json!({"method":"batch","params":{"requests":[s.retrieve_req()]}});
        let (status, body, key) = s.onion_rpc(&s.swarm[2], &batch, enc).await;
        assert_eq!(status, 200);
        let (code, inner) = open_snode_reply(&key, &body).unwrap();
        assert_eq!(code, 200);
        let v = json_of(&inner);
        assert_eq!(v["results"][0]["code"], json!(200));
        assert_eq!(
            v["results"][0]["body"]["messages"]
                .as_array()
                .unwrap()
                .len(),
            i + 1
        );
    }
    let log = s.devnet.routes(s.index_of(&s.swarm[2]));
    let last = log.last().unwrap();
    assert_eq!(last.method, "batch[retrieve]");
    assert_eq!(last.pubkeys, vec![s.user.id()]);
    assert!(matches!(&last.arrival, Arrival::Onion { relay: Some(r), .. } if *r == s.path[2].ed));
    assert!(
        s.devnet.routes(s.index_of(&s.path[0])).is_empty(),
        "relays log no storage RPC"
    );
    rpc(&s.http, &s.swarm[2], json!({"method":"info","params":{}})).await;
    assert!(matches!(
        s.devnet
            .routes(s.index_of(&s.swarm[2]))
            .last()
            .unwrap()
            .arrival,
        Arrival::Direct { .. }
    ));
    // The control API serves the same log.
    let url = format!("{}/nodes/{}/routes", s.devnet.control_url(), s.swarm[2].ed);
    let v: Value = s.http.get(url).send().await.unwrap().json().await.unwrap();
    assert_eq!(v[0]["via"], json!("onion"));
    assert_eq!(v[0]["relay"], json!(s.path[2].ed));
    assert_eq!(
        v.as_array().unwrap().last().unwrap()["via"],
        json!("direct")
    );
    s.devnet.shutdown().await;
}

/// Upload and download through 3 hops to the file server with both ciphers; size limit; 404.
#[tokio::test]
async fn onion_v4_to_file_server() {
    let s = Setup::new().await;
    let fs_url = s.devnet.file_server_url().to_owned();
    let fs_x = s.devnet.file_server_x25519();
    for enc in [Enc::Gcm, Enc::XChaCha] {
        let file: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let meta = json!({"method":"POST","endpoint":"/file","headers":{"Content-Type":"application/octet-stream"}});
        let (wire, key) = onion_to_server(&s.path, &fs_url, &fs_x, &meta, Some(&file), enc);
        let (status, body) = send_onion(&s.http, &s.path[0], wire).await;
        assert_eq!(status, 200);
        let (meta, body) = open_v4_reply(&key, &body).expect("v4 reply decrypts");
        assert_eq!(meta["code"], json!(200));
        assert_eq!(meta["headers"]["content-type"], json!("application/json"));
        let v: Value = serde_json::from_slice(&body).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        assert!(v["expires"].as_f64().unwrap() > 1e9);
        let meta = json!({"method":"GET","endpoint":format!("/file/{id}"),"headers":{}});
        let (wire, key) = onion_to_server(&s.path, &fs_url, &fs_x, &meta, None, enc);
        let (_, body) = send_onion(&s.http, &s.path[0], wire).await;
        let (meta, body) = open_v4_reply(&key, &body).unwrap();
        assert_eq!(meta["code"], json!(200));
        assert_eq!(body, file);
    }
    let meta = json!({"method":"GET","endpoint":"/file/123","headers":{}});
    let (wire, key) = onion_to_server(&s.path, &fs_url, &fs_x, &meta, None, Enc::Gcm);
    let (_, body) = send_onion(&s.http, &s.path[0], wire).await;
    assert_eq!(open_v4_reply(&key, &body).unwrap().0["code"], json!(404));
    // The limit applies to the uploaded (encrypted) body, as on the real server: the largest
    // legacy blob of a 10,000,000-byte attachment (10,000,064 bytes) is fine, one more is not.
    let max = session_gateway::protocol::attachment::MAX_LEGACY_BLOB;
    for (size, code) in [(max, 200), (max + 1, 413)] {
        let meta = json!({"method":"POST","endpoint":"/file","headers":{}});
        let (wire, key) = onion_to_server(
            &s.path,
            &fs_url,
            &fs_x,
            &meta,
            Some(&vec![7u8; size]),
            Enc::XChaCha,
        );
        let (status, body) = send_onion(&s.http, &s.path[0], wire).await;
        assert_eq!(status, 200);
        assert_eq!(
            open_v4_reply(&key, &body).unwrap().0["code"],
            json!(code),
            "size {size}"
        );
    }
    // Files expire (devnet clock).
    s.devnet.advance_clock(15 * 86_400_000);
    s.devnet.shutdown().await;
}

/// Truncated frames, wrong keys, bad JSON, unknown next node, bad proxy URL.
#[tokio::test]
async fn malformed_onion_input() {
    let s = Setup::new().await;
    let guard = &s.path[0];
    for junk in [
        vec![],
        vec![1, 0],
        vec![10, 0, 0, 0, 1, 2],
        b"\x02\x00\x00\x00ab{nojson".to_vec(),
        b"\x02\x00\x00\x00ab{\"ephemeral_key\":\"zz\"}".to_vec(),
    ] {
        let (status, body) = send_onion(&s.http, guard, junk).await;
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).starts_with("Error parsing onion request: "));
    }
    // Encrypted to the wrong node's key.
    let wrong = Snode {
        x: s.path[1].x,
        ..guard.clone()
    };
    let (wire, _) = onion_to_snode(
        &[wrong, s.path[1].clone(), s.path[2].clone()],
        &s.swarm[0],
        &json!({}),
        Enc::Gcm,
    );
    assert_eq!(
        send_onion(&s.http, guard, wire).await,
        (400, b"Invalid ciphertext".to_vec())
    );
    // A destination that does not exist.
    let ghost = Snode {
        ed: "ab".repeat(32),
        ..s.swarm[0].clone()
    };
    let (wire, _) = onion_to_snode(&s.path, &ghost, &json!({}), Enc::XChaCha);
    let (status, body) = send_onion(&s.http, guard, wire).await;
    assert_eq!(
        (status, String::from_utf8(body).unwrap()),
        (502, format!("Next node not found: {}", ghost.ed))
    );
    // Junk RPC JSON at the destination comes back encrypted with the real status inside.
    let (status, body, key) = s
        .onion_rpc(&s.swarm[0], &json!({"method": 5}), Enc::Gcm)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        open_snode_reply(&key, &body).unwrap(),
        (400, "invalid json: no `method` field".into())
    );
    // Bad proxy target.
    let meta = json!({"method":"GET","endpoint":"/file/1","headers":{}});
    let (wire, _) = onion_to_server(
        &s.path,
        "http://127.0.0.1:1",
        &[9; 32],
        &meta,
        None,
        Enc::Gcm,
    );
    let (status, _) = send_onion(&s.http, guard, wire).await;
    assert_eq!(status, 502, "connect failure to a closed port");
    s.devnet.shutdown().await;
}

async fn put_faults(s: &Setup, node: &Snode, f: Value) -> u16 {
    let url = format!(
        "{}/nodes/{}/faults",
        s.devnet.control_url(),
        s.index_of(node)
    );
    s.http
        .put(url)
        .json(&f)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Every fault kind, switched on at runtime through the control API.
#[tokio::test]
async fn faults_from_the_control_api() {
    let s = Setup::new().await;
    assert_eq!(
        put_faults(&s, &s.path[1], json!({"flying": true})).await,
        400
    );
    assert_eq!(put_faults(&s, &s.path[1], json!({"drop": 2.0})).await, 400);

    // drop on a relay: the previous hop reports a timeout.
    assert_eq!(put_faults(&s, &s.path[1], json!({"drop": 1.0})).await, 200);
    let (status, body, _) = s.onion_rpc(&s.swarm[0], &s.store_req(b"x"), Enc::Gcm).await;
    assert_eq!((status, body), (504, b"Request time out".to_vec()));
    // drop on a direct request: no answer.
    let direct = s
        .http
        .post(s.path[1].url("/storage_rpc/v1"))
        .body("{}")
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(direct.unwrap_err().is_timeout());
    put_faults(&s, &s.path[1], json!({})).await;

    // delay
    put_faults(&s, &s.path[1], json!({"delay_ms": 300})).await;
    let started = Instant::now();
    let (status, _, _) = s.onion_rpc(&s.swarm[0], &s.store_req(b"x"), Enc::Gcm).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    put_faults(&s, &s.path[1], json!({})).await;

    // Next node not found
    put_faults(&s, &s.path[0], json!({"next_node_not_found": true})).await;
    let (status, body, _) = s.onion_rpc(&s.swarm[0], &s.store_req(b"x"), Enc::Gcm).await;
    assert_eq!(
        (status, String::from_utf8(body).unwrap()),
        (502, format!("Next node not found: {}", s.path[1].ed))
    );
    put_faults(&s, &s.path[0], json!({})).await;

    // 503
    put_faults(&s, &s.path[2], json!({"not_ready": true})).await;
    let (status, _, _) = s.onion_rpc(&s.swarm[0], &s.store_req(b"x"), Enc::Gcm).await;
    assert_eq!(status, 503);
    assert_eq!(
        rpc(&s.http, &s.path[2], json!({"method":"info","params":{}})).await,
        (503, "Snode not ready".into())
    );
    put_faults(&s, &s.path[2], json!({})).await;

    // corrupt onion replies
    put_faults(&s, &s.swarm[0], json!({"corrupt_onion": true})).await;
    let (status, body, key) = s
        .onion_rpc(&s.swarm[0], &s.store_req(b"x"), Enc::XChaCha)
        .await;
    assert_eq!(status, 200);
    assert!(open_snode_reply(&key, &body).is_none());
    put_faults(&s, &s.swarm[0], json!({})).await;

    // false 421
    put_faults(&s, &s.swarm[0], json!({"false_421": true})).await;
    let (code, body) = rpc(&s.http, &s.swarm[0], s.store_req(b"y")).await;
    assert_eq!(code, 421);
    let listed: Vec<String> = json_of(&body)["snodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["pubkey_ed25519"].as_str().unwrap().to_owned())
        .collect();
    assert!(!listed.contains(&s.swarm[0].ed));
    put_faults(&s, &s.swarm[0], json!({})).await;

    // refuse stores: as entry node → 500; as a peer → its entry failed, the store still succeeds.
    put_faults(&s, &s.swarm[1], json!({"refuse_store": true})).await;
    assert_eq!(rpc(&s.http, &s.swarm[1], s.store_req(b"z")).await.0, 500);
    let (code, body) = rpc(&s.http, &s.swarm[0], s.store_req(b"z")).await;
    assert_eq!(code, 200);
    assert_eq!(
        json_of(&body)["swarm"][&s.swarm[1].ed],
        json!({"failed": true, "query_failure": true})
    );
    put_faults(&s, &s.swarm[1], json!({})).await;

    // tampered retrieve data
    put_faults(&s, &s.swarm[3], json!({"tamper_retrieve": true})).await;
    let v = json_of(&rpc(&s.http, &s.swarm[3], s.retrieve_req()).await.1);
    for m in v["messages"].as_array().unwrap() {
        let data = unb64(m["data"].as_str().unwrap());
        assert_ne!(hash(&s.user.id(), 0, &data), m["hash"].as_str().unwrap());
    }
    let got: Faults = s
        .http
        .get(format!(
            "{}/nodes/{}/faults",
            s.devnet.control_url(),
            s.index_of(&s.swarm[3])
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(got.tamper_retrieve);
    s.devnet.shutdown().await;
}

/// The CLI prints one JSON line and exits cleanly on SIGTERM; `--faults` applies at start.
#[tokio::test]
async fn cli_prints_summary_and_stops_on_sigterm() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_session-gateway"))
        .args([
            "devnet",
            "--nodes",
            "5",
            "--swarm-size",
            "2",
            "--faults",
            "1:not_ready",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().unwrap();
    let v = json_of(&line);
    assert_eq!(v["nodes"].as_array().unwrap().len(), 5);
    for key in [
        "ip",
        "storage_port",
        "pubkey_ed25519",
        "pubkey_x25519",
        "swarm_id",
    ] {
        assert!(!v["nodes"][0][key].is_null(), "{key}");
    }
    assert!(v["file_server"]["pubkey_x25519"].as_str().unwrap().len() == 64);
    let community = &v["community"];
    assert!(community["join_url"].as_str().unwrap().ends_with(&format!(
        "/lobby?public_key={}",
        community["pubkey_x25519"].as_str().unwrap()
    )));
    let http = http();
    let nodes = seed_nodes(&http, v["seed"].as_str().unwrap()).await;
    assert_eq!(
        rpc(&http, &nodes[1], json!({"method":"info","params":{}}))
            .await
            .0,
        503
    );
    let control: Value = http
        .get(format!("{}/nodes", v["control"].as_str().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(control[1]["faults"]["not_ready"], json!(true));
    let pid = child.id().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}
