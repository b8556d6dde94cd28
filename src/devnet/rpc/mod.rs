//! The storage RPC as a node answers it (network.md §4): envelope, dispatch, the meta-methods
//! `batch`/`sequence`/`ifelse`, and the response shapes. Method bodies live in [`methods`] and
//! [`swarm`]; parameter rules in [`params`]; signature checks in [`auth`].

pub mod auth;
pub mod methods;
pub mod params;
pub mod swarm;

use serde_json::{json, Map, Value};

use super::net::{Network, Node, HARDFORK, VERSION};

/// Subrequest limit of `batch`/`sequence` (`BATCH_REQUEST_MAX`, §4.6).
pub const BATCH_REQUEST_MAX: usize = 20;

/// A response body: JSON, or the plain text the server sends for errors.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `application/json`.
    Json(Value),
    /// `text/plain`.
    Text(String),
}

/// An RPC answer: HTTP status and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Body.
    pub body: Body,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, v: Value) -> Self {
        Self {
            status,
            body: Body::Json(v),
        }
    }

    /// A plain-text answer.
    pub fn text(status: u16, s: impl Into<String>) -> Self {
        Self {
            status,
            body: Body::Text(s.into()),
        }
    }

    /// `400 invalid request: <msg>`.
    pub fn invalid(msg: impl std::fmt::Display) -> Self {
        Self::text(400, format!("invalid request: {msg}"))
    }

    /// The body as a string (JSON dumped), as used inside batch results and onion replies.
    pub fn body_string(&self) -> String {
        match &self.body {
            Body::Json(v) => v.to_string(),
            Body::Text(s) => s.clone(),
        }
    }

    /// The body as a JSON value for batch results: JSON as is, text as a string.
    pub fn body_value(&self) -> Value {
        match &self.body {
            Body::Json(v) => v.clone(),
            Body::Text(s) => Value::String(s.clone()),
        }
    }
}

/// What one request is handled with.
pub struct Ctx<'a> {
    /// The devnet.
    pub net: &'a Network,
    /// The node answering.
    pub node: &'a Node,
    /// Devnet clock at arrival (ms).
    pub now: u64,
}

/// What the route log records about a request.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Method name(s).
    pub method: String,
    /// Account pubkeys named.
    pub pubkeys: Vec<String>,
}

/// Adds `t` and `hf` to a JSON object (SS `add_misc_response_fields`).
pub fn add_misc(v: &mut Value, now: u64) {
    if let Some(obj) = v.as_object_mut() {
        obj.insert("t".into(), json!(now));
        obj.insert("hf".into(), json!(HARDFORK));
    }
}

/// Handles an HTTPS `/storage_rpc/v1` body or a snode onion destination body (§4.1).
pub fn handle_envelope(ctx: &Ctx<'_>, body: &[u8]) -> (Response, Summary) {
    let mut summary = Summary::default();
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (Response::text(400, "invalid json"), summary);
    };
    let Some(method) = v.get("method").and_then(Value::as_str) else {
        return (
            Response::text(400, "invalid json: no `method` field"),
            summary,
        );
    };
    summary.method = method.to_owned();
    let Some(params) = v.get("params").and_then(Value::as_object) else {
        return (
            Response::text(400, "invalid json: no `params` field"),
            summary,
        );
    };
    collect_pubkeys(params, &mut summary.pubkeys);
    if matches!(method, "batch" | "sequence") {
        let names = subrequest_names(params);
        summary.method = format!("{method}[{}]", names.join(","));
    }
    (dispatch(ctx, method, params), summary)
}

fn subrequest_names(params: &Map<String, Value>) -> Vec<String> {
    params
        .get("requests")
        .and_then(Value::as_array)
        .map(|reqs| {
            reqs.iter()
                .map(|r| {
                    r.get("method")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn collect_pubkeys(params: &Map<String, Value>, out: &mut Vec<String>) {
    for key in ["pubkey", "pubKey"] {
        if let Some(pk) = params.get(key).and_then(Value::as_str) {
            out.push(pk.to_lowercase());
        }
    }
    for sub in params
        .get("requests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(p) = sub.get("params").and_then(Value::as_object) {
            collect_pubkeys(p, out);
        }
    }
    out.sort();
    out.dedup();
}

/// Runs one method by name (`no method X` for unknown names).
pub fn dispatch(ctx: &Ctx<'_>, method: &str, params: &Map<String, Value>) -> Response {
    let result = match method {
        "batch" => batch(ctx, params, false),
        "sequence" => batch(ctx, params, true),
        "ifelse" => ifelse(ctx, params),
        _ => match dispatch_simple(ctx, method, params) {
            Some(r) => r,
            None => return Response::text(400, format!("no method {method}")),
        },
    };
    result.unwrap_or_else(Response::invalid)
}

/// Non-meta methods; `None` for unknown names.
fn dispatch_simple(
    ctx: &Ctx<'_>,
    method: &str,
    params: &Map<String, Value>,
) -> Option<params::ParseResult<Response>> {
    let p = params::Params(params);
    Some(match method {
        "store" => methods::store(ctx, &p),
        "retrieve" => methods::retrieve(ctx, &p),
        "info" => Ok(methods::info(ctx)),
        "get_swarm" | "get_snodes_for_pubkey" => methods::get_swarm(ctx, &p),
        "oxend_request" => methods::oxend_request(ctx, &p),
        "get_expiries" => methods::get_expiries(ctx, &p),
        "delete" => swarm::delete(ctx, &p),
        "delete_all" => swarm::delete_all(ctx, &p),
        "delete_before" => swarm::delete_before(ctx, &p),
        "expire" => swarm::expire(ctx, &p),
        "expire_all" => swarm::expire_all(ctx, &p),
        "revoke_subaccount" => swarm::revoke(ctx, &p, true),
        "unrevoke_subaccount" => swarm::revoke(ctx, &p, false),
        _ => return None,
    })
}

/// `batch` (all run, results in order) and `sequence` (stop after the first non-2xx).
fn batch(
    ctx: &Ctx<'_>,
    params: &Map<String, Value>,
    sequence: bool,
) -> params::ParseResult<Response> {
    let reqs = params
        .get("requests")
        .and_then(Value::as_array)
        .ok_or("Invalid batch request: no valid \"requests\" field")?;
    if reqs.len() > BATCH_REQUEST_MAX {
        return Err("Invalid batch request: subrequest limit exceeded".into());
    }
    let mut subs = Vec::with_capacity(reqs.len());
    for r in reqs {
        let obj = r
            .as_object()
            .ok_or("Invalid batch request: requests must be objects")?;
        let (Some(method), Some(sub_params)) = (obj.get("method"), obj.get("params")) else {
            return Err("Invalid batch request: subrequests must have method/params keys".into());
        };
        let method = method.as_str().unwrap_or_default();
        let known =
            !matches!(method, "batch" | "sequence" | "ifelse") && KNOWN_METHODS.contains(&method);
        if matches!(method, "batch" | "sequence" | "ifelse") {
            return Err(
                "Invalid batch subrequest: subrequests may not contain meta-requests".into(),
            );
        }
        if !known {
            return Err(format!(
                "Invalid batch subrequest: invalid method \"{method}\""
            ));
        }
        let sub_params = sub_params
            .as_object()
            .ok_or_else(|| "Invalid value given for 'params': expected object".to_owned())?;
        subs.push((method, sub_params));
    }
    if subs.is_empty() {
        return Err("Invalid batch request: empty \"requests\" list".into());
    }
    let mut results = Vec::with_capacity(subs.len());
    for (method, sub_params) in subs {
        let r = dispatch(ctx, method, sub_params);
        let ok = (200..300).contains(&r.status);
        results.push(json!({"code": r.status, "body": r.body_value()}));
        if sequence && !ok {
            break;
        }
    }
    Ok(Response::json(200, json!({ "results": results })))
}

/// Every method name a subrequest may use.
const KNOWN_METHODS: &[&str] = &[
    "store",
    "retrieve",
    "info",
    "get_swarm",
    "get_snodes_for_pubkey",
    "oxend_request",
    "get_expiries",
    "delete",
    "delete_all",
    "delete_before",
    "expire",
    "expire_all",
    "revoke_subaccount",
    "unrevoke_subaccount",
];

/// `ifelse` (§4.6): evaluates one condition against the devnet's hf/version/height.
fn ifelse(ctx: &Ctx<'_>, params: &Map<String, Value>) -> params::ParseResult<Response> {
    let cond = params
        .get("if")
        .and_then(Value::as_object)
        .ok_or("Invalid ifelse request: missing required 'if' condition")?;
    let height = super::seed::HEIGHT;
    let ver = |key: &str, have: &[u64]| -> Option<bool> {
        let want: Vec<u64> = cond
            .get(key)?
            .as_array()?
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        Some(have >= want.as_slice())
    };
    let mut result = true;
    let mut any = false;
    for (key, value) in cond {
        any = true;
        let ok = match key.as_str() {
            "hf_at_least" => ver(key, &HARDFORK),
            "hf_before" => ver(key, &HARDFORK).map(|b| !b),
            "v_at_least" => ver(key, &VERSION),
            "v_before" => ver(key, &VERSION).map(|b| !b),
            "height_at_least" => value.as_u64().map(|h| height >= h),
            "height_before" => value.as_u64().map(|h| height < h),
            _ => None,
        };
        result &= ok.ok_or_else(|| format!("Invalid ifelse request: invalid condition '{key}'"))?;
    }
    if !any {
        return Err("Invalid ifelse request: missing required 'if' condition".into());
    }
    let mut out = json!({"hf": HARDFORK, "v": VERSION, "height": height, "condition": result});
    let branch = if result { "then" } else { "else" };
    if let Some(sub) = params.get(branch).and_then(Value::as_object) {
        let method = sub
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let empty = Map::new();
        let sub_params = sub
            .get("params")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let r = dispatch(ctx, method, sub_params);
        out["result"] = json!({"code": r.status, "body": r.body_value()});
    }
    Ok(Response::json(200, out))
}
