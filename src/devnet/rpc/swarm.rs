//! Swarm-bound pieces (network.md §3.3, §3.4, §4.6): the swarm JSON, the 421 check that runs
//! before any auth, the in-process swarm fan-out with per-node signed entries, and the
//! recursive methods `delete*`, `expire*`, `(un)revoke_subaccount`.

use std::collections::BTreeMap;
use std::sync::Arc;

use ed25519_dalek::Signer;
use serde_json::{json, Map, Value};

use super::auth::{self, SIGNATURE_TOLERANCE_MS};
use super::methods::{hash_list, TTL_MAX_PRIVATE_MS};
use super::params::{b64_encode, parse_token, require, Account, NsVar, Params, ParseResult};
use super::{add_misc, Ctx, Response};
use crate::devnet::net::{Network, Node};
use crate::devnet::store::MessageStore;
use crate::devnet::wire::INVALID_SWARM_ID;

const Z_BASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// z-base-32 (oxenc `to_base32z`): 5 bits at a time, most significant first.
pub fn base32z(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(Z_BASE32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(Z_BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// One node as `get_swarm` lists it (SS `swarm_to_json`).
fn snode_json(n: &Node) -> Value {
    let ed = hex::encode(n.info.ed25519);
    json!({
        "address": format!("{}.snode", base32z(&n.info.ed25519)),
        "pubkey_legacy": ed,
        "pubkey_x25519": hex::encode(n.info.x25519),
        "pubkey_ed25519": ed,
        "port": n.info.port.to_string(),
        "port_https": n.info.port,
        "port_omq": 0,
        "port_quic": 0,
        "ip": n.info.ip,
    })
}

/// `{"snodes":[…],"swarm":"<hex id>"}`; empty with `ffffffffffffffff` when there is no swarm.
pub fn swarm_json(net: &Network, swarm: Option<u64>) -> Value {
    match swarm {
        None => json!({"snodes": [], "swarm": format!("{INVALID_SWARM_ID:x}")}),
        Some(id) => {
            let snodes: Vec<Value> = net.members(id).iter().map(|n| snode_json(n)).collect();
            json!({"snodes": snodes, "swarm": format!("{id:x}")})
        }
    }
}

/// What a `lie_swarm` node says of `swarm`: its id (so a client checking only the id is
/// fooled) with the members of another swarm (the next one, wrapping).
pub fn lying_swarm_json(net: &Network, swarm: Option<u64>) -> Value {
    let Some(id) = swarm else {
        return swarm_json(net, None);
    };
    let ids = net.swarm_ids();
    let pos = ids.iter().position(|s| *s == id).unwrap_or(0);
    let other = ids.get((pos + 1) % ids.len().max(1)).copied().unwrap_or(id);
    let snodes: Vec<Value> = net.members(other).iter().map(|n| snode_json(n)).collect();
    json!({"snodes": snodes, "swarm": format!("{id:x}")})
}

/// The 421 answer when `account` is not ours (or the `false_421` fault lies about it).
pub fn check_swarm(ctx: &Ctx<'_>, account: &Account) -> Option<Response> {
    let right = ctx.net.swarm_for(&account.0);
    let ours = ctx.node.info.swarm_id;
    if ctx.node.faults().lie_swarm && right != Some(ours) {
        ctx.node.count_fault();
        let mut body = lying_swarm_json(ctx.net, right);
        add_misc(&mut body, ctx.now);
        return Some(Response::json(421, body));
    }
    let faults = ctx.node.faults();
    let shown = if faults.false_421 && faults.aims_at(&account.0) {
        ctx.node.count_fault();
        let others: Vec<u64> = ctx
            .net
            .swarm_ids()
            .into_iter()
            .filter(|s| *s != ours)
            .collect();
        Some(others.first().copied().unwrap_or(ours))
    } else if right != Some(ours) {
        right
    } else {
        return None;
    };
    let mut body = swarm_json(ctx.net, shown);
    add_misc(&mut body, ctx.now);
    Some(Response::json(421, body))
}

/// Runs `op` on every member of our swarm (us included) and assembles
/// `{"swarm":{ed_hex: entry}, "t", "hf"}`; 200 if any entry lacks `failed`, else 500.
/// Peers with `not_ready` or a dropped request give failed entries, as SS's OMQ errors do.
pub fn fan_out(ctx: &Ctx<'_>, _account: &Account, op: impl Fn(&Arc<Node>) -> Value) -> Response {
    let mut swarm = Map::new();
    for member in ctx.net.members(ctx.node.info.swarm_id) {
        let faults = member.faults();
        let is_self = member.info.ed25519 == ctx.node.info.ed25519;
        let entry = if !is_self && faults.should_drop() {
            member.count_fault();
            json!({"failed": true, "timeout": true})
        } else if !is_self && faults.not_ready {
            member.count_fault();
            json!({"failed": true, "code": 503, "reason": format!("Snode not ready: {}", member.ed_hex())})
        } else {
            op(&member)
        };
        swarm.insert(member.ed_hex(), entry);
    }
    let ok = swarm.values().any(|e| e.get("failed").is_none());
    let mut body = json!({ "swarm": swarm });
    add_misc(&mut body, ctx.now);
    Response::json(if ok { 200 } else { 500 }, body)
}

fn sign(node: &Node, parts: &[&[u8]]) -> String {
    b64_encode(&node.ed_key.sign(&parts.concat()).to_bytes())
}

/// The 401 with `failure` as its text unless `auth` signs `msg` for `account` with the
/// `required` permission bits (subaccounts must not be revoked).
fn refuse_signature(
    ctx: &Ctx<'_>,
    account: &Account,
    auth: &auth::Auth,
    required: u8,
    msg: &[u8],
    failure: impl Into<String>,
) -> Option<Response> {
    (!auth::verify(ctx.node, account, auth, required, false, msg))
        .then(|| Response::text(401, failure))
}

/// `delete` (§4.6).
pub fn delete(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    let messages = p.str_array("messages")?;
    let required = p.bool("required")?.unwrap_or(false);
    let account = p.account(false)?;
    let auth = auth::parse(p, &account)?;
    let messages = hash_list(messages)?;
    if let Some(r) = check_swarm(ctx, &account) {
        return Ok(r);
    }
    let msg = format!("delete{}", messages.concat());
    let failure = "delete_msgs signature verification failed";
    if let Some(r) = refuse_signature(ctx, &account, &auth, auth::DELETE, msg.as_bytes(), failure) {
        return Ok(r);
    }
    let pk_hex = account.hex();
    let mut resp = fan_out(ctx, &account, |member| {
        let mut deleted = member.store().delete_hashes(&account, &messages, ctx.now);
        deleted.sort();
        let sig = sign(
            member,
            &[
                pk_hex.as_bytes(),
                messages.concat().as_bytes(),
                deleted.concat().as_bytes(),
            ],
        );
        json!({"deleted": deleted, "signature": sig})
    });
    if required && resp.status == 200 {
        let none = match &resp.body {
            super::Body::Json(v) => v["swarm"].as_object().is_some_and(|s| {
                s.values()
                    .all(|e| e["deleted"].as_array().is_none_or(Vec::is_empty))
            }),
            super::Body::Text(_) => false,
        };
        if none {
            resp.status = 404;
        }
    }
    Ok(resp)
}

/// `deleted`/`updated` as a sorted list, or for `"all"` a dict `{ns: [hashes]}`, plus every
/// hash totally sorted for the signature.
fn grouped(ns: NsVar, mut items: Vec<(i16, String)>) -> (Value, String) {
    items.sort_by(|a, b| a.1.cmp(&b.1));
    let all: String = items.iter().map(|(_, h)| h.as_str()).collect();
    let value = match ns {
        NsVar::One(_) => json!(items.iter().map(|(_, h)| h).collect::<Vec<_>>()),
        NsVar::All => {
            let mut by_ns: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (n, h) in items {
                by_ns.entry(n.to_string()).or_default().push(h);
            }
            json!(by_ns)
        }
    };
    (value, all)
}

fn ns_filter(ns: NsVar) -> Option<i16> {
    match ns {
        NsVar::One(n) => Some(n),
        NsVar::All => None,
    }
}

/// What sets `delete_all`, `delete_before` and `expire_all` apart (§4.6). Everything else they
/// share: one timestamp, a namespace (default 0, or `"all"`), the 421 check, a clock rule, the
/// signature over `method ‖ NSV ‖ timestamp` with delete permission, and per node a signed
/// `(pubkey ‖ timestamp ‖ every touched hash)` result; [`namespace_wide`] runs that.
struct NamespaceWide {
    /// The method name, which is also the signed string's prefix.
    method: &'static str,
    /// The timestamp parameter: `timestamp`, `before` or `expiry`.
    field: &'static str,
    /// The key of the touched hashes in each node's entry: `deleted` or `updated`.
    result: &'static str,
    /// The clock rule: `(timestamp, now)` to the status and text that refuse it, if any.
    refuse: fn(u64, u64) -> Option<(u16, &'static str)>,
    /// The change on one node.
    apply: ApplyFn,
}

/// The change on one node: `(store, account, namespace, timestamp, now)` to the
/// `(namespace, hash)` pairs it touched.
type ApplyFn = fn(&mut MessageStore, &Account, Option<i16>, u64, u64) -> Vec<(i16, String)>;

/// The checks and fan-out shared by the namespace-wide methods; see [`NamespaceWide`].
fn namespace_wide(ctx: &Ctx<'_>, p: &Params<'_>, m: &NamespaceWide) -> ParseResult<Response> {
    // Parse order follows SS: the method's timestamp, then namespace, pubkey and auth fields.
    let timestamp = p.timestamp(m.field)?;
    let ns = p.namespace_var()?.unwrap_or(NsVar::One(0));
    let account = p.account(false)?;
    let auth = auth::parse(p, &account)?;
    let timestamp = require(m.field, timestamp)?;
    if let Some(r) = check_swarm(ctx, &account) {
        return Ok(r);
    }
    if let Some((status, text)) = (m.refuse)(timestamp, ctx.now) {
        return Ok(Response::text(status, text));
    }
    let msg = format!("{}{}{timestamp}", m.method, ns.text());
    let failure = format!("{} signature verification failed", m.method);
    if let Some(r) = refuse_signature(ctx, &account, &auth, auth::DELETE, msg.as_bytes(), failure) {
        return Ok(r);
    }
    let pk_hex = account.hex();
    let ts = timestamp.to_string();
    Ok(fan_out(ctx, &account, |member| {
        let touched = (m.apply)(
            &mut member.store(),
            &account,
            ns_filter(ns),
            timestamp,
            ctx.now,
        );
        let (hashes, all) = grouped(ns, touched);
        let sig = sign(member, &[pk_hex.as_bytes(), ts.as_bytes(), all.as_bytes()]);
        let mut entry = Map::new();
        entry.insert(m.result.into(), hashes);
        entry.insert("signature".into(), Value::String(sig));
        Value::Object(entry)
    }))
}

/// `delete_all` (§4.6).
pub fn delete_all(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    namespace_wide(
        ctx,
        p,
        &NamespaceWide {
            method: "delete_all",
            field: "timestamp",
            result: "deleted",
            refuse: |timestamp, now| {
                (!auth::within(timestamp, now, SIGNATURE_TOLERANCE_MS))
                    .then_some((406, "delete_all timestamp too far from current time"))
            },
            apply: |store, account, ns, _, now| store.delete_matching(account, ns, None, now),
        },
    )
}

/// `delete_before` (§4.6).
pub fn delete_before(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    namespace_wide(
        ctx,
        p,
        &NamespaceWide {
            method: "delete_before",
            field: "before",
            result: "deleted",
            refuse: |before, now| {
                (before > now + SIGNATURE_TOLERANCE_MS)
                    .then_some((401, "delete_before timestamp too far in the future"))
            },
            apply: |store, account, ns, before, now| {
                store.delete_matching(account, ns, Some(before), now)
            },
        },
    )
}

/// `expire_all` (§4.6): only shortens.
pub fn expire_all(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    namespace_wide(
        ctx,
        p,
        &NamespaceWide {
            method: "expire_all",
            field: "expiry",
            result: "updated",
            refuse: |expiry, now| {
                (expiry < now.saturating_sub(SIGNATURE_TOLERANCE_MS))
                    .then_some((406, "expire_all timestamp should be >= current time"))
            },
            apply: |store, account, ns, expiry, now| store.shorten_all(account, ns, expiry, now),
        },
    )
}

/// `expire` (§4.6, SS `process_client_req(expire_msgs)`).
pub fn expire(ctx: &Ctx<'_>, p: &Params<'_>) -> ParseResult<Response> {
    let expiry = p.timestamp_array("expiry")?;
    let extend = p.bool("extend")?.unwrap_or(false);
    let messages = p.str_array("messages")?;
    let shorten = p.bool("shorten")?.unwrap_or(false);
    let account = p.account(false)?;
    let auth = auth::parse(p, &account)?;
    let expiry = require("expiry", expiry)?;
    if expiry.is_empty() {
        return Err("'expiry' does not contain any expiration timestamps".into());
    }
    if shorten && extend {
        return Err("cannot specify both 'shorten' and 'extend'".into());
    }
    let messages = hash_list(messages)?;
    if expiry.len() > 1 && expiry.len() != messages.len() {
        return Err("'expiry' must be a single expiry, or the same length as 'messages'".into());
    }

    if let Some(r) = check_swarm(ctx, &account) {
        return Ok(r);
    }
    let cap = ctx.now.saturating_add(TTL_MAX_PRIVATE_MS.unsigned_abs());
    if expiry
        .iter()
        .any(|e| *e < ctx.now.saturating_sub(SIGNATURE_TOLERANCE_MS))
    {
        return Ok(Response::text(
            401,
            "expire: timestamp should be >= current time",
        ));
    }
    let applied: Vec<u64> = expiry.iter().map(|e| (*e).min(cap)).collect();
    let mode = if shorten {
        "shorten"
    } else if extend {
        "extend"
    } else {
        ""
    };
    let exp_text: String = expiry.iter().map(u64::to_string).collect();
    let msg = format!("expire{mode}{exp_text}{}", messages.concat());
    let failure = "expire: signature verification failed";
    if let Some(r) = refuse_signature(ctx, &account, &auth, auth::WRITE, msg.as_bytes(), failure) {
        return Ok(r);
    }
    let mut extend_only = extend;
    if let Some(sub) = &auth.subaccount {
        if sub.token[1] & auth::DELETE == 0 {
            if shorten {
                return Ok(Response::text(400, "expire: shorten parameter cannot be used with this subaccount token (missing delete access)"));
            }
            extend_only = true;
        }
    }
    let updates: Vec<(&str, u64)> = messages
        .iter()
        .enumerate()
        .map(|(i, h)| (*h, applied.get(i).or(applied.first()).copied().unwrap_or(0)))
        .collect();
    let pk_hex = account.hex();
    Ok(fan_out(ctx, &account, |member| {
        let mut store = member.store();
        let mut updated = store.set_expiries(&account, &updates, extend_only, shorten, ctx.now);
        updated.sort();
        let mut unchanged = BTreeMap::new();
        if shorten || extend {
            for h in messages
                .iter()
                .filter(|h| !updated.iter().any(|(u, _)| u == *h))
            {
                if let Some(m) = store.get(&account, h, ctx.now) {
                    unchanged.insert(h.to_string(), m.expiry);
                }
            }
        }
        drop(store);
        let exp_values: Vec<u64> = if expiry.len() > 1 {
            updated.iter().map(|(_, e)| *e).collect()
        } else {
            applied.clone()
        };
        let exp_sig: String = exp_values.iter().map(u64::to_string).collect();
        let upd: String = updated.iter().map(|(h, _)| h.as_str()).collect();
        let unch: String = unchanged.iter().map(|(h, e)| format!("{h}{e}")).collect();
        let sig = sign(
            member,
            &[
                pk_hex.as_bytes(),
                exp_sig.as_bytes(),
                messages.concat().as_bytes(),
                upd.as_bytes(),
                unch.as_bytes(),
            ],
        );
        let mut entry = json!({
            "updated": updated.iter().map(|(h, _)| h).collect::<Vec<_>>(),
            "signature": sig,
        });
        entry["expiry"] = if expiry.len() > 1 {
            json!(exp_values)
        } else {
            json!(applied.first())
        };
        if shorten || extend {
            entry["unchanged"] = json!(unchanged);
        }
        entry
    }))
}

/// `revoke_subaccount` / `unrevoke_subaccount` (§4.6).
pub fn revoke(ctx: &Ctx<'_>, p: &Params<'_>, revoke: bool) -> ParseResult<Response> {
    let (method, field) = if revoke {
        ("revoke_subaccount", "revoke")
    } else {
        ("unrevoke_subaccount", "unrevoke")
    };
    let account = p.account(false)?;
    let auth = auth::parse(p, &account)?;
    let list = require(field, p.str_array(field)?)?;
    if list.len() > 50 {
        return Err(format!(
            "invalid {field}: cannot revoke more than 50 subaccounts at once"
        ));
    }
    let tokens = list
        .iter()
        .map(|t| {
            parse_token(t).ok_or_else(|| {
                format!("invalid {field}: expected base64 or hex-encoded subaccount tag")
            })
        })
        .collect::<ParseResult<Vec<[u8; 36]>>>()?;
    let timestamp = require("timestamp", p.timestamp("timestamp")?)?;
    if auth.subaccount.is_some() {
        return Err(format!(
            "invalid {field}: subaccount authentication is not permitted"
        ));
    }
    if let Some(r) = check_swarm(ctx, &account) {
        return Ok(r);
    }
    if !auth::within(timestamp, ctx.now, SIGNATURE_TOLERANCE_MS) {
        return Ok(Response::text(
            406,
            format!("{method} timestamp too far from current time"),
        ));
    }
    let token_bytes: Vec<u8> = tokens.concat();
    let msg = [format!("{method}{timestamp}").as_bytes(), &token_bytes].concat();
    if !auth::verify(ctx.node, &account, &auth, 0, true, &msg) {
        return Ok(Response::text(
            401,
            format!("{method} signature verification failed"),
        ));
    }
    let pk_hex = account.hex();
    Ok(fan_out(ctx, &account, |member| {
        let ts = timestamp.to_string();
        let sig = sign(member, &[pk_hex.as_bytes(), ts.as_bytes(), &token_bytes]);
        if revoke {
            member.store().revoke(account, &tokens);
            json!({"signature": sig})
        } else {
            let count = member.store().unrevoke(&account, &tokens);
            json!({"signature": sig, "count": count})
        }
    }))
}
