//! The egress checks: the host allowlist, and the private-address switch applied both to
//! addresses written in URLs and to every address DNS returns (so a name cannot smuggle a
//! private address past the policy).

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::error::Refusal;
use super::policy::EgressPolicy;

/// Whether `ip` is private, loopback, link-local, shared (100.64/10), unspecified or
/// broadcast — the addresses [`EgressPolicy::block_private_addresses`] refuses.
pub fn is_internal_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Checks a URL's host against the policy before any call is made.
pub(crate) fn check_url(policy: &EgressPolicy, url: &url::Url) -> Result<(), Refusal> {
    let host = url.host_str().unwrap_or_default();
    if !policy.allows_host(host.trim_start_matches('[').trim_end_matches(']')) {
        return Err(Refusal::Egress {
            host: host.to_owned(),
            reason: "not in the allowlist",
        });
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        _ => None,
    };
    if policy.block_private_addresses
        && let Some(ip) = literal
        && is_internal_address(ip)
    {
        return Err(Refusal::Egress {
            host: host.to_owned(),
            reason: "private, loopback or link-local address",
        });
    }
    Ok(())
}

/// The resolver every client uses: the system resolver, then the private-address filter.
#[derive(Debug, Clone)]
pub(crate) struct EgressResolver {
    pub(crate) block_private_addresses: bool,
}

impl Resolve for EgressResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let block = self.block_private_addresses;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let total = found.len();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| !block || !is_internal_address(a.ip()))
                .collect();
            if allowed.is_empty() && total > 0 {
                return Err(Box::new(Refusal::Egress {
                    host,
                    reason: "resolves only to private, loopback or link-local addresses",
                }) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for internal in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal_address(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "8.8.8.8",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_internal_address(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn literal_addresses_and_the_allowlist_are_checked_before_calling() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        let open = EgressPolicy::default();
        assert!(check_url(&open, &url("http://127.0.0.1:8080/x")).is_ok());
        let closed = EgressPolicy {
            allowed_hosts: vec![],
            block_private_addresses: true,
        };
        assert!(check_url(&closed, &url("http://127.0.0.1:8080/x")).is_err());
        assert!(check_url(&closed, &url("http://[::1]:8080/x")).is_err());
        assert!(check_url(&closed, &url("https://gitlab.example.com")).is_ok());
        let listed = EgressPolicy {
            allowed_hosts: vec!["gitlab.example.com".into()],
            block_private_addresses: false,
        };
        assert!(check_url(&listed, &url("https://gitlab.example.com/api")).is_ok());
        assert!(check_url(&listed, &url("https://github.com/")).is_err());
    }
}
