//! Which hosts webhooks may call (issue 13, attack 9): an admin-given URL must not turn the
//! gateway into a proxy into its own network (loopback services, a cloud metadata endpoint
//! on 169.254.169.254, private ranges).
//!
//! * `webhooks.allowed_hosts`: when non-empty, the only targets: host names (exact,
//!   case-insensitive), IP addresses or CIDR ranges (`10.1.0.0/16`). A listed target is
//!   trusted as listed, private or not.
//! * `webhooks.deny_private` (default true, false under `serve --devnet`): refuse addresses
//!   that are loopback, private (RFC 1918, fc00::/7), shared (100.64.0.0/10), link-local
//!   (169.254.0.0/16, fe80::/10), unspecified, multicast or broadcast, unless listed.
//!
//! Checked when a webhook is created or changed (400 `webhook_target_denied`) and again at
//! each delivery, after DNS resolution: the webhook client resolves names through
//! [`GuardedResolver`], so the address checked is the address connected to (a name that
//! later resolves to a private address, DNS rebinding, is refused at delivery).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use crate::config::WebhookSettings;

/// Longest wait for DNS when a webhook is created or changed ([`TargetPolicy::check_resolved`]).
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Why a target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse or has no host.
    #[error("url must be an http:// or https:// URL with a host")]
    BadUrl,
    /// `webhooks.allowed_hosts` is set and does not list the host.
    #[error("{host} is not in webhooks.allowed_hosts")]
    NotListed {
        /// The URL's host.
        host: String,
    },
    /// The host is or resolves to an address `webhooks.deny_private` refuses.
    #[error("{host} is {class} ({ip}); webhooks.deny_private refuses it unless webhooks.allowed_hosts lists it")]
    Private {
        /// The URL's host.
        host: String,
        /// The address.
        ip: IpAddr,
        /// What kind of address it is (`loopback`, `link-local`, …).
        class: &'static str,
    },
    /// An `allowed_hosts` entry is not a host name, IP address or CIDR range.
    #[error("webhooks.allowed_hosts: {0:?} is not a host name, IP address or CIDR range")]
    BadEntry(String),
}

/// One `allowed_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Listed {
    Name(String),
    Net(IpAddr, u8),
}

/// The target rules in force (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    listed: Vec<Listed>,
    deny_private: bool,
}

impl TargetPolicy {
    /// The rules of `settings`; an entry that is no host, address or range is an error.
    pub fn new(settings: &WebhookSettings) -> Result<Self, TargetError> {
        let listed = settings
            .allowed_hosts
            .iter()
            .map(|entry| parse_entry(entry))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            listed,
            deny_private: settings.deny_private.unwrap_or(true),
        })
    }

    /// Whether `host` (as the URL spells it) connecting to `ip` is allowed.
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), TargetError> {
        let ip = canonical(ip);
        let by_name = self.name_listed(host);
        let by_net = self.listed.iter().any(|l| match l {
            Listed::Net(net, bits) => in_net(ip, *net, *bits),
            Listed::Name(_) => false,
        });
        if by_name || by_net {
            return Ok(());
        }
        if !self.listed.is_empty() {
            return Err(TargetError::NotListed {
                host: host.to_owned(),
            });
        }
        match address_class(ip) {
            Some(class) if self.deny_private => Err(TargetError::Private {
                host: host.to_owned(),
                ip,
                class,
            }),
            _ => Ok(()),
        }
    }

    /// The checks possible without DNS: scheme and host, an IP literal fully, a name against
    /// the list (a name not listed may still match a listed range once resolved).
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), TargetError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::BadUrl);
        }
        match host_of(url) {
            None => Err(TargetError::BadUrl),
            Some(Host::Ip(ip)) => self.check_addr(&ip.to_string(), ip),
            Some(Host::Name(name)) => {
                let nets = self.listed.iter().any(|l| matches!(l, Listed::Net(..)));
                if self.listed.is_empty() || nets || self.name_listed(name) {
                    Ok(())
                } else {
                    Err(TargetError::NotListed {
                        host: name.to_owned(),
                    })
                }
            }
        }
    }

    /// [`TargetPolicy::check_url`], then every address a host name resolves to now, waiting
    /// at most [`RESOLVE_TIMEOUT`] (a name that does not resolve in time passes here;
    /// delivery checks it again).
    pub async fn check_resolved(&self, url: &reqwest::Url) -> Result<(), TargetError> {
        self.check_url(url)?;
        let Some(Host::Name(name)) = host_of(url) else {
            return Ok(());
        };
        if self.name_listed(name) {
            return Ok(());
        }
        let port = url.port_or_known_default().unwrap_or(443);
        // Bounded: a resolver that does not answer must not hold an API request (the name
        // then counts as not resolving now; delivery checks it again).
        let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)));
        if let Ok(Ok(addrs)) = lookup.await {
            for addr in addrs {
                self.check_addr(name, addr.ip())?;
            }
        }
        Ok(())
    }

    /// Whether `url` carries events in clear over a network (http:// to a host that is not
    /// loopback): worth a warning in the log.
    pub fn is_cleartext(url: &reqwest::Url) -> bool {
        if url.scheme() != "http" {
            return false;
        }
        match host_of(url) {
            Some(Host::Ip(ip)) => !canonical(ip).is_loopback(),
            Some(Host::Name(name)) => !name.eq_ignore_ascii_case("localhost"),
            None => false,
        }
    }

    fn name_listed(&self, host: &str) -> bool {
        self.listed
            .iter()
            .any(|l| matches!(l, Listed::Name(n) if n.eq_ignore_ascii_case(host)))
    }
}

/// A DNS resolver for the webhook client that refuses names resolving to a denied address,
/// so the check and the connection use the same answer.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: Arc<TargetPolicy>,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<TargetPolicy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // One denied address refuses the name: an attacker's DNS could mix them.
            for addr in &addrs {
                policy.check_addr(&host, addr.ip())?;
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// A URL's host: an address literal or a name.
enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

fn host_of(url: &reqwest::Url) -> Option<Host<'_>> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    Some(match bare.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(host),
    })
}

fn parse_entry(entry: &str) -> Result<Listed, TargetError> {
    let entry = entry.trim();
    let bad = || TargetError::BadEntry(entry.to_owned());
    if let Some((addr, bits)) = entry.split_once('/') {
        let ip: IpAddr = addr.parse().map_err(|_| bad())?;
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        return if bits <= max {
            Ok(Listed::Net(canonical(ip), bits))
        } else {
            Err(bad())
        };
    }
    let unbracketed = entry.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        let bits = if ip.is_ipv4() { 32 } else { 128 };
        return Ok(Listed::Net(canonical(ip), bits));
    }
    let valid = !entry.is_empty()
        && entry
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if valid {
        Ok(Listed::Name(entry.to_ascii_lowercase()))
    } else {
        Err(bad())
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// What `deny_private` refuses, by name; `None` for a public address.
pub fn address_class(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if ip.is_private() {
        Some("private")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("multicast or reserved")
    } else {
        None
    }
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private")
    } else if ip.is_multicast() {
        Some("multicast or reserved")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(listed: &[&str], deny_private: Option<bool>) -> TargetPolicy {
        let settings = WebhookSettings {
            allowed_hosts: listed.iter().map(|s| (*s).to_owned()).collect(),
            deny_private,
            ..WebhookSettings::default()
        };
        TargetPolicy::new(&settings).unwrap()
    }

    fn url(u: &str) -> reqwest::Url {
        reqwest::Url::parse(u).unwrap()
    }

    #[test]
    fn private_and_link_local_are_refused_by_default() {
        let p = policy(&[], None);
        for target in [
            "http://127.0.0.1:8080/x",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.5/",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:169.254.169.254]/",
        ] {
            assert!(p.check_url(&url(target)).is_err(), "{target}");
        }
        assert!(p.check_url(&url("https://93.184.216.34/hook")).is_ok());
        assert!(p.check_url(&url("https://hooks.example.com/x")).is_ok());
        assert!(p.check_url(&url("ftp://93.184.216.34/")).is_err());
    }

    #[test]
    fn listed_hosts_pass_and_are_the_only_ones() {
        let p = policy(&["127.0.0.1", "hooks.internal", "10.1.0.0/16"], None);
        assert!(p.check_url(&url("http://127.0.0.1:9/")).is_ok());
        assert!(p
            .check_addr("hooks.internal", "10.9.9.9".parse().unwrap())
            .is_ok());
        assert!(p.check_addr("other", "10.1.2.3".parse().unwrap()).is_ok());
        assert_eq!(
            p.check_addr("other", "93.184.216.34".parse().unwrap()),
            Err(TargetError::NotListed {
                host: "other".into()
            })
        );
        assert!(p.check_url(&url("http://127.0.0.2/")).is_err());
        let names_only = policy(&["hooks.example.com"], None);
        assert!(names_only.check_url(&url("https://evil.example/")).is_err());
    }

    #[test]
    fn deny_private_false_allows_everything_unlisted() {
        let p = policy(&[], Some(false));
        assert!(p.check_url(&url("http://127.0.0.1:9/")).is_ok());
        assert!(p.check_url(&url("http://169.254.169.254/")).is_ok());
    }

    #[test]
    fn bad_entries_are_refused() {
        for entry in ["10.0.0.0/33", "::/129", "a b", "", "x/8", "http://h/"] {
            let settings = WebhookSettings {
                allowed_hosts: vec![entry.to_owned()],
                ..WebhookSettings::default()
            };
            assert!(TargetPolicy::new(&settings).is_err(), "{entry}");
        }
    }

    #[test]
    fn cleartext_is_http_off_loopback() {
        assert!(TargetPolicy::is_cleartext(&url("http://10.0.0.1/")));
        assert!(TargetPolicy::is_cleartext(&url(
            "http://hooks.example.com/"
        )));
        assert!(!TargetPolicy::is_cleartext(&url("http://127.0.0.1:9/")));
        assert!(!TargetPolicy::is_cleartext(&url("http://localhost:9/")));
        assert!(!TargetPolicy::is_cleartext(&url(
            "https://hooks.example.com/"
        )));
    }
}
