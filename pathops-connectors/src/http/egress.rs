//! The egress checks: the host allowlist, and the private-address switch applied both to
//! addresses written in URLs and to every address DNS returns (so a name cannot smuggle a
//! private address past the policy).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{Ipv4Net, Ipv6Net};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::error::Refusal;
use super::policy::EgressPolicy;

/// IPv4 ranges that are not globally reachable, from IANA's IPv4 Special-Purpose Address
/// Registry, plus multicast and the reserved 240/4. Refused with private addresses blocked.
const DENIED_V4: [Ipv4Net; 16] = [
    v4(0, 0, 0, 0, 8),          // "this network"
    v4(10, 0, 0, 0, 8),         // private
    v4(100, 64, 0, 0, 10),      // shared address space (CGNAT)
    v4(127, 0, 0, 0, 8),        // loopback
    v4(169, 254, 0, 0, 16),     // link-local (cloud metadata at 169.254.169.254)
    v4(172, 16, 0, 0, 12),      // private
    v4(192, 0, 0, 0, 24),       // IETF protocol assignments (Oracle metadata 192.0.0.192)
    v4(192, 0, 2, 0, 24),       // documentation (TEST-NET-1)
    v4(192, 88, 99, 0, 24),     // deprecated 6to4 relay anycast
    v4(192, 168, 0, 0, 16),     // private
    v4(198, 18, 0, 0, 15),      // benchmarking
    v4(198, 51, 100, 0, 24),    // documentation (TEST-NET-2)
    v4(203, 0, 113, 0, 24),     // documentation (TEST-NET-3)
    v4(224, 0, 0, 0, 4),        // multicast
    v4(240, 0, 0, 0, 4),        // reserved for future use
    v4(255, 255, 255, 255, 32), // limited broadcast
];

/// IPv6 ranges that are not globally reachable, from IANA's IPv6 Special-Purpose Address
/// Registry, plus the deprecated site-local fec0::/10 and multicast. The forms that embed an
/// IPv4 address (mapped, compatible, NAT64, 6to4) are classified by that address instead.
const DENIED_V6: [Ipv6Net; 12] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128),         // unspecified
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128),         // loopback
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),  // local-use IPv4/IPv6 translation
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),      // discard-only
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),     // IETF protocol assignments (Teredo 2001::/32)
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),     // documentation
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),     // segment routing (SRv6) SIDs
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),      // unique local
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),     // link-local
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),     // site-local (deprecated)
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),      // multicast
];

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    )
}

/// The IPv4 address an IPv6 address carries, for the forms that route to it: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated), NAT64 (`64:ff9b::/96`) and
/// 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        // Compatible: ::/96 except :: and ::1, which are classified as IPv6 themselves.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => Some(from(hi, lo)),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        [0x2002, hi, lo, ..] => Some(from(hi, lo)),
        _ => None,
    }
}

/// Whether `ip` is not globally reachable — private, loopback, link-local, shared,
/// documentation, benchmarking, multicast, reserved and the other special-purpose ranges of
/// IANA's registries, including IPv4 addresses embedded in IPv6 forms — the addresses
/// [`EgressPolicy::block_private_addresses`] refuses.
pub fn is_internal_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => DENIED_V4.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_internal_address(IpAddr::V4(v4)),
            None => DENIED_V6.iter().any(|net| net.contains(&v6)),
        },
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

/// Checks an integration's own proxy (tenant configuration) against the policy: its host must
/// pass the allowlist and, while private addresses are blocked, be one the operator listed in
/// `allowed_proxies`, since a proxy resolves and connects on PathOps's behalf where the
/// address filter cannot see; `socks5h` (names resolved by the proxy) is then refused outright.
pub(crate) fn check_proxy(policy: &EgressPolicy, proxy: &str) -> Result<(), Refusal> {
    let refused = |host: &str, reason| {
        Err(Refusal::Egress {
            host: host.to_owned(),
            reason,
        })
    };
    let Ok(url) = url::Url::parse(proxy) else {
        return refused("[unparsable proxy]", "the proxy URL does not parse");
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if !policy.allows_host(&host) && !policy.allows_proxy(&host) {
        return refused(&host, "proxy not in the allowlist");
    }
    if policy.block_private_addresses {
        if url.scheme() == "socks5h" {
            return refused(
                &host,
                "socks5h proxies resolve names past the address filter",
            );
        }
        if !policy.allows_proxy(&host) {
            return refused(
                &host,
                "integration proxies are refused while private addresses are blocked, unless allowlisted",
            );
        }
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
            // One vector per range that the first deny list missed.
            "0.1.2.3",
            "192.0.0.192",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::ffff:169.254.169.254",
            "::a9fe:a9fe",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b:1::1",
        ] {
            assert!(is_internal_address(internal.parse().unwrap()), "{internal}");
        }
        for public in [
            "8.8.8.8",
            "1.0.0.1",
            "100.128.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2a00:1450:4001::200e",
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
            allowed_proxies: vec![],
        };
        assert!(check_url(&closed, &url("http://127.0.0.1:8080/x")).is_err());
        assert!(check_url(&closed, &url("http://[::1]:8080/x")).is_err());
        assert!(check_url(&closed, &url("https://gitlab.example.com")).is_ok());
        let listed = EgressPolicy {
            allowed_hosts: vec!["gitlab.example.com".into()],
            block_private_addresses: false,
            allowed_proxies: vec![],
        };
        assert!(check_url(&listed, &url("https://gitlab.example.com/api")).is_ok());
        assert!(check_url(&listed, &url("https://github.com/")).is_err());
    }
}
