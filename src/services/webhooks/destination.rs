//! Where a webhook may be delivered.
//!
//! A merchant can register an endpoint, so an endpoint is attacker-chosen: it must never reach
//! the portal's own network. Refused: every address of IANA's IPv4 and IPv6 special-purpose
//! registries (loopback, private, shared 100.64/10, link-local, benchmarking, documentation,
//! multicast, reserved, …) however it is written — IPv4-mapped, IPv4-compatible, NAT64 and 6to4
//! forms included, because IPv6 is allowed only inside global unicast 2000::/3 — and every name
//! that does not resolve.
//!
//! A name is resolved once per connection, by [`GuardedResolver`], which refuses the name if any
//! of its addresses is special; the HTTP client connects to exactly the addresses it returned.
//! So there is no window between "checked" and "connected" for DNS rebinding, and redirects are
//! not followed (a 3xx is a failed delivery).

use std::{
    fmt,
    future::Future,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use ipnet::{Ipv4Net, Ipv6Net};

/// Resolves a host name to addresses (the system resolver in production; tests script it).
pub trait HostLookup: Send + Sync {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;
}

/// `getaddrinfo`, through tokio.
pub struct SystemLookup;

impl HostLookup for SystemLookup {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_string();
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) })
    }
}

/// The resolver webhooks use, as configuration.
#[derive(Clone)]
pub struct Lookup(pub Arc<dyn HostLookup>);

impl Default for Lookup {
    fn default() -> Self {
        Self(Arc::new(SystemLookup))
    }
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lookup")
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(first: u16, second: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(first, second, 0, 0, 0, 0, 0, 0), len)
}

/// IANA IPv4 Special-Purpose Address Registry, plus multicast and the reserved 240/4.
const SPECIAL_V4: &[Ipv4Net] = &[
    v4(0, 0, 0, 0, 8),       // "this network"
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // shared address space (carrier-grade NAT)
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local, cloud metadata
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation
    v4(192, 31, 196, 0, 24), // AS112
    v4(192, 52, 193, 0, 24), // AMT
    v4(192, 88, 99, 0, 24),  // 6to4 relay anycast
    v4(192, 168, 0, 0, 16),  // private
    v4(192, 175, 48, 0, 24), // direct delegation AS112
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation
    v4(203, 0, 113, 0, 24),  // documentation
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, and the limited broadcast address
];

/// Only global unicast IPv6 is a destination: this excludes ::, ::1, IPv4-mapped and
/// -compatible forms, NAT64 (64:ff9b::/96, 64:ff9b:1::/48), discard, unique-local fc00::/7,
/// link-local fe80::/10 and multicast ff00::/8 in one rule.
const GLOBAL_UNICAST_V6: Ipv6Net = v6(0x2000, 0, 3);

/// Special-purpose blocks inside 2000::/3.
const SPECIAL_V6: &[Ipv6Net] = &[
    v6(0x2001, 0x0000, 23), // IETF protocol assignments: Teredo, benchmarking, ORCHID…
    v6(0x2001, 0x0db8, 32), // documentation
    v6(0x2002, 0x0000, 16), // 6to4: embeds an IPv4 address
    v6(0x3fff, 0x0000, 20), // documentation (RFC 9637)
];

/// Whether `ip` is any kind of address a webhook must not reach.
pub fn is_special_use(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => SPECIAL_V4.iter().any(|net| net.contains(&ip)),
        IpAddr::V6(ip) => !GLOBAL_UNICAST_V6.contains(&ip) || SPECIAL_V6.iter().any(|net| net.contains(&ip)),
    }
}

/// How long a name may take to resolve (registration and every connection).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a destination is refused. The details are for the server's log: callers are told only
/// that the destination is not allowed, so the check cannot be used to map internal names.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the host {0} does not resolve")]
    Unresolvable(String),
    #[error("the destination {0} is a loopback, private or other special-use address")]
    SpecialUse(IpAddr),
    #[error("the URL has no host")]
    NoHost,
}

/// Resolves names for webhook connections and refuses special-use destinations.
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    lookup: Lookup,
    allow_private: bool,
}

impl GuardedResolver {
    /// `allow_private` (development only) skips the address check, never the resolution.
    pub fn new(lookup: Lookup, allow_private: bool) -> Self {
        Self { lookup, allow_private }
    }

    fn check_address(&self, ip: IpAddr) -> Result<IpAddr, Refusal> {
        if !self.allow_private && is_special_use(ip) { Err(Refusal::SpecialUse(ip)) } else { Ok(ip) }
    }

    /// The addresses of `host`, all of them allowed, or why not. A name server that does not
    /// answer within `LOOKUP_TIMEOUT` makes the name unresolvable.
    pub async fn resolve_checked(&self, host: &str) -> Result<Vec<IpAddr>, Refusal> {
        let unresolvable = || Refusal::Unresolvable(host.to_string());
        let addresses = tokio::time::timeout(LOOKUP_TIMEOUT, self.lookup.0.lookup(host))
            .await
            .map_err(|_| unresolvable())?
            .map_err(|_| unresolvable())?;
        if addresses.is_empty() {
            return Err(unresolvable());
        }
        addresses.into_iter().map(|ip| self.check_address(ip)).collect()
    }

    /// Checks a URL's host: an address literal as it is written, a name by resolving it.
    pub async fn check_url(&self, url: &reqwest::Url) -> Result<(), Refusal> {
        match url.host().ok_or(Refusal::NoHost)? {
            url::Host::Ipv4(ip) => self.check_address(IpAddr::V4(ip)).map(drop),
            url::Host::Ipv6(ip) => self.check_address(IpAddr::V6(ip)).map(drop),
            url::Host::Domain(name) => self.resolve_checked(name).await.map(drop),
        }
    }

    /// The client deliveries go through: names resolved (and checked) by this resolver at
    /// connect time, no redirects, no proxy from the environment.
    pub fn http_client(&self, timeout: Duration) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(self.clone()))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .build()
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addresses = resolver.resolve_checked(name.as_str()).await?;
            // Port 0: the client puts the URL's port in.
            let addrs: reqwest::dns::Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn special(text: &str) -> bool {
        is_special_use(text.parse().expect("address"))
    }

    #[test]
    fn special_use_addresses_are_refused_in_every_spelling() {
        for address in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:a9fe:a9fe",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
        ] {
            assert!(special(address), "{address} must be refused");
        }
    }

    #[test]
    fn public_unicast_addresses_are_allowed() {
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "2400:3200::1",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert!(!special(address), "{address} is a public address");
        }
    }
}
