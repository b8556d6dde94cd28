//! Devnet configuration and the `--faults` spec.

use super::faults::Faults;
use super::rate_limit::RateLimit;

/// How to start a devnet.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// Number of service nodes (default 12).
    pub nodes: usize,
    /// Nodes per swarm (default 4); the last swarm takes the remainder.
    pub swarm_size: usize,
    /// Seed port; `None` (or 0) picks an ephemeral port.
    pub seed_port: Option<u16>,
    /// Faults per node index at start.
    pub faults: Vec<(usize, Faults)>,
    /// Direct `/storage_rpc/v1` rate limit per client IP (default: the real server's).
    pub rate_limit: RateLimit,
    /// Serve the seed over HTTPS with a self-signed certificate no client trusts (an
    /// impersonated seed, issue 13 attack 1); its URL becomes `https://127.0.0.1:P/json_rpc`.
    pub seed_tls: bool,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            nodes: 12,
            swarm_size: 4,
            seed_port: None,
            faults: Vec::new(),
            rate_limit: RateLimit::default(),
            seed_tls: false,
        }
    }
}

/// Errors in a devnet configuration.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// `--faults` text that does not follow the grammar.
    #[error("bad fault spec {0:?}: expected NODE:NAME[=VALUE],...;... (see README)")]
    FaultSpec(String),
    /// A fault for a node index that does not exist.
    #[error("fault for node {0}, but the devnet has {1} nodes")]
    NoSuchNode(usize, usize),
    /// Zero nodes or zero-sized swarms.
    #[error("need at least one node and a swarm size of at least one")]
    Empty,
}

/// Parses `NODE:FAULT[=VALUE][,FAULT…][;NODE:…]`, where NODE is an index or `*` (all nodes) and
/// FAULT is a [`Faults`] field name: `drop=0.3`, `delay_ms=200`, and the flags `corrupt_onion`,
/// `refuse_store`, `tamper_retrieve`, `cursor_skip`, `replay`, `always_more`, `false_421`,
/// `next_node_not_found`, `not_ready`, `lie_swarm`, `huge_reply`, `clock_lie`; and
/// `only_account=<66 hex>` to aim `false_421` and `tamper_retrieve` at one account.
pub fn parse_fault_spec(spec: &str, nodes: usize) -> Result<Vec<(usize, Faults)>, ConfigError> {
    let bad = || ConfigError::FaultSpec(spec.to_owned());
    let mut out: Vec<(usize, Faults)> = Vec::new();
    for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (target, list) = part.split_once(':').ok_or_else(bad)?;
        let targets: Vec<usize> = match target.trim() {
            "*" => (0..nodes).collect(),
            n => vec![n.parse().map_err(|_| bad())?],
        };
        for idx in targets {
            if idx >= nodes {
                return Err(ConfigError::NoSuchNode(idx, nodes));
            }
            let pos = match out.iter().position(|(i, _)| *i == idx) {
                Some(pos) => pos,
                None => {
                    out.push((idx, Faults::default()));
                    out.len() - 1
                }
            };
            let faults = &mut out.get_mut(pos).ok_or_else(bad)?.1;
            for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                apply(faults, item).ok_or_else(bad)?;
            }
        }
    }
    Ok(out)
}

fn apply(f: &mut Faults, item: &str) -> Option<()> {
    let (name, value) = match item.split_once('=') {
        Some((n, v)) => (n.trim(), Some(v.trim())),
        None => (item, None),
    };
    let flag = |v: Option<&str>| match v {
        None | Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        _ => None,
    };
    match name {
        "drop" => {
            let x: f64 = value?.parse().ok()?;
            if !(0.0..=1.0).contains(&x) {
                return None;
            }
            f.drop = x;
        }
        "delay_ms" | "delay" => f.delay_ms = value?.parse().ok()?,
        "corrupt_onion" => f.corrupt_onion = flag(value)?,
        "refuse_store" => f.refuse_store = flag(value)?,
        "tamper_retrieve" => f.tamper_retrieve = flag(value)?,
        "cursor_skip" => f.cursor_skip = flag(value)?,
        "replay" => f.replay = flag(value)?,
        "always_more" => f.always_more = flag(value)?,
        "false_421" => f.false_421 = flag(value)?,
        "next_node_not_found" => f.next_node_not_found = flag(value)?,
        "not_ready" | "503" => f.not_ready = flag(value)?,
        "lie_swarm" => f.lie_swarm = flag(value)?,
        "huge_reply" => f.huge_reply = flag(value)?,
        "clock_lie" => f.clock_lie = flag(value)?,
        "only_account" => f.only_account = Some(value?.to_owned()),
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_readme_example() {
        let got = parse_fault_spec(
            "0:drop=0.5,delay_ms=200; 3:refuse_store;*:not_ready=false",
            4,
        )
        .unwrap();
        let zero = &got.iter().find(|(i, _)| *i == 0).unwrap().1;
        assert_eq!(zero.drop, 0.5);
        assert_eq!(zero.delay_ms, 200);
        assert!(got.iter().find(|(i, _)| *i == 3).unwrap().1.refuse_store);
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn rejects_junk() {
        for spec in [
            "x",
            "0:fly",
            "0:drop=2",
            "9:drop=0.1",
            "a:drop=0.1",
            "0:delay_ms=-1",
        ] {
            assert!(parse_fault_spec(spec, 4).is_err(), "{spec}");
        }
        assert_eq!(parse_fault_spec("0:", 4), Ok(vec![(0, Faults::default())]));
    }
}
