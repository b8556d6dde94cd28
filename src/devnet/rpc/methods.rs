//! Non-recursive methods and `store` (network.md §4.6): `store`, `retrieve`, `info`,
//! `get_swarm`, `oxend_request`, `get_expiries`. Check order and texts follow SS
//! `request_handler.cpp`.

use ed25519_dalek::Signer;
use serde_json::{json, Map, Value};

use super::auth::{self, SIGNATURE_TOLERANCE_MS};
use super::params::{self, b64_decode, b64_encode, require, Params, ParseResult};
use super::swarm::{check_swarm, fan_out, lying_swarm_json, swarm_json};
use super::{add_misc, Ctx, Response};
use crate::devnet::faults;
use crate::devnet::net::{HARDFORK, VERSION};
use crate::devnet::seed;
use crate::devnet::store::{Message, RetrieveLimits, Stored};
use crate::devnet::wire::{message_hash, ns_text};

/// Largest message body in bytes (`MAX_MESSAGE_BODY`).
pub const MAX_MESSAGE_BODY: usize = 76_800;
/// `TTL_MINIMUM` (10 s).
pub const TTL_MIN_MS: i64 = 10_000;
/// `TTL_MAXIMUM` for public inboxes (14 days).
pub const TTL_MAX_PUBLIC_MS: i64 = 14 * 24 * 3600 * 1000;
/// `TTL_MAXIMUM_PRIVATE` (30 days).
pub const TTL_MAX_PRIVATE_MS: i64 = 30 * 24 * 3600 * 1000;
/// `STORE_TOLERANCE` (10 s).
const STORE_TOLERANCE_MS: i64 = 10_000;
/// `RETRIEVE_MAX_SIZE`.
pub const RETRIEVE_MAX_SIZE: i64 = 7_800_000;

/// Public inbox: `ns % 10 == 0` with C semantics (§4.3).
pub fn is_public_inbox(ns: i16) -> bool {
    ns % 10 == 0
}

/// Public outbox: negative with `(-n) % 20 == 1`.
pub fn is_public_outbox(ns: i16) -> bool {
    ns < 0 && (-i32::from(ns)) % 20 == 1
}

/// Retrieve without auth: −10 or a public outbox.
fn is_noauth_retrieve(ns: i16) -> bool {
    ns == -10 || is_public_outbox(ns)
}

/// Revoked subaccounts may still read: negative with `(-n) % 100 == 11`.
fn is_unrevocable(ns: i16) -> bool {
    ns < 0 && (-i32::from(ns)) % 100 == 11
}

/// `store` (§4.6).
pub fn store(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    let data = p.str("data")?;
    let expiry = p.timestamp("expiry")?;
    let ns = p.namespace()?.unwrap_or(0);
    let sig_ts = p.timestamp("sig_timestamp")?;
    let timestamp = p.stringified("timestamp", "integer")?;
    let ttl = p.stringified("ttl", "positive integer")?;
    let timestamp = require("timestamp", timestamp)?;
    let expiry = match (expiry, ttl) {
        (Some(_), Some(_)) => return Err("Cannot specify both 'expiry' and 'ttl'".into()),
        (None, None) => return Err("Required field 'expiry' or 'ttl' missing".into()),
        (Some(e), None) => i64::try_from(e).unwrap_or(i64::MAX),
        (None, Some(ttl)) => timestamp.saturating_add(ttl),
    };
    let account = p.account(true)?;
    let auth = match p.str("signature")? {
        Some(_) => Some(auth::parse(p, &account)?),
        None => None,
    };
    let data = require("data", data)?;
    let data = b64_decode(data).ok_or("Invalid 'data' value: not base64 encoded")?;
    if data.len() > MAX_MESSAGE_BODY {
        return Err(format!(
            "Message body exceeds maximum allowed length of {MAX_MESSAGE_BODY} bytes"
        ));
    }

    let hash = message_hash(&account.0, ns, &data);
    if ctx.node.faults().lie_swarm && ctx.net.swarm_for(&account.0) != Some(ctx.node.info.swarm_id)
    {
        // A store sent here on the strength of a lying swarm answer: "confirm" it with our own
        // signature and keep nothing.
        ctx.node.count_fault();
        let sig = ctx.node.ed_key.sign(hash.as_bytes());
        let entry = json!({"hash": hash, "signature": b64_encode(&sig.to_bytes()),
            "expiry": expiry, "t": ctx.now});
        let mut body = json!({"swarm": {ctx.node.ed_hex(): entry}, "hash": hash});
        add_misc(&mut body, ctx.now);
        return Ok(Response::json(200, body));
    }
    if let Some(r) = check_swarm(ctx, &account) {
        return Ok(r);
    }
    let now = i64::try_from(ctx.now).unwrap_or(i64::MAX);
    let public_in = is_public_inbox(ns);
    let ttl = expiry.saturating_sub(timestamp);
    let max_ttl = if public_in {
        TTL_MAX_PUBLIC_MS
    } else {
        TTL_MAX_PRIVATE_MS
    };
    if !(TTL_MIN_MS..=max_ttl).contains(&ttl) {
        return Ok(Response::text(403, "Provided expiry/TTL is not valid."));
    }
    if timestamp > now + STORE_TOLERANCE_MS || expiry < now - STORE_TOLERANCE_MS {
        return Ok(Response::text(406, "Timestamp error: check your clock"));
    }
    if !public_in {
        let Some(auth) = auth else {
            let msg = format!("store: signature required to store to namespace {ns}");
            return Ok(Response::text(401, msg));
        };
        let sig_ts = sig_ts.unwrap_or(u64::try_from(timestamp).unwrap_or(0));
        if !auth::within(sig_ts, ctx.now, SIGNATURE_TOLERANCE_MS) {
            let msg = "store signature timestamp too far from current time";
            return Ok(Response::text(406, msg));
        }
        let mut needed = auth::WRITE;
        if is_public_outbox(ns) {
            needed |= auth::DELETE;
        }
        let msg = format!("store{}{sig_ts}", ns_text(ns));
        if !auth::verify(ctx.node, &account, &auth, needed, false, msg.as_bytes()) {
            return Ok(Response::text(401, "store signature verification failed"));
        }
    }

    let message = Message {
        hash: hash.clone(),
        namespace: ns,
        timestamp: u64::try_from(timestamp).unwrap_or(0),
        expiry: u64::try_from(expiry).unwrap_or(0),
        data,
    };
    if ctx.node.faults().refuse_store {
        ctx.node.count_fault();
        let mut body =
            json!({"swarm": {ctx.node.ed_hex(): {"failed": true, "query_failure": true}}});
        add_misc(&mut body, ctx.now);
        return Ok(Response::json(500, body));
    }
    let entry_node = ctx.node.info.ed25519;
    let mut resp = fan_out(ctx, &account, |member| {
        if member.faults().refuse_store {
            member.count_fault();
            return json!({"failed": true, "query_failure": true});
        }
        let stored = member.store().store(account, message.clone());
        if member.faults().replay {
            // Issue 13, attack 3: the same sealed content again, under a new hash.
            if let Some(data) = faults::rewrap(&message.data) {
                member.count_fault();
                let copy = Message {
                    hash: message_hash(&account.0, ns, &data),
                    data,
                    ..message.clone()
                };
                member.store().store(account, copy);
            }
        }
        let sig = member.ed_key.sign(hash.as_bytes());
        let mut entry = json!({
            "hash": hash,
            "signature": b64_encode(&sig.to_bytes()),
            "expiry": message.expiry,
        });
        if stored == Stored::Already {
            entry["already"] = json!(true);
        }
        if member.info.ed25519 == entry_node {
            entry["t"] = json!(ctx.now);
        }
        entry
    });
    if let super::Body::Json(v) = &mut resp.body {
        v["hash"] = json!(hash);
    }
    Ok(resp)
}

/// `retrieve` (§4.6).
pub fn retrieve(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    let last_hash = p.str("last_hash")?;
    let last_hash_alt = p.str("lastHash")?;
    let max_count = p.int("max_count")?;
    let max_size = p.int("max_size")?;
    let ns = p.namespace()?;
    let has_ed = p.str("pubkey_ed25519")?.is_some();
    let has_sig = p.str("signature")?.is_some();
    let timestamp = p.timestamp("timestamp")?;
    let account = p.account(true)?;
    let check =
        has_ed || has_sig || timestamp.is_some() || ns.is_some_and(|n| !is_noauth_retrieve(n));
    let auth = if check {
        let auth = auth::parse(p, &account)?;
        Some((auth, require("timestamp", timestamp)?))
    } else {
        None
    };
    let ns = ns.unwrap_or(0);
    let last_hash = match (last_hash, last_hash_alt) {
        (Some(_), Some(_)) => return Err("Cannot specify both 'last_hash' and 'lastHash'".into()),
        (a, b) => a.or(b).filter(|h| !h.is_empty()),
    };
    if let Some(h) = last_hash {
        if h.len() != 43 {
            return Err("Invalid last_hash: expected base64 (43 chars)".into());
        }
        if b64_decode(h).is_none() {
            return Err("Invalid last_hash: not base64".into());
        }
    }

    if let Some(r) = check_swarm(ctx, &account) {
        return Ok(r);
    }
    match auth {
        None if !is_noauth_retrieve(ns) => {
            return Ok(Response::text(401, "retrieve: request signature required"))
        }
        None => {}
        Some((auth, ts)) => {
            if !auth::within(ts, ctx.now, SIGNATURE_TOLERANCE_MS) {
                let msg = "retrieve timestamp too far from current time";
                return Ok(Response::text(406, msg));
            }
            let msg = format!("retrieve{}{ts}", ns_text(ns));
            let skip_revoke = is_unrevocable(ns);
            if !auth::verify(
                ctx.node,
                &account,
                &auth,
                auth::READ,
                skip_revoke,
                msg.as_bytes(),
            ) {
                return Ok(Response::text(
                    401,
                    "retrieve signature verification failed",
                ));
            }
        }
    }
    let limits = retrieve_limits(max_count, max_size);
    let (mut msgs, mut more) = ctx
        .node
        .store()
        .retrieve(&account, ns, last_hash, limits, ctx.now);
    let faults = ctx.node.faults();
    if faults.cursor_skip && msgs.len() > 1 {
        ctx.node.count_fault();
        msgs = msgs.pop().into_iter().collect();
    }
    if faults.always_more && !more {
        ctx.node.count_fault();
        more = true;
    }
    let tamper = faults.tamper_retrieve && faults.aims_at(&account.0);
    if tamper && !msgs.is_empty() {
        ctx.node.count_fault();
    }
    let messages: Vec<Value> = msgs
        .into_iter()
        .map(|mut m| {
            if tamper {
                faults::corrupt(&mut m.data);
            }
            json!({"hash": m.hash, "timestamp": m.timestamp, "expiration": m.expiry,
                   "data": b64_encode(&m.data)})
        })
        .collect();
    let mut body = json!({"messages": messages, "more": more});
    add_misc(&mut body, ctx.now);
    Ok(Response::json(200, body))
}

/// SS's size rules: 0 is unset; neither set → −5; −k → 7.8 MB / k; cap 7.8 MB.
fn retrieve_limits(max_count: Option<i64>, max_size: Option<i64>) -> RetrieveLimits {
    let max_count = max_count.filter(|c| *c != 0);
    let mut max_size = max_size.filter(|s| *s != 0);
    if max_count.is_none() && max_size.is_none() {
        max_size = Some(-5);
    }
    let size = match max_size {
        Some(s) if s < 0 => RETRIEVE_MAX_SIZE / s.saturating_neg(),
        Some(s) if s <= RETRIEVE_MAX_SIZE => s,
        _ => RETRIEVE_MAX_SIZE,
    };
    RetrieveLimits {
        max_count: max_count.map(|c| usize::try_from(c.max(1)).unwrap_or(usize::MAX)),
        max_size: usize::try_from(size).unwrap_or(0),
    }
}

/// `info`: version and clock (§4.6).
pub fn info(ctx: &Ctx<'_>) -> Response {
    Response::json(
        200,
        json!({"version": VERSION, "timestamp": ctx.now, "t": ctx.now, "hf": HARDFORK}),
    )
}

/// `get_swarm` / `get_snodes_for_pubkey` (§3.3): never 421.
pub fn get_swarm(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    let account = p.account(true)?;
    let swarm = ctx.net.swarm_for(&account.0);
    let mut body = if ctx.node.faults().lie_swarm {
        ctx.node.count_fault();
        lying_swarm_json(ctx.net, swarm)
    } else {
        swarm_json(ctx.net, swarm)
    };
    add_misc(&mut body, ctx.now);
    Ok(Response::json(200, body))
}

/// `oxend_request` (§2.2): `get_service_nodes` answered from the devnet's node list.
pub fn oxend_request(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    let endpoint = require("endpoint", p.str("endpoint")?)?;
    if !matches!(endpoint, "get_service_nodes" | "ons_resolve") {
        return Err(format!("Invalid oxend endpoint '{endpoint}'"));
    }
    let empty = Map::new();
    let oxend_params =
        p.0.get("params")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
    if endpoint == "ons_resolve" {
        return Ok(Response::text(400, "Unknown oxend error"));
    }
    let mut body = json!({"result": seed::service_node_states(ctx.net, oxend_params)});
    add_misc(&mut body, ctx.now);
    Ok(Response::json(200, body))
}

/// `get_expiries` (§4.6): no `t`/`hf`.
pub fn get_expiries(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    let messages = p.str_array("messages")?;
    let timestamp = p.timestamp("timestamp")?;
    let account = p.account(true)?;
    let auth = auth::parse(p, &account)?;
    let timestamp = require("timestamp", timestamp)?;
    let messages = hash_list(messages)?;

    if let Some(r) = check_swarm(ctx, &account) {
        return Ok(r);
    }
    if !auth::within(timestamp, ctx.now, SIGNATURE_TOLERANCE_MS) {
        return Ok(Response::text(
            406,
            "get_expiries timestamp too far from current time",
        ));
    }
    let msg = format!("get_expiries{timestamp}{}", messages.concat());
    if !auth::verify(ctx.node, &account, &auth, auth::READ, false, msg.as_bytes()) {
        return Ok(Response::text(
            401,
            "get_expiries signature verification failed",
        ));
    }
    let store = ctx.node.store();
    let expiries: Map<String, Value> = messages
        .iter()
        .filter_map(|h| {
            store
                .get(&account, h, ctx.now)
                .map(|m| (h.to_string(), json!(m.expiry)))
        })
        .collect();
    Ok(Response::json(200, json!({ "expiries": expiries })))
}

/// `messages`: required, non-empty, each a valid hash.
pub fn hash_list(messages: Option<Vec<&str>>) -> ParseResult<Vec<&str>> {
    let messages = require("messages", messages)?;
    if messages.is_empty() {
        return Err("messages does not contain any message hashes".into());
    }
    if let Some(bad) = messages.iter().find(|m| !params::is_hash(m)) {
        return Err(format!("invalid message hash: {bad}"));
    }
    Ok(messages)
}
