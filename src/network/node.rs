//! [`ServiceNode`]: one storage server as the seed, `oxend_request` or a swarm answer lists it,
//! parsed defensively (the lists are untrusted input; `network.md` §2.1–§2.2, §3.3).
//!
//! Accepted JSON per node (unknown keys ignored):
//!
//! ```text
//! {"public_ip"|"ip": "a.b.c.d",
//!  "storage_port"|"port_https": int  (or "port": "decimal string", as get_swarm writes it),
//!  "pubkey_ed25519": 64 hex, "pubkey_x25519": 64 hex,
//!  "swarm_id": u64 (optional; 2^64-1 = decommissioned)}
//! ```

use std::fmt;
use std::net::Ipv4Addr;

use serde_json::Value;
use x25519_dalek::PublicKey;

use crate::protocol::onion::{NodeKeys, SnodeEd25519};
use crate::protocol::storage::response::SnodeInfo;
use crate::protocol::swarm::{SwarmId, INVALID_SWARM_ID};

/// Why one node entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The entry is not a JSON object.
    #[error("node entry is not an object")]
    NotAnObject,
    /// No IPv4 address, or `0.0.0.0` (a node that has not announced itself).
    #[error("node has no usable IPv4 address")]
    NoAddress,
    /// No HTTPS port, or port 0.
    #[error("node has no usable storage port")]
    NoPort,
    /// `pubkey_ed25519` missing or not 64 hex digits.
    #[error("node has no valid pubkey_ed25519")]
    NoEd25519,
    /// `pubkey_x25519` missing or not 64 hex digits.
    #[error("node has no valid pubkey_x25519")]
    NoX25519,
    /// The list itself is missing (`service_node_states` absent or not an array).
    #[error("answer has no service_node_states list")]
    NoList,
}

/// A service node we can reach over HTTPS and encrypt onion layers to.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceNode {
    /// Public IPv4 address.
    pub ip: Ipv4Addr,
    /// HTTPS port (`/storage_rpc/v1`, `/onion_req/v2`).
    pub storage_port: u16,
    /// Ed25519 key: names the node in onion routing and signs its swarm entries.
    pub ed25519: SnodeEd25519,
    /// X25519 key: onion layers are encrypted to it.
    pub x25519: PublicKey,
    /// Its swarm, when the list said (`None` also for decommissioned nodes).
    pub swarm_id: Option<SwarmId>,
}

impl fmt::Debug for ServiceNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ServiceNode({} {}:{})",
            self.ed25519, self.ip, self.storage_port
        )
    }
}

impl fmt::Display for ServiceNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Ed25519 key is public; its short form is enough to find the node in logs.
        write!(f, "{}", self.ed25519)
    }
}

impl ServiceNode {
    /// Parses one entry of `service_node_states` (seed, `oxend_request`) or of `snodes`
    /// (`get_swarm`, 421 bodies).
    pub fn from_json(value: &Value) -> Result<Self, NodeError> {
        let obj = value.as_object().ok_or(NodeError::NotAnObject)?;
        let ip = obj
            .get("public_ip")
            .or_else(|| obj.get("ip"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Ipv4Addr>().ok())
            .filter(|ip| !ip.is_unspecified())
            .ok_or(NodeError::NoAddress)?;
        let port = obj
            .get("storage_port")
            .or_else(|| obj.get("port_https"))
            .and_then(Value::as_u64)
            .or_else(|| obj.get("port").and_then(Value::as_str)?.parse().ok())
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0)
            .ok_or(NodeError::NoPort)?;
        let ed25519 = obj
            .get("pubkey_ed25519")
            .and_then(Value::as_str)
            .and_then(|s| SnodeEd25519::from_hex(s).ok())
            .ok_or(NodeError::NoEd25519)?;
        let x25519 = obj
            .get("pubkey_x25519")
            .and_then(Value::as_str)
            .and_then(hex32)
            .map(PublicKey::from)
            .ok_or(NodeError::NoX25519)?;
        let swarm_id = obj
            .get("swarm_id")
            .and_then(Value::as_u64)
            .map(SwarmId)
            .filter(|s| *s != INVALID_SWARM_ID);
        Ok(Self {
            ip,
            storage_port: port,
            ed25519,
            x25519,
            swarm_id,
        })
    }

    /// A swarm member from a `get_swarm`/421 answer, tagged with that answer's swarm id.
    pub fn from_snode_info(info: &SnodeInfo, swarm: SwarmId) -> Result<Self, NodeError> {
        let value = serde_json::to_value(info).map_err(|_| NodeError::NotAnObject)?;
        let mut node = Self::from_json(&value)?;
        node.swarm_id = Some(swarm).filter(|s| *s != INVALID_SWARM_ID);
        Ok(node)
    }

    /// The keys the onion builder needs.
    pub fn keys(&self) -> NodeKeys {
        NodeKeys {
            ed25519: self.ed25519,
            x25519: self.x25519,
        }
    }

    /// `https://ip:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}:{}{}", self.ip, self.storage_port, path)
    }

    /// The IPv4 /24 the node is in (paths take one node per /24 where possible).
    pub fn subnet24(&self) -> [u8; 3] {
        let [a, b, c, _] = self.ip.octets();
        [a, b, c]
    }
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(s).ok()?;
    bytes.try_into().ok()
}

/// Parses `{"service_node_states": [...]}` (a seed's `result`, or an `oxend_request` answer's
/// `result`). Bad entries are skipped and counted, never fatal; duplicates (same Ed25519) keep
/// the first.
pub fn parse_node_list(result: &Value) -> Result<(Vec<ServiceNode>, usize), NodeError> {
    let list = result
        .get("service_node_states")
        .and_then(Value::as_array)
        .ok_or(NodeError::NoList)?;
    let mut nodes: Vec<ServiceNode> = Vec::with_capacity(list.len());
    let mut skipped = 0;
    for entry in list {
        match ServiceNode::from_json(entry) {
            Ok(n) if !nodes.iter().any(|m| m.ed25519 == n.ed25519) => nodes.push(n),
            _ => skipped += 1,
        }
    }
    Ok((nodes, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ED: &str = "1f000f09a7b07828dcb72af7cd16857050c10c02bd58afb0e38111fb6cda1fef";
    const X: &str = "da21e1d886c6fbaea313f75298bd64aab03a97ce985b46bb2dad9f2089c8ee59";

    #[test]
    fn parses_seed_and_swarm_forms() {
        let seed = json!({"public_ip":"144.76.164.202","storage_port":22021,
            "pubkey_ed25519":ED,"pubkey_x25519":X,"requested_unlock_height":0,"swarm_id":7});
        let n = ServiceNode::from_json(&seed).unwrap();
        assert_eq!(n.ip, Ipv4Addr::new(144, 76, 164, 202));
        assert_eq!(n.storage_port, 22021);
        assert_eq!(n.swarm_id, Some(SwarmId(7)));
        assert_eq!(n.subnet24(), [144, 76, 164]);
        assert_eq!(
            n.url("/onion_req/v2"),
            "https://144.76.164.202:22021/onion_req/v2"
        );
        let swarm = json!({"ip":"1.2.3.4","port":"443","pubkey_ed25519":ED,"pubkey_x25519":X});
        assert_eq!(ServiceNode::from_json(&swarm).unwrap().storage_port, 443);
        let decommissioned = json!({"ip":"1.2.3.4","port_https":1,"pubkey_ed25519":ED,
            "pubkey_x25519":X,"swarm_id":u64::MAX});
        assert_eq!(
            ServiceNode::from_json(&decommissioned).unwrap().swarm_id,
            None
        );
    }

    #[test]
    fn rejects_unusable_entries() {
        let base =
            json!({"public_ip":"1.2.3.4","storage_port":1,"pubkey_ed25519":ED,"pubkey_x25519":X});
        let with = |k: &str, v: Value| {
            let mut o = base.clone();
            o[k] = v;
            ServiceNode::from_json(&o).unwrap_err()
        };
        assert_eq!(with("public_ip", json!("0.0.0.0")), NodeError::NoAddress);
        assert_eq!(with("public_ip", json!("::1")), NodeError::NoAddress);
        assert_eq!(with("storage_port", json!(0)), NodeError::NoPort);
        assert_eq!(with("storage_port", json!(70000)), NodeError::NoPort);
        assert_eq!(with("pubkey_ed25519", json!("abc")), NodeError::NoEd25519);
        assert_eq!(with("pubkey_x25519", json!(5)), NodeError::NoX25519);
        assert_eq!(
            ServiceNode::from_json(&json!([1])).unwrap_err(),
            NodeError::NotAnObject
        );
    }

    #[test]
    fn list_skips_bad_and_duplicate_entries() {
        let good =
            json!({"public_ip":"1.2.3.4","storage_port":1,"pubkey_ed25519":ED,"pubkey_x25519":X});
        let result = json!({"service_node_states":[good, good, {"public_ip":"0.0.0.0"}, 5]});
        let (nodes, skipped) = parse_node_list(&result).unwrap();
        assert_eq!((nodes.len(), skipped), (1, 3));
        assert_eq!(parse_node_list(&json!({})).unwrap_err(), NodeError::NoList);
    }

    proptest! {
        #[test]
        fn junk_never_panics(text in ".{0,300}") {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                let _ = ServiceNode::from_json(&v);
                let _ = parse_node_list(&v);
            }
        }

        #[test]
        fn junk_fields_never_panic(ip in ".{0,20}", port in any::<i64>(), ed in "[0-9a-f]{0,70}") {
            let v = json!({"public_ip": ip, "storage_port": port, "pubkey_ed25519": ed, "pubkey_x25519": X});
            let _ = ServiceNode::from_json(&v);
        }
    }
}
