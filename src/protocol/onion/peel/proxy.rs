//! A layer that asks the node to proxy to an HTTP(S) server (SS `RelayToServerInfo`), and the
//! storage server's rule for which targets it may name.

use serde_json::{Map, Value};

use super::{PeelError, ReplyEncryptor};
use crate::protocol::onion::ServerProtocol;

/// The proxy fields as JSON types allow them, before the URL rule is applied.
pub(super) struct ProxyFields {
    host: String,
    target: String,
    method: String,
    protocol: String,
    port: u16,
}

impl ProxyFields {
    pub(super) fn parse(json: &Map<String, Value>) -> Option<Self> {
        let text = |key: &str, default: &str| match json.get(key) {
            None => Some(default.to_owned()),
            Some(v) => v.as_str().map(str::to_owned),
        };
        Some(ProxyFields {
            host: json.get("host")?.as_str()?.to_owned(),
            target: json.get("target")?.as_str()?.to_owned(),
            method: text("method", "POST")?,
            protocol: text("protocol", "https")?,
            port: match json.get("port") {
                None => 443,
                Some(v) => u16::try_from(v.as_u64()?).ok()?,
            },
        })
    }

    pub(super) fn into_proxy(
        self,
        payload: Vec<u8>,
        reply: ReplyEncryptor,
    ) -> Result<ProxyToServer, PeelError> {
        let protocol = match self.protocol.as_str() {
            "http" => ServerProtocol::Http,
            "https" => ServerProtocol::Https,
            _ => return Err(PeelError::InvalidUrl(reply)),
        };
        if !is_onion_url_target_allowed(&self.target) {
            return Err(PeelError::InvalidUrl(reply));
        }
        Ok(ProxyToServer {
            host: self.host,
            target: self.target,
            method: self.method,
            protocol,
            port: self.port,
            payload,
        })
    }
}

/// SS `is_onion_url_target_allowed`: starts with `/loki/` or `/oxen/`, ends with `/lsrpc`, no
/// `?`.
pub fn is_onion_url_target_allowed(target: &str) -> bool {
    (target.starts_with("/loki/") || target.starts_with("/oxen/"))
        && target.ends_with("/lsrpc")
        && !target.contains('?')
}

/// A proxy-to-server layer (SS `RelayToServerInfo`): POST `payload` to [`ProxyToServer::url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyToServer {
    /// Host name or address.
    pub host: String,
    /// Path, already checked by [`is_onion_url_target_allowed`].
    pub target: String,
    /// The `method` the client wrote (SS ignores it and always POSTs).
    pub method: String,
    /// `http` or `https` (default https).
    pub protocol: ServerProtocol,
    /// Port (default 443, whatever the protocol, as in SS).
    pub port: u16,
    /// The whole decrypted plaintext `u32le ‖ blob ‖ JSON`: SS forwards it all, and the server
    /// re-parses it to find `ephemeral_key`/`enc_type`.
    pub payload: Vec<u8>,
}

impl ProxyToServer {
    /// `protocol://host[:port]target`, omitting the protocol's default port (SS).
    pub fn url(&self) -> String {
        let default = match self.protocol {
            ServerProtocol::Http => 80,
            ServerProtocol::Https => 443,
        };
        let port = if self.port == default {
            String::new()
        } else {
            format!(":{}", self.port)
        };
        format!(
            "{}://{}{}{}",
            self.protocol.as_str(),
            self.host,
            port,
            self.target
        )
    }
}
