//! The file server (messages.md §5.1), reached only through onion requests v4 (network.md
//! §5.5): the last hop POSTs `u32le N ‖ blobS ‖ ROUTE_JSON` to `/oxen/v4/lsrpc`; we decrypt
//! `blobS` with our X25519 key, parse the bencoded `[meta, body?]`, handle `POST /file`,
//! `GET /file/<id>`, `POST /file/<id>/extend`, and answer raw Enc(bencoded `[meta, body]`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use x25519_dalek::{PublicKey, StaticSecret};

use super::net::Network;
use super::wire::{self, EncType, HopChannel};
use crate::protocol::attachment::MAX_LEGACY_BLOB;

/// Largest upload body. The real server compares the length of the uploaded body (the
/// encrypted blob, not the plaintext) with its configured `MAX_FILE_SIZE`
/// (session-file-server `fileserver/routes.py` `submit_file`: `0 < len(body) <= MAX_FILE_SIZE`;
/// the value is deployment configuration). Clients check the 10,000,000-byte limit on the
/// plaintext (DESKTOP `MAX_ATTACHMENT_FILESIZE_BYTES`), and legacy encryption pads that to at
/// most 10,000,000 bytes and adds 64 (IV, a PKCS#7 block, MAC), so a server that takes every
/// attachment clients send must take [`MAX_LEGACY_BLOB`] bytes. The devnet does exactly that.
pub const MAX_FILE_SIZE: usize = MAX_LEGACY_BLOB;
/// Default and largest file lifetime (14 days).
const DEFAULT_TTL_MS: u64 = 14 * 24 * 3600 * 1000;

struct StoredFile {
    data: Vec<u8>,
    expires_ms: u64,
}

/// File server state.
pub struct FileServer {
    net: Arc<Network>,
    x_key: StaticSecret,
    /// X25519 public key clients encrypt to.
    pub x25519: [u8; 32],
    files: Mutex<HashMap<String, StoredFile>>,
    /// Fault: serve every download with one byte flipped (an attachment tampered in transit
    /// or at rest; its HMAC no longer matches).
    tamper_downloads: AtomicBool,
    /// Fault: answer every download `503` (the file server briefly unavailable: network
    /// weather, worth retrying later).
    refuse_downloads: AtomicBool,
    /// Uploads accepted so far (tests check that refused attachments never reach the server).
    uploads: AtomicUsize,
}

impl std::fmt::Debug for FileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileServer({})", hex::encode(self.x25519))
    }
}

/// A v4 answer before encryption: status, content type, body.
struct V4 {
    code: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl V4 {
    fn json(code: u16, v: Value) -> Self {
        Self {
            code,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }
    fn error(code: u16, msg: &str) -> Self {
        Self {
            code,
            content_type: "text/plain; charset=utf-8",
            body: msg.as_bytes().to_vec(),
        }
    }
}

impl FileServer {
    /// A file server with a fresh key.
    pub fn new(net: Arc<Network>) -> Self {
        let x_key = StaticSecret::random_from_rng(rand::rngs::OsRng);
        let x25519 = PublicKey::from(&x_key).to_bytes();
        Self {
            net,
            x_key,
            x25519,
            files: Mutex::default(),
            tamper_downloads: AtomicBool::new(false),
            refuse_downloads: AtomicBool::new(false),
            uploads: AtomicUsize::new(0),
        }
    }

    /// Switches the tampered-downloads fault on or off.
    pub fn set_tamper_downloads(&self, on: bool) {
        self.tamper_downloads.store(on, Ordering::SeqCst);
    }

    /// Switches the refused-downloads fault (every download answers `503`) on or off.
    pub fn set_refuse_downloads(&self, on: bool) {
        self.refuse_downloads.store(on, Ordering::SeqCst);
    }

    /// How many uploads the server has accepted.
    pub fn uploads(&self) -> usize {
        self.uploads.load(Ordering::SeqCst)
    }

    /// The bytes stored under `id` (expired or not), as an upload left them: tests check an
    /// upload landed intact without downloading it through the network under test.
    pub fn file(&self, id: &str) -> Option<Vec<u8>> {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files.get(id).map(|f| f.data.clone())
    }

    /// Handles one `/oxen/v4/lsrpc` body; `Err` is a plaintext error (the request could not be
    /// opened, so nothing can be encrypted back).
    fn handle_lsrpc(&self, body: &[u8]) -> Result<Vec<u8>, (u16, &'static str)> {
        let (blob, route) = wire::split_combined(body).map_err(|_| (400, "Invalid request"))?;
        let route: Value = serde_json::from_slice(route).map_err(|_| (400, "Invalid request"))?;
        let eph: [u8; 32] = route
            .get("ephemeral_key")
            .and_then(Value::as_str)
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or((400, "Invalid request"))?;
        let enc = match route.get("enc_type").and_then(Value::as_str) {
            None => EncType::AesGcm,
            Some(s) => EncType::parse(s).map_err(|_| (400, "Invalid request"))?,
        };
        let channel =
            HopChannel::server(enc, &self.x_key, &eph).map_err(|_| (400, "Invalid ciphertext"))?;
        let plain = channel
            .decrypt(blob)
            .map_err(|_| (400, "Invalid ciphertext"))?;
        let answer = match wire::bencode_string_list(&plain) {
            Ok(items) => self.handle_v4(&items),
            Err(_) => V4::error(400, "Invalid v4 request"),
        };
        let meta = json!({"code": answer.code, "headers": {"content-type": answer.content_type}});
        let framed = wire::bencode_list(&[meta.to_string().as_bytes(), &answer.body]);
        Ok(channel.encrypt(&framed))
    }

    fn handle_v4(&self, items: &[&[u8]]) -> V4 {
        let Some(meta) = items
            .first()
            .and_then(|m| serde_json::from_slice::<Value>(m).ok())
        else {
            return V4::error(400, "Invalid v4 request metadata");
        };
        let body = items.get(1).copied().unwrap_or_default();
        let method = meta
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let endpoint = meta
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = endpoint.split('?').next().unwrap_or_default();
        let ttl_header = meta.get("headers").and_then(|h| {
            h.as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-fs-ttl"))
                .and_then(|(_, v)| {
                    v.as_str()
                        .and_then(|s| s.parse::<f64>().ok())
                        .or(v.as_f64())
                })
        });
        let now = self.net.clock.now_ms();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["file"]) => self.upload(body, ttl_header, now),
            ("GET", ["file", id]) => self.download(id, now),
            ("POST", ["file", id, "extend"]) => self.extend(id, ttl_header, now),
            _ => V4::error(404, "Not found"),
        }
    }

    fn ttl_ms(ttl_secs: Option<f64>) -> u64 {
        match ttl_secs {
            Some(s) if s.is_finite() && s > 0.0 => ((s * 1000.0) as u64).min(DEFAULT_TTL_MS),
            _ => DEFAULT_TTL_MS,
        }
    }

    fn upload(&self, body: &[u8], ttl: Option<f64>, now: u64) -> V4 {
        if body.is_empty() {
            return V4::error(400, "No file data");
        }
        if body.len() > MAX_FILE_SIZE {
            return V4::error(413, "File too large");
        }
        self.uploads.fetch_add(1, Ordering::SeqCst);
        let id = rand::random::<u64>().to_string();
        let expires_ms = now + Self::ttl_ms(ttl);
        if let Ok(mut files) = self.files.lock() {
            files.retain(|_, f| f.expires_ms > now);
            files.insert(
                id.clone(),
                StoredFile {
                    data: body.to_vec(),
                    expires_ms,
                },
            );
        }
        V4::json(
            200,
            json!({"id": id, "expires": expires_ms as f64 / 1000.0}),
        )
    }

    fn download(&self, id: &str, now: u64) -> V4 {
        if self.refuse_downloads.load(Ordering::SeqCst) {
            return V4::error(503, "Service unavailable");
        }
        let files = match self.files.lock() {
            Ok(f) => f,
            Err(_) => return V4::error(500, "Internal error"),
        };
        match files.get(id).filter(|f| f.expires_ms > now) {
            Some(f) => {
                let mut body = f.data.clone();
                if self.tamper_downloads.load(Ordering::SeqCst) {
                    super::faults::corrupt(&mut body);
                }
                V4 {
                    code: 200,
                    content_type: "application/octet-stream",
                    body,
                }
            }
            None => V4::error(404, "Not found"),
        }
    }

    fn extend(&self, id: &str, ttl: Option<f64>, now: u64) -> V4 {
        // Only deterministic uploads (44-char alphanumeric ids) can be extended (§5.1).
        let deterministic = id.len() == 44 && id.chars().all(|c| c.is_ascii_alphanumeric());
        let mut files = match self.files.lock() {
            Ok(f) => f,
            Err(_) => return V4::error(500, "Internal error"),
        };
        match files
            .get_mut(id)
            .filter(|f| deterministic && f.expires_ms > now)
        {
            Some(f) => {
                f.expires_ms = now + Self::ttl_ms(ttl);
                V4::json(200, json!({"expires": f.expires_ms as f64 / 1000.0}))
            }
            None => V4::error(404, "Not found"),
        }
    }
}

async fn lsrpc(
    fs: web::Data<Arc<FileServer>>,
    req: actix_web::HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match super::node::read_body(&req, payload).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match fs.handle_lsrpc(&body) {
        Ok(ct) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(ct),
        Err((_, msg)) => HttpResponse::BadRequest()
            .content_type("text/plain")
            .body(msg),
    }
}

/// Starts the file server's plain HTTP listener (only the last onion hop talks to it).
pub fn serve(
    fs: Arc<FileServer>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(fs);
    super::http::serve(listener, None, move |app| {
        app.app_data(data.clone())
            .app_data(web::PayloadConfig::new(
                super::node::MAX_REQUEST_BODY_SIZE + 4096,
            ))
            .route("/oxen/v4/lsrpc", web::post().to(lsrpc))
            .default_service(web::to(|| async { HttpResponse::NotFound().finish() }));
    })
}
