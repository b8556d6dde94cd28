//! The malicious node matrix (issue 14): every devnet fault × every network operation the
//! gateway does. For each fault, a devnet of 12 nodes in 4 swarms of 3 has the fault on one
//! member of every swarm (a third of the nodes), so honest paths and honest members exist; each
//! operation then runs on fresh clients (bootstrap included) until the faulty nodes have
//! actually fired their fault at least once, or once for a cell the fault cannot touch.
//!
//! Every cell must show the operation succeeding through honest nodes, at once or after a few
//! clear errors retried on the same client as the gateway's actors retry a failed poll or send
//! ([`OP_RETRIES`]; the errors are printed), with nothing tampered accepted: stores confirmed
//! only by real swarm members and held intact by an honest one, every message retrieved
//! intact and byte for byte as
//! stored (a node's re-wrapped copy carries the sender's signed bytes unchanged, which the
//! message layer drops as a replay: `tests/gateway_replays.rs`), swarms cached only with real
//! members, files and community posts byte for byte what was uploaded or posted. No cell of
//! the table expects a failure: with a third of the nodes faulty, every operation must get
//! through.
//!
//! Run with `--nocapture` to see, per cell, how many fresh clients it took and how often the
//! fault fired.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test harness code may panic

mod netsupport;

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use base64::Engine as _;
use netsupport::{account, config, fault, identity, swarm_indexes};
use prost::Message as _;
use rand::RngCore as _;
use session_gateway::devnet::community::DEFAULT_ROOM;
use session_gateway::devnet::rpc::params::Account as DevnetAccount;
use session_gateway::devnet::{Devnet, DevnetConfig, Faults};
use session_gateway::network::community::{CommunityServer, PollRoom};
use session_gateway::network::{
    cursors_after, ItemData, NamespaceCursor, NamespaceMessages, OnionCipher, SessionNetwork,
};
use session_gateway::protocol::blinding::Blind15Nonce;
use session_gateway::protocol::community::CommunityPost;
use session_gateway::protocol::groups::subaccount::{MemberAuthData, MemberSubaccount};
use session_gateway::protocol::groups::GroupSecret;
use session_gateway::protocol::keys::{Identity, X25519PublicKey};
use session_gateway::protocol::onion::SnodeEd25519;
use session_gateway::protocol::protos::{
    Content, DataMessage, WebSocketMessage, WebSocketRequestMessage,
};
use session_gateway::protocol::storage::{
    AccountId, MessageHash, Namespace, Signer, SubaccountFlags,
};

/// Devnet layout: 12 nodes in swarms of 3; the fault is on the first member of each swarm.
const NODES: usize = 12;
const SWARM_SIZE: usize = 3;
/// Fresh clients an exercised cell may take before its fault must have fired: each client has
/// at least a one-in-three chance of meeting a faulty node where the fault acts, so 30 leave
/// a chance below (2/3)^30 ≈ 5·10⁻⁶ of a cell never seeing its fault.
const MAX_RUNS: usize = 30;
const TTL_MS: u64 = 3_600_000;

/// The operations: the network client's entry points the gateway's actors call.
const OPS: [&str; 7] = [
    "store",          // SessionNetwork::store (a 1:1 message to the recipient's swarm)
    "retrieve",       // store, then SessionNetwork::retrieve_from polls with member cursors
    "swarm lookup",   // the first request for an account: get_swarm, 421 handling, the cache
    "group poll",     // retrieve_from of a group's 4 namespaces, signed as a member
    "file upload",    // SessionNetwork::upload_file (onion v4 to the file server)
    "file download",  // SessionNetwork::download_file
    "community poll", // SessionNetwork::community_poll (onion v4 /batch to the SOGS)
];

/// Times an operation runs again on the same client after it failed with an error, as the
/// gateway's actors retry a failed poll or send (each within the client's own retry budget
/// of 16 attempts over paths and members).
const OP_RETRIES: usize = 3;

/// Why one run of an operation did not succeed.
#[derive(Debug)]
enum Failure {
    /// The client gave up with an error (retried, like the gateway retries).
    Error(String),
    /// Something tampered or misdirected was accepted: the cell fails at once.
    Violation(String),
}

fn error(context: &str) -> impl Fn(session_gateway::network::NetworkError) -> Failure + '_ {
    move |e| Failure::Error(format!("{context}: {e}"))
}

fn violation(text: impl Into<String>) -> Failure {
    Failure::Violation(text.into())
}

/// What a cell requires.
#[derive(Clone, Copy, Debug)]
enum Cell {
    /// The fault can act on this operation: run fresh clients until it has fired, each must
    /// succeed.
    Exercised,
    /// The fault cannot act on this operation (the reason): run it once with the faulty nodes
    /// in the network; it must succeed.
    Inert(&'static str),
    /// The fault answers a request the client must not make for this operation (the reason):
    /// run it once; it must succeed without the fault firing.
    Unasked(&'static str),
}
use Cell::{Exercised as E, Inert, Unasked};

const RELAY_ONLY: Cell =
    Inert("a server request: service nodes only relay it, and this fault acts on storage RPCs");
const NO_STORE: Cell = Inert("stores nothing");
const NOT_RETRIEVE: Cell = Inert("retrieves nothing");
const NO_REWRAP: Cell = Inert(
    "a group message is encrypted whole (a node cannot re-wrap it), and these were stored \
     before the fault",
);
const EMPTY: Cell = Inert("a new account's swarm holds nothing to alter or skip");
const PREDICTED: Cell = Unasked(
    "the swarm comes from the pool's swarm ids (network.md §3.2), so no get_swarm is asked and \
     requests go to real members only (tests/network_attacks.rs covers lying lookups)",
);
const STORED_BEFORE: Cell =
    Inert("retrieves only; the group's messages were stored before the fault was switched on");

/// The table. Columns in the order of [`OPS`].
#[rustfmt::skip]
const MATRIX: [(&str, [Cell; 7]); 14] = [
    //                      store         retrieve  lookup    group poll     upload      download    community
    ("drop",                [E,            E,        E,        E,             E,          E,          E]),
    ("delay_ms",            [E,            E,        E,        E,             E,          E,          E]),
    ("corrupt_onion",       [E,            E,        E,        E,             E,          E,          E]),
    ("refuse_store",        [E,            E,        NO_STORE, STORED_BEFORE, RELAY_ONLY, RELAY_ONLY, RELAY_ONLY]),
    ("tamper_retrieve",     [NOT_RETRIEVE, E,        EMPTY,    E,             RELAY_ONLY, RELAY_ONLY, RELAY_ONLY]),
    ("cursor_skip",         [NOT_RETRIEVE, E,        EMPTY,    E,             RELAY_ONLY, RELAY_ONLY, RELAY_ONLY]),
    ("always_more",         [NOT_RETRIEVE, E,        E,        E,             RELAY_ONLY, RELAY_ONLY, RELAY_ONLY]),
    ("false_421",           [E,            E,        E,        E,             RELAY_ONLY, RELAY_ONLY, RELAY_ONLY]),
    ("replay",              [E,            E,        NO_STORE, NO_REWRAP,     RELAY_ONLY, RELAY_ONLY, RELAY_ONLY]),
    ("next_node_not_found", [E,            E,        E,        E,             E,          E,          E]),
    ("not_ready",           [E,            E,        E,        E,             E,          E,          E]),
    ("lie_swarm",           [PREDICTED,    PREDICTED, PREDICTED, PREDICTED,   RELAY_ONLY, RELAY_ONLY, RELAY_ONLY]),
    ("huge_reply",          [E,            E,        E,        E,             E,          E,          E]),
    ("clock_lie",           [E,            E,        E,        E,             E,          E,          E]),
];

/// The fault of a row, switched on.
fn faults_of(name: &str) -> Faults {
    fault(|f| match name {
        "drop" => f.drop = 1.0,
        "delay_ms" => f.delay_ms = 300,
        "corrupt_onion" => f.corrupt_onion = true,
        "refuse_store" => f.refuse_store = true,
        "tamper_retrieve" => f.tamper_retrieve = true,
        "cursor_skip" => f.cursor_skip = true,
        "always_more" => f.always_more = true,
        "false_421" => f.false_421 = true,
        "replay" => f.replay = true,
        "next_node_not_found" => f.next_node_not_found = true,
        "not_ready" => f.not_ready = true,
        "lie_swarm" => f.lie_swarm = true,
        "huge_reply" => f.huge_reply = true,
        "clock_lie" => f.clock_lie = true,
        other => panic!("no fault {other} in the matrix"),
    })
}

/// What a row's operations share: the devnet, its faulty nodes, and what was put on the
/// network honestly before the fault went on (a group's messages, a file, community posts).
struct Row {
    devnet: Devnet,
    faulty: Vec<usize>,
    group: GroupFixture,
    file: (String, Vec<u8>),
    community: CommunityServer,
    posts: Vec<(i64, CommunityPost)>,
}

struct GroupFixture {
    account: AccountId,
    member: Identity,
    auth: MemberAuthData,
    /// Every message stored, by hash.
    messages: HashMap<MessageHash, Vec<u8>>,
}

const GROUP_NAMESPACES: [Namespace; 4] = [
    Namespace::GROUP_MESSAGES,
    Namespace::GROUP_KEYS,
    Namespace::GROUP_INFO,
    Namespace::GROUP_MEMBERS,
];

/// A fresh client for the row's devnet: 2 s request timeouts (a dropped request costs one),
/// and the retry budget `a_third_of_the_nodes_faulty` found enough for a third of the nodes
/// faulty.
fn client(devnet: &Devnet) -> SessionNetwork {
    let mut c = config(devnet, OnionCipher::AesGcm);
    c.request_timeout_ms = 2_000;
    c.max_attempts = 16;
    SessionNetwork::new(c).unwrap()
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// A 1:1 payload shaped as the gateway stores one (a `WebSocketMessage` around opaque sealed
/// bytes), so that a `replay` node can re-wrap it.
fn dm_payload() -> Vec<u8> {
    WebSocketMessage {
        r#type: Some(1),
        request: Some(WebSocketRequestMessage {
            verb: Some("PUT".into()),
            path: Some("/api/v1/message".into()),
            body: Some(random_bytes(200)),
            id: Some(rand::random::<u32>().into()),
            headers: Vec::new(),
        }),
    }
    .encode_to_vec()
}

/// The signed part of a 1:1 payload (what the replay key covers).
fn signed_body(payload: &[u8]) -> Option<Vec<u8>> {
    WebSocketMessage::decode(payload).ok()?.request?.body
}

fn community_post(who: &Identity, server: &CommunityServer, text: &str, now: u64) -> CommunityPost {
    let content = Content {
        data_message: Some(DataMessage {
            body: Some(text.to_owned()),
            ..Default::default()
        }),
        sig_timestamp: Some(now),
        ..Default::default()
    };
    CommunityPost::new(
        who,
        server.pubkey(),
        &content.encode_to_vec(),
        now,
        Blind15Nonce::Desktop,
    )
}

impl Row {
    /// Starts the devnet, puts the fixtures on it with an honest network, then switches the
    /// fault on for the first member of every swarm.
    async fn start(faults: Faults) -> Self {
        let devnet = Devnet::start(DevnetConfig {
            nodes: NODES,
            swarm_size: SWARM_SIZE,
            ..DevnetConfig::default()
        })
        .await
        .unwrap();
        let net = client(&devnet);

        // A group with one admin-written message in each of its namespaces, and a member.
        let secret = GroupSecret::generate(&mut rand::rngs::OsRng);
        let group_account = AccountId::new(0x03, *secret.public().as_bytes());
        let admin = Signer::Account(secret.as_identity().signing_key());
        let mut messages = HashMap::new();
        for ns in GROUP_NAMESPACES {
            for _ in 0..2 {
                let data = random_bytes(300);
                let stored = net
                    .store(&group_account, ns, &data, TTL_MS, Some(&admin))
                    .await
                    .unwrap();
                messages.insert(stored.hash, data);
            }
        }
        let member = identity();
        let flags = SubaccountFlags(SubaccountFlags::READ.0 | SubaccountFlags::WRITE.0);
        let auth = MemberAuthData::new(&secret, &member.session_id(), flags).unwrap();
        let group = GroupFixture {
            account: group_account,
            member,
            auth,
            messages,
        };

        let blob = random_bytes(40_000);
        let up = net.upload_file(blob.clone()).await.unwrap();

        let community = CommunityServer::new(
            devnet.community_url(),
            X25519PublicKey::from_bytes(devnet.community_x25519()),
        )
        .unwrap();
        let author = identity();
        let mut posts = Vec::new();
        for text in ["first post", "second post"] {
            let post = community_post(&author, &community, text, net.now_ms());
            let posted = net
                .community_post(&community, &author, DEFAULT_ROOM, &post, &[])
                .await
                .unwrap();
            posts.push((posted.id, post));
        }

        let nodes = devnet.nodes();
        let mut swarms: Vec<u64> = nodes.iter().map(|n| n.swarm_id).collect();
        swarms.dedup();
        let faulty: Vec<usize> = swarms
            .iter()
            .filter_map(|s| nodes.iter().find(|n| n.swarm_id == *s).map(|n| n.index))
            .collect();
        assert_eq!(
            faulty.len(),
            NODES / SWARM_SIZE,
            "one faulty node per swarm"
        );
        for i in &faulty {
            devnet.set_faults(*i, faults.clone());
        }
        Self {
            devnet,
            faulty,
            group,
            file: (up.url, blob),
            community,
            posts,
        }
    }

    fn fired(&self) -> u64 {
        self.faulty
            .iter()
            .map(|i| self.devnet.faults_fired(*i))
            .sum()
    }

    /// The real members of `account`'s swarm, as the devnet lays them out.
    fn members(&self, account: &AccountId) -> Vec<SnodeEd25519> {
        let nodes = self.devnet.nodes();
        swarm_indexes(&self.devnet, account)
            .iter()
            .map(|i| SnodeEd25519::from_bytes(nodes[*i].ed25519))
            .collect()
    }

    /// Runs operation `op` on a fresh client, again after an error up to [`OP_RETRIES`]
    /// times on that client (as the gateway's actors retry); the errors it got past, or why
    /// it did not get through.
    async fn run(&self, op: usize) -> Result<Vec<String>, String> {
        let net = client(&self.devnet);
        let mut errors = Vec::new();
        for _ in 0..=OP_RETRIES {
            match self.run_once(op, &net).await {
                Ok(()) => return Ok(errors),
                Err(Failure::Violation(v)) => return Err(format!("accepted: {v}")),
                Err(Failure::Error(e)) => errors.push(e),
            }
        }
        Err(format!(
            "{} runs failed: {}",
            errors.len(),
            errors.join("; ")
        ))
    }

    async fn run_once(&self, op: usize, net: &SessionNetwork) -> Result<(), Failure> {
        match op {
            0 => self.store(net).await,
            1 => self.retrieve(net).await,
            2 => self.swarm_lookup(net).await,
            3 => self.group_poll(net).await,
            4 => self.file_upload(net).await,
            5 => self.file_download(net).await,
            6 => self.community_poll(net).await,
            _ => unreachable!("seven operations"),
        }
    }

    /// A store lands: confirmed only by real members, held intact by an honest one.
    async fn store(&self, net: &SessionNetwork) -> Result<(), Failure> {
        let me = identity();
        let acct = account(&me);
        let data = dm_payload();
        let stored = net
            .store(&acct, Namespace(0), &data, TTL_MS, None)
            .await
            .map_err(error("store failed"))?;
        let members = self.members(&acct);
        if stored.confirmed_by.is_empty()
            || !stored.confirmed_by.iter().all(|c| members.contains(c))
        {
            return Err(violation(format!(
                "store confirmed by {:?}, not all real members",
                stored.confirmed_by
            )));
        }
        let now = self.devnet.network().clock.now_ms();
        let holder = DevnetAccount(acct.to_bytes());
        let held_intact = swarm_indexes(&self.devnet, &acct)
            .iter()
            .filter(|i| !self.faulty.contains(i))
            .any(|i| {
                self.devnet.network().nodes[*i]
                    .store()
                    .get(&holder, stored.hash.as_str(), now)
                    .is_some_and(|m| m.data == data)
            });
        if !held_intact {
            return Err(violation("no honest member holds the message intact"));
        }
        Ok(())
    }

    /// 1:1 delivery: three stores, polls until all arrived, three more, polls again. Each poll
    /// consumes as the gateway does (intact items in order, stopping before a tampered one)
    /// and advances each member's cursor over what was consumed.
    async fn retrieve(&self, net: &SessionNetwork) -> Result<(), Failure> {
        let me = identity();
        let acct = account(&me);
        let signer = Signer::Account(me.signing_key());
        let mut stored: HashMap<MessageHash, Vec<u8>> = HashMap::new();
        let mut cursor = NamespaceCursor::new(Namespace(0), None);
        let mut received: HashSet<MessageHash> = HashSet::new();
        for round in 0..2 {
            for _ in 0..3 {
                let data = dm_payload();
                let s = net
                    .store(&acct, Namespace(0), &data, TTL_MS, None)
                    .await
                    .map_err(|e| Failure::Error(format!("store (round {round}) failed: {e}")))?;
                stored.insert(s.hash, data);
            }
            let bodies: HashSet<Vec<u8>> = stored.values().filter_map(|d| signed_body(d)).collect();
            let mut polls = 0;
            while !stored.keys().all(|h| received.contains(h)) {
                polls += 1;
                if polls > 6 {
                    return Err(violation(format!(
                        "round {round}: {} of {} messages after 6 polls",
                        received.len(),
                        stored.len()
                    )));
                }
                let pages = net
                    .retrieve_from(&acct, &signer, std::slice::from_ref(&cursor))
                    .await
                    .map_err(|e| Failure::Error(format!("retrieve (round {round}) failed: {e}")))?;
                let slot = pages
                    .first()
                    .ok_or(violation("no namespace in the answer"))?;
                let consumed = consume(slot, |hash, data| match stored.get(hash) {
                    Some(original) => original == data,
                    // A re-wrapped copy under its own hash: the sender's signed bytes unchanged.
                    None => signed_body(data).is_some_and(|b| bodies.contains(&b)),
                })?;
                received.extend(consumed.iter().cloned());
                cursor.advance(&cursors_after(&slot.pages, &consumed));
            }
        }
        Ok(())
    }

    /// The first request for a new account: it must succeed, and the cached swarm may hold
    /// only real members of the account's swarm.
    async fn swarm_lookup(&self, net: &SessionNetwork) -> Result<(), Failure> {
        let me = identity();
        let acct = account(&me);
        let signer = Signer::Account(me.signing_key());
        let got = net
            .retrieve(&acct, &signer, &[(Namespace(0), None)])
            .await
            .map_err(error("first retrieve failed"))?;
        if got.iter().any(|slot| !slot.messages.is_empty()) {
            return Err(violation("a new account has messages"));
        }
        let members: Vec<String> = self.members(&acct).iter().map(|m| m.to_hex()).collect();
        let cached = net.cached_swarm(&acct);
        if cached.is_empty() || !cached.iter().all(|c| members.contains(c)) {
            return Err(violation(format!(
                "cached swarm {cached:?} is not the real one"
            )));
        }
        Ok(())
    }

    /// A member polls the group's four namespaces (signed with its subaccount) until every
    /// message arrived, intact.
    async fn group_poll(&self, net: &SessionNetwork) -> Result<(), Failure> {
        let g = &self.group;
        let sub = MemberSubaccount::new(&g.member, &g.auth).expect("a valid grant");
        let signer = Signer::GroupMember(&sub);
        let mut cursors: Vec<NamespaceCursor> = GROUP_NAMESPACES
            .iter()
            .map(|ns| NamespaceCursor::new(*ns, None))
            .collect();
        let mut received = HashSet::new();
        for _ in 0..6 {
            let pages = net
                .retrieve_from(&g.account, &signer, &cursors)
                .await
                .map_err(error("group retrieve failed"))?;
            for (cursor, slot) in cursors.iter_mut().zip(&pages) {
                let consumed = consume(slot, |hash, data| g.messages.get(hash) == Some(data))?;
                received.extend(consumed.iter().cloned());
                cursor.advance(&cursors_after(&slot.pages, &consumed));
            }
            if g.messages.keys().all(|h| received.contains(h)) {
                return Ok(());
            }
        }
        Err(violation(format!(
            "{} of {} group messages after 6 polls",
            received.len(),
            g.messages.len()
        )))
    }

    /// An upload lands byte for byte on the file server.
    async fn file_upload(&self, net: &SessionNetwork) -> Result<(), Failure> {
        let blob = random_bytes(30_000);
        let up = net
            .upload_file(blob.clone())
            .await
            .map_err(error("upload failed"))?;
        match self.devnet.file_server().file(&up.id) {
            Some(held) if held == blob => Ok(()),
            Some(_) => Err(violation("the file server holds other bytes")),
            None => Err(violation(format!("no file {} on the server", up.id))),
        }
    }

    /// A download returns exactly what was uploaded.
    async fn file_download(&self, net: &SessionNetwork) -> Result<(), Failure> {
        let (url, blob) = &self.file;
        let got = net
            .download_file(url)
            .await
            .map_err(error("download failed"))?;
        if got != *blob {
            return Err(violation(format!("downloaded {} other bytes", got.len())));
        }
        Ok(())
    }

    /// A poll of the room returns the posts exactly as their author signed them.
    async fn community_poll(&self, net: &SessionNetwork) -> Result<(), Failure> {
        let reader = identity();
        let rooms = [PollRoom {
            token: DEFAULT_ROOM.to_owned(),
            seqno: 0,
            info_updates: 0,
        }];
        let polled = net
            .community_poll(&self.community, &reader, &rooms)
            .await
            .map_err(error("community poll failed"))?;
        let room = polled.first().ok_or(violation("no room in the poll"))?;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        for (id, post) in &self.posts {
            let m = room
                .messages
                .iter()
                .find(|m| m.id == *id)
                .ok_or_else(|| violation(format!("post {id} missing from the poll")))?;
            if m.data.as_deref() != Some(b64(post.data()).as_str())
                || m.signature.as_deref() != Some(b64(post.signature()).as_str())
            {
                return Err(violation(format!("post {id} came back altered")));
            }
        }
        Ok(())
    }
}

/// Consumes one namespace's items as the gateway does: intact items in order, stopping before
/// a tampered one (asked again next poll). `known` says whether an intact item's bytes are
/// what was stored; an intact item it refuses is an error (a node slipped something in).
fn consume(
    slot: &NamespaceMessages,
    known: impl Fn(&MessageHash, &Vec<u8>) -> bool,
) -> Result<HashSet<MessageHash>, Failure> {
    let mut consumed = HashSet::new();
    for m in &slot.messages {
        match &m.data {
            ItemData::Intact(data) if known(&m.hash, data) => {
                consumed.insert(m.hash.clone());
            }
            ItemData::Intact(_) => {
                return Err(violation(format!(
                    "an intact-looking item {} was never stored",
                    m.hash
                )))
            }
            ItemData::Tampered(_) => break,
        }
    }
    Ok(consumed)
}

/// Runs row `fault`: every operation per its cell; prints one line per cell.
async fn run_row(fault: &str) {
    let (_, cells) = MATRIX
        .iter()
        .find(|(name, _)| *name == fault)
        .unwrap_or_else(|| panic!("{fault} is not in the matrix"));
    let row = Row::start(faults_of(fault)).await;
    let started = Instant::now();
    let mut failures = Vec::new();
    for (op, cell) in cells.iter().enumerate() {
        let before = row.fired();
        let cell_started = Instant::now();
        let max = match cell {
            Cell::Exercised => MAX_RUNS,
            Cell::Inert(_) | Cell::Unasked(_) => 1,
        };
        let mut runs = 0;
        let mut error = None;
        let mut retried = Vec::new();
        while runs < max {
            runs += 1;
            match row.run(op).await {
                Ok(errors) => retried.extend(errors),
                Err(e) => {
                    error = Some(format!("client {runs}: {e}"));
                    break;
                }
            }
            if row.fired() > before {
                break;
            }
        }
        let fired = row.fired() - before;
        let took = cell_started.elapsed();
        let verdict = match (cell, error) {
            (_, Some(e)) => Err(e),
            (Cell::Exercised, None) if fired == 0 => {
                Err(format!("the fault never fired in {runs} runs"))
            }
            (Cell::Exercised, None) => Ok(format!(
                "ok, fault fired {fired}x with {runs} client(s), {} retried error(s)",
                retried.len()
            )),
            (Cell::Inert(why), None) => Ok(format!("ok (inert: {why}; fired {fired}x)")),
            (Cell::Unasked(why), None) if fired > 0 => Err(format!(
                "the fault fired {fired}x, but the client should not have asked ({why})"
            )),
            (Cell::Unasked(why), None) => Ok(format!("ok (unasked: {why})")),
        };
        for e in &retried {
            println!("matrix {fault} × {}: retried after: {e}", OPS[op]);
        }
        let line = match &verdict {
            Ok(text) => text.clone(),
            Err(e) => format!("FAILED: {e}"),
        };
        println!("matrix {fault} × {}: {line} [{took:.1?}]", OPS[op]);
        if let Err(e) = verdict {
            failures.push(format!("{fault} × {}: {e}", OPS[op]));
        }
    }
    println!("matrix {fault}: row took {:.1?}", started.elapsed());
    row.devnet.shutdown().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

macro_rules! rows {
    ($($fault:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $fault() {
                run_row(stringify!($fault)).await;
            }
        )*

        /// Every fault of the table has its test, and every fault the devnet knows is in the
        /// table (a new fault field must get a row).
        #[test]
        fn the_table_covers_every_fault() {
            let tested = [$(stringify!($fault)),*];
            let table: Vec<&str> = MATRIX.iter().map(|(name, _)| *name).collect();
            assert_eq!(table, tested);
            let fields = serde_json::to_value(Faults::default()).unwrap();
            let mut fields: Vec<String> = fields
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "only_account") // a scope for other faults, not a fault
                .cloned()
                .collect();
            fields.sort();
            let mut table: Vec<String> = table.iter().map(|s| s.to_string()).collect();
            table.sort();
            assert_eq!(fields, table);
        }
    };
}

rows!(
    drop,
    delay_ms,
    corrupt_onion,
    refuse_store,
    tamper_retrieve,
    cursor_skip,
    always_more,
    false_421,
    replay,
    next_node_not_found,
    not_ready,
    lie_swarm,
    huge_reply,
    clock_lie,
);
