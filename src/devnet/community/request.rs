//! One SOGS request and its answer, independent of how they travelled (an onion v4 request, or a
//! `/batch` sub-request): communities.md §3.1 step 3 (what the server reads from the v4 metadata)
//! and step 4 / §8.2 (the exact content types clients switch on).

use serde_json::Value;

use crate::protocol::community::percent_decode;

/// `Content-Type` of JSON answers (no charset: desktop matches the exact string).
pub const JSON: &str = "application/json";
/// `Content-Type` of error bodies (Flask `Response(msg, mimetype='text/plain')`).
pub const TEXT: &str = "text/plain; charset=utf-8";
/// `Content-Type` of file downloads.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// A request as the server routes it.
#[derive(Debug, Clone)]
pub struct SogsRequest {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    pub method: String,
    /// The endpoint as sent (path and query; raw UTF-8 or `%xx`); auth signs its decoded form.
    pub endpoint: String,
    /// The percent-decoded path, split on `/` without the leading empty segment.
    pub segments: Vec<String>,
    /// The raw query string (after `?`, not decoded).
    pub query: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (empty when absent).
    pub body: Vec<u8>,
}

impl SogsRequest {
    /// Builds a request; `None` when the endpoint does not start with `/` or its path is not
    /// valid percent-encoded UTF-8 (§3.1 step 3).
    pub fn new(
        method: &str,
        endpoint: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Option<Self> {
        if !endpoint.starts_with('/') {
            return None;
        }
        let (path, query) = endpoint.split_once('?').unwrap_or((endpoint, ""));
        let path = percent_decode(path)?;
        let segments = path
            .trim_start_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect();
        Some(Self {
            method: method.to_ascii_uppercase(),
            endpoint: endpoint.to_owned(),
            segments,
            query: query.to_owned(),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body,
        })
    }

    /// Reads the header map of v4 metadata (`{"name": "value"}`; non-string values ignored).
    pub fn headers_from_json(headers: Option<&Value>) -> Vec<(String, String)> {
        headers
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A header value (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter's raw value (`?limit=25&t=r`).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// An integer query parameter clamped to `min..=max`, `default` when absent or unreadable.
    pub fn query_int(&self, name: &str, default: i64, min: i64, max: i64) -> i64 {
        self.query_param(name)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(default)
            .clamp(min, max)
    }

    /// The JSON body of a JSON endpoint: it needs `Content-Type: application/json` (Flask's
    /// `request.json`, §3.1 step 3), and a body that parses.
    pub fn json(&self) -> Result<Value, SogsResponse> {
        let is_json = self
            .header("content-type")
            .is_some_and(|ct| ct.split(';').next().is_some_and(|t| t.trim() == JSON));
        if !is_json {
            return Err(SogsResponse::error(
                400,
                "Invalid request: expected a JSON body (Content-Type: application/json)",
            ));
        }
        serde_json::from_slice(&self.body)
            .map_err(|_| SogsResponse::error(400, "Invalid request: body is not valid JSON"))
    }

    /// `METHOD /path` for route logs (query dropped).
    pub fn summary(&self) -> String {
        format!("{} /{}", self.method, self.segments.join("/"))
    }
}

/// An answer: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SogsResponse {
    /// HTTP status.
    pub code: u16,
    /// One of [`JSON`], [`TEXT`], [`OCTET_STREAM`].
    pub content_type: &'static str,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl SogsResponse {
    /// A JSON answer.
    pub fn json(code: u16, value: &Value) -> Self {
        Self {
            code,
            content_type: JSON,
            body: value.to_string().into_bytes(),
        }
    }
    /// A text error with SOGS's exact body.
    pub fn error(code: u16, message: &str) -> Self {
        Self {
            code,
            content_type: TEXT,
            body: message.as_bytes().to_vec(),
        }
    }
    /// Raw bytes (file downloads).
    pub fn bytes(body: Vec<u8>) -> Self {
        Self {
            code: 200,
            content_type: OCTET_STREAM,
            body,
        }
    }
    /// 404 (unknown room, path, message or file).
    pub fn not_found() -> Self {
        Self::error(404, "Not found")
    }
    /// 403 with a reason.
    pub fn forbidden(message: &str) -> Self {
        Self::error(403, message)
    }
    /// 304 with an empty body (`/inbox/since/N` with nothing new).
    pub fn not_modified() -> Self {
        Self {
            code: 304,
            content_type: TEXT,
            body: Vec::new(),
        }
    }
    /// Whether the code is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

/// The result of a route handler: an answer either way.
pub type Handled = Result<SogsResponse, SogsResponse>;
