//! The HTTP edge's bounds and timings, named in one place.

use std::net::IpAddr;
use std::time::Duration;

/// Bytes in an `Idempotency-Key`: enough for a UUID or a client's composite key, small enough to
/// index.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;

/// Bytes in a client-supplied `x-request-id`; longer ones are replaced, not truncated, so a log
/// search for the client's id never matches a prefix of someone else's.
pub const REQUEST_ID_BYTES_MAX: usize = 128;

/// Characters in a payment token: provider tokens are short opaque strings, and the token is
/// stored with the saga, so its size is bounded like every other stored field.
pub const PAYMENT_TOKEN_CHARS_MAX: usize = 255;

/// How often a request that finds its idempotency key in progress looks at the order again.
pub const IDEMPOTENCY_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long `/readyz` waits for the store before declaring the process not ready.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// Limits of the HTTP edge, set by the bootstrap from configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest accepted request body; the biggest legitimate body (a buy-now order with
    /// `ORDER_LINES_MAX` lines and an address) is a few KiB.
    pub body_bytes_max: usize,
    /// How long a retried checkout waits for the first attempt with the same idempotency key to
    /// finish before answering `idempotency_in_progress`.
    pub idempotency_wait: Duration,
    /// Requests handled at once; beyond it requests are shed with 503 instead of queueing, so
    /// latency stays bounded and memory cannot grow with the backlog.
    pub concurrency_max: usize,
    /// The `Retry-After` seconds of every retryable answer.
    pub retry_after_secs: u64,
    /// Sign-ups one client address may make per minute (also the burst).
    pub signups_per_minute_per_client: u32,
    /// Login attempts one client address may make per minute (also the burst).
    pub logins_per_minute_per_client: u32,
    /// Login attempts against one email per minute, from anywhere (also the burst).
    pub logins_per_minute_per_email: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (none by default: the TCP peer
    /// is the client).
    pub trusted_proxies: TrustedProxies,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            body_bytes_max: 16 * 1024,
            idempotency_wait: Duration::from_secs(5),
            concurrency_max: 4096,
            retry_after_secs: 1,
            signups_per_minute_per_client: 10,
            logins_per_minute_per_client: 30,
            logins_per_minute_per_email: 10,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// Ranges in `TRUSTED_PROXIES`, at most.
pub const TRUSTED_PROXIES_MAX: usize = 8;

/// `X-Forwarded-For` entries looked at, from the right, before giving up on finding the client.
pub const FORWARDED_HOPS_MAX: usize = 16;

/// An address range: `10.0.0.0/8`, `fd00::/8`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(text: &str) -> Result<IpRange, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0..={bits}"))?,
        };
        Ok(IpRange { network, prefix })
    }

    /// Whether `ip` (IPv4-mapped IPv6 counts as IPv4) lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The reverse proxies trusted to say who the client is (`TRUSTED_PROXIES`), a bounded list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: [Option<IpRange>; TRUSTED_PROXIES_MAX],
}

impl TrustedProxies {
    /// A comma-separated list of addresses and CIDR ranges; empty trusts no one.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut trusted = TrustedProxies::default();
        let entries = list.split(',').map(str::trim).filter(|e| !e.is_empty());
        for (i, entry) in entries.enumerate() {
            let slot = trusted
                .ranges
                .get_mut(i)
                .ok_or_else(|| format!("at most {TRUSTED_PROXIES_MAX} ranges"))?;
            *slot = Some(IpRange::parse(entry)?);
        }
        Ok(trusted)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().flatten().any(|r| r.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(Option::is_none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ranges_parse_and_contain() {
        let r = IpRange::parse("10.1.0.0/16").expect("range");
        assert!(r.contains(ip("10.1.200.3")));
        assert!(!r.contains(ip("10.2.0.1")));
        assert!(
            r.contains(ip("::ffff:10.1.0.9")),
            "IPv4-mapped IPv6 is IPv4"
        );
        assert!(!r.contains(ip("fd00::1")));
        let one = IpRange::parse("192.168.1.5").expect("address");
        assert!(one.contains(ip("192.168.1.5")) && !one.contains(ip("192.168.1.6")));
        let v6 = IpRange::parse("fd00::/8").expect("v6 range");
        assert!(v6.contains(ip("fdab::1")) && !v6.contains(ip("fe80::1")));
        assert!(IpRange::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("8.8.8.8")));
        for bad in [
            "10.0.0.0/33",
            "fd00::/129",
            "nonsense",
            "10.0.0/8",
            "10.0.0.0/x",
        ] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_are_a_bounded_list() {
        let t = TrustedProxies::parse(" 10.0.0.0/8, ,127.0.0.1 ").expect("list");
        assert!(t.contains(ip("10.9.9.9")) && t.contains(ip("127.0.0.1")));
        assert!(!t.contains(ip("11.0.0.1")));
        assert!(TrustedProxies::parse("").expect("empty").is_empty());
        let nine = ["10.0.0.1"; TRUSTED_PROXIES_MAX + 1].join(",");
        assert!(TrustedProxies::parse(&nine).is_err());
    }
}
