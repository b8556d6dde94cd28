//! The file server through onion requests v4 (`messages.md` §5.1, `network.md` §5.5):
//! `POST /file` with the raw (already encrypted) bytes → `{"id": …}`; `GET /file/<id>` → the
//! bytes. The server's URL and X25519 key come from [`FileServerConfig`].

use serde_json::{Map, Value};
use x25519_dalek::PublicKey;

use super::client::SessionNetwork;
use super::config::FileServerConfig;
use super::error::{clip, NetworkError, SendError};
use crate::protocol::onion::{ServerProtocol, ServerTarget, V4Request, V4Response};

/// Largest blob we upload: a 10,000,000-byte plaintext (`MAX_ATTACHMENT_FILESIZE_BYTES`,
/// `messages.md` §5.1, checked on the plaintext as DESKTOP does) legacy-encrypted, i.e. padded
/// to at most 10,000,000 plus IV, PKCS#7 block and MAC. The file server checks the body it
/// receives against its configured limit (see `devnet::fileserver::MAX_FILE_SIZE`).
pub const MAX_FILE_SIZE: usize = crate::protocol::attachment::MAX_LEGACY_BLOB;

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpload {
    /// The server's file id.
    pub id: String,
    /// `<file server URL>/file/<id>`, the attachment pointer's `url`.
    pub url: String,
}

/// Reads `http[s]://host[:port]` and the hex key into a v4 target and the base URL (no
/// trailing slash).
pub fn parse_server(config: &FileServerConfig) -> Result<(ServerTarget, String), NetworkError> {
    let key: [u8; 32] = hex::decode(&config.x25519)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| NetworkError::Config("file server x25519 must be 64 hex digits".into()))?;
    server_target("file server", &config.url, PublicKey::from(key))
}

/// Reads a server's `http[s]://host[:port]` base URL into a v4 target for its X25519 `key`,
/// and the base URL without a trailing slash. `what` names the server in errors.
pub fn server_target(
    what: &str,
    url: &str,
    key: PublicKey,
) -> Result<(ServerTarget, String), NetworkError> {
    let bad = |problem: &str| NetworkError::Config(format!("{what} {problem}: {url:?}"));
    let (protocol, rest) = if let Some(r) = url.strip_prefix("http://") {
        (ServerProtocol::Http, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (ServerProtocol::Https, r)
    } else {
        return Err(bad("URL must start with http:// or https://"));
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(bad("URL must be scheme://host[:port]"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad("port"))?),
        None => (
            authority,
            if protocol == ServerProtocol::Http {
                80
            } else {
                443
            },
        ),
    };
    let base = format!("{}://{}", protocol.as_str(), authority);
    Ok((
        ServerTarget {
            host: host.to_owned(),
            protocol,
            port,
            x25519: key,
        },
        base,
    ))
}

/// The file id of `url` when it points at the server whose base URL is `base`: the last path
/// segment after `/file/`, fragment (`#p=…&d`) ignored.
pub fn file_id<'a>(base: &str, url: &'a str) -> Option<&'a str> {
    let url = url.split('#').next()?;
    let id = url.strip_prefix(base)?.strip_prefix("/file/")?;
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then_some(id)
}

fn headers(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect()
}

fn server_error(resp: &V4Response) -> NetworkError {
    let text = resp
        .body
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    NetworkError::FileServer {
        status: resp.code,
        message: clip(&text),
    }
}

/// Reads the file server's answer to an upload (untrusted): a 2xx whose JSON body has an `id`
/// (string or number) of URL-safe characters only, which becomes the pointer URL's last
/// segment. The whole id must be what [`file_id`] reads back from that URL: an id carrying
/// `#p=…&d` would otherwise append a fragment to the URL we send, naming another server's key
/// or claiming deterministic encryption to every recipient (found by the `file_server` fuzz
/// target).
pub fn read_upload_answer(base: &str, resp: &V4Response) -> Result<FileUpload, NetworkError> {
    if !(200..300).contains(&resp.code) {
        return Err(server_error(resp));
    }
    let json: Value = resp
        .body
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default();
    let id = match json.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(NetworkError::FileServer {
                status: resp.code,
                message: "upload answer has no id".into(),
            })
        }
    };
    let url = format!("{base}/file/{id}");
    if file_id(base, &url) != Some(id.as_str()) {
        return Err(NetworkError::FileServer {
            status: resp.code,
            message: "upload answer has an invalid id".into(),
        });
    }
    Ok(FileUpload { id, url })
}

impl SessionNetwork {
    async fn file_request(&self, request: V4Request) -> Result<V4Response, NetworkError> {
        let max = self.inner.config.max_attempts.max(1);
        let mut last: Option<SendError> = None;
        for _ in 0..max {
            match self
                .inner
                .send_server(None, &self.inner.file_server, &request)
                .await
            {
                Ok(resp) => return Ok(resp),
                Err(e) => {
                    tracing::debug!(error = %e, "file server request failed");
                    last = Some(e);
                }
            }
        }
        match last {
            Some(last) => Err(NetworkError::Exhausted {
                attempts: max,
                last,
            }),
            None => Err(NetworkError::NoGuards),
        }
    }

    /// Uploads `bytes` (an encrypted attachment) and returns its id and URL.
    pub async fn upload_file(&self, bytes: Vec<u8>) -> Result<FileUpload, NetworkError> {
        if bytes.len() > MAX_FILE_SIZE {
            return Err(NetworkError::FileServer {
                status: 413,
                message: format!("{} bytes is more than {MAX_FILE_SIZE}", bytes.len()),
            });
        }
        let request = V4Request {
            method: "POST".into(),
            endpoint: "/file".into(),
            headers: headers(&[("Content-Type", "application/octet-stream")]),
            body: Some(bytes),
        };
        let resp = self.file_request(request).await?;
        read_upload_answer(&self.inner.file_server_base, &resp)
    }

    /// Downloads a file by its URL on the configured file server.
    pub async fn download_file(&self, url: &str) -> Result<Vec<u8>, NetworkError> {
        let id = file_id(&self.inner.file_server_base, url).ok_or_else(|| {
            NetworkError::Config(format!(
                "not a file URL of the configured file server: {}",
                clip(url)
            ))
        })?;
        let request = V4Request {
            method: "GET".into(),
            endpoint: format!("/file/{id}"),
            headers: Map::new(),
            body: None,
        };
        let resp = self.file_request(request).await?;
        if !(200..300).contains(&resp.code) {
            return Err(server_error(&resp));
        }
        Ok(resp.body.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> FileServerConfig {
        FileServerConfig {
            url: url.into(),
            x25519: "ab".repeat(32),
        }
    }

    #[test]
    fn server_urls_parse() {
        let (t, base) = parse_server(&cfg("http://filev2.getsession.org")).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.protocol),
            ("filev2.getsession.org", 80, ServerProtocol::Http)
        );
        assert_eq!(base, "http://filev2.getsession.org");
        let (t, base) = parse_server(&cfg("https://127.0.0.1:8443/")).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8443));
        assert_eq!(base, "https://127.0.0.1:8443");
        for bad in ["ftp://x", "http://", "http://h/p", "http://h:99999"] {
            assert!(parse_server(&cfg(bad)).is_err(), "{bad}");
        }
        assert!(parse_server(&FileServerConfig {
            url: "http://h".into(),
            x25519: "zz".into()
        })
        .is_err());
    }

    #[test]
    fn file_ids_come_from_our_server_only() {
        let base = "http://filev2.getsession.org";
        assert_eq!(
            file_id(base, "http://filev2.getsession.org/file/123"),
            Some("123")
        );
        assert_eq!(
            file_id(base, "http://filev2.getsession.org/file/abc#p=00&d"),
            Some("abc")
        );
        assert_eq!(file_id(base, "http://evil.org/file/123"), None);
        assert_eq!(
            file_id(base, "http://filev2.getsession.org/file/../x"),
            None
        );
        assert_eq!(file_id(base, "http://filev2.getsession.org/file/"), None);
    }

    fn upload_answer(body: &str) -> V4Response {
        V4Response {
            code: 200,
            headers: Map::new(),
            body: Some(body.as_bytes().to_vec()),
        }
    }

    #[test]
    fn upload_ids_are_url_safe_and_whole() {
        let base = "http://files.example:8080";
        let ok = read_upload_answer(base, &upload_answer(r#"{"id":"a-B_9"}"#)).unwrap();
        assert_eq!(ok.url, "http://files.example:8080/file/a-B_9");
        let numeric = read_upload_answer(base, &upload_answer(r#"{"id":678}"#)).unwrap();
        assert_eq!(numeric.id, "678");
        // Regression, the `file_server` fuzz target's crash: an id with a fragment was
        // accepted, its `#…` appended to the pointer URL every recipient reads.
        let fuzz_found = concat!(
            r#"{"id":"12QQQQQQQQQQQrrrrrrrrxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"#,
            r#"xxxxxxxxxxxxxxxxxxxxxxxxxoxxxxxxxx#rrrrrrrrrrrrrrrrrrrrrrrrrprrrrrrrrr"#,
            r#"rrrrrrrrrrrrrrrQ2"}"#
        );
        let injected = format!(r#"{{"id":"123#p={}&d"}}"#, "ab".repeat(32));
        for body in [
            fuzz_found,
            injected.as_str(),
            r#"{"id":"1/2"}"#,
            r#"{"id":""}"#,
        ] {
            assert!(
                matches!(
                    read_upload_answer(base, &upload_answer(body)),
                    Err(NetworkError::FileServer { .. })
                ),
                "{body}"
            );
        }
    }
}
