//! Rate limits on sign-up and login: token buckets per key (the client's address, and for logins
//! also the email), so password guessing and account farming are slowed to a trickle while a
//! shopper who mistypes a password twice never notices.
//!
//! Memory is bounded: at most `RATE_LIMIT_KEYS_MAX` keys per limiter. When the map is full, keys
//! whose bucket has refilled (idle clients) are dropped first; if every key is still active, a new
//! key is refused rather than admitted, so a flood of distinct addresses cannot grow the map or
//! slip through.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use dashmap::DashMap;

use crate::limits::{HttpLimits, TrustedProxies, FORWARDED_HOPS_MAX};
use crate::problem::{ApiError, Code};

/// Keys one limiter tracks at most.
pub const RATE_LIMIT_KEYS_MAX: usize = 100_000;

/// One token bucket: `burst` tokens, refilled at `per_minute` a minute.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A keyed token-bucket limiter.
#[derive(Debug)]
pub struct RateLimiter<K: Eq + Hash> {
    buckets: DashMap<K, Bucket>,
    per_minute: u32,
    keys_max: usize,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(per_minute: u32, keys_max: usize) -> RateLimiter<K> {
        RateLimiter {
            buckets: DashMap::new(),
            per_minute: per_minute.max(1),
            keys_max: keys_max.max(1),
        }
    }

    fn refill_per_sec(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// Takes one token for `key` at `now`; when none is left, says how long until one is.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let burst = f64::from(self.per_minute);
        if !self.buckets.contains_key(key) && self.buckets.len() >= self.keys_max {
            self.forget_idle(now);
            if self.buckets.len() >= self.keys_max {
                return Err(Duration::from_secs(60));
            }
        }
        let mut bucket = self.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.refill_per_sec()).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait_secs = (1.0 - bucket.tokens) / self.refill_per_sec();
            Err(Duration::from_secs_f64(wait_secs))
        }
    }

    /// Drops the keys whose bucket would be full again: they carry no history worth keeping.
    fn forget_idle(&self, now: Instant) {
        let full_after = 60.0;
        self.buckets.retain(|_, bucket| {
            now.saturating_duration_since(bucket.updated).as_secs_f64() < full_after
        });
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// The limiters of the account routes, shared by the router as a request extension.
#[derive(Clone, Debug)]
pub struct AuthRateLimits {
    signups_by_client: Arc<RateLimiter<IpAddr>>,
    logins_by_client: Arc<RateLimiter<IpAddr>>,
    logins_by_email: Arc<RateLimiter<String>>,
    trusted_proxies: TrustedProxies,
}

impl AuthRateLimits {
    pub fn new(limits: &HttpLimits) -> AuthRateLimits {
        AuthRateLimits {
            signups_by_client: Arc::new(RateLimiter::new(
                limits.signups_per_minute_per_client,
                RATE_LIMIT_KEYS_MAX,
            )),
            logins_by_client: Arc::new(RateLimiter::new(
                limits.logins_per_minute_per_client,
                RATE_LIMIT_KEYS_MAX,
            )),
            logins_by_email: Arc::new(RateLimiter::new(
                limits.logins_per_minute_per_email,
                RATE_LIMIT_KEYS_MAX,
            )),
            trusted_proxies: limits.trusted_proxies,
        }
    }

    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.trusted_proxies
    }

    pub fn sign_up(&self, client: IpAddr) -> Result<(), ApiError> {
        limited(self.signups_by_client.check(&client, Instant::now()))
    }

    /// Both the client's and the email's bucket must allow the attempt, so neither spreading one
    /// client over many emails nor many clients over one email gets more guesses.
    pub fn log_in(&self, client: IpAddr, email: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        limited(self.logins_by_client.check(&client, now))?;
        limited(self.logins_by_email.check(&email.to_lowercase(), now))
    }
}

fn limited(result: Result<(), Duration>) -> Result<(), ApiError> {
    result.map_err(|wait| {
        let seconds = wait.as_secs().saturating_add(1);
        ApiError::new(
            Code::RateLimited,
            format!("too many attempts; retry in {seconds} s"),
        )
        .retry_after(seconds)
    })
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy; then the rightmost
/// `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its left were written
/// by the client and prove nothing). A malformed entry stops the walk at the last address known
/// good. Requests without a peer (in-process tests) share one key.
pub fn client_ip(parts: &Parts, trusted: &TrustedProxies) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |info| info.0.ip())
        .to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let mut client = peer;
    let hops = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|value| value.to_str().unwrap_or("?").rsplit(','))
        .take(FORWARDED_HOPS_MAX);
    for hop in hops {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return client;
        };
        client = ip.to_canonical();
        if !trusted.contains(client) {
            return client;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: &str, forwarded: &[&str]) -> Parts {
        let mut request = axum::http::Request::get("/");
        for value in forwarded {
            request = request.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = request.body(()).expect("request").into_parts();
        let addr: std::net::SocketAddr = format!("{peer}:4000").parse().expect("peer");
        parts.extensions.insert(ConnectInfo(addr));
        parts
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let none = TrustedProxies::default();
        let lb = TrustedProxies::parse("10.0.0.0/8").expect("trusted");
        // Nobody trusted: the header is ignored, whatever it says.
        assert_eq!(
            client_ip(&parts("203.0.113.9", &["1.2.3.4"]), &none),
            ip("203.0.113.9")
        );
        // A trusted proxy: the rightmost untrusted entry, skipping inner proxies.
        let p = parts("10.0.0.2", &["6.6.6.6, 198.51.100.7, 10.0.0.1"]);
        assert_eq!(client_ip(&p, &lb), ip("198.51.100.7"));
        // Several header lines count in order.
        let p = parts("10.0.0.2", &["6.6.6.6", "198.51.100.7"]);
        assert_eq!(client_ip(&p, &lb), ip("198.51.100.7"));
        // An untrusted peer cannot claim to be anyone.
        assert_eq!(
            client_ip(&parts("198.51.100.7", &["1.1.1.1"]), &lb),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last good address; no header leaves the proxy.
        assert_eq!(
            client_ip(&parts("10.0.0.2", &["1.1.1.1, junk, 10.0.0.3"]), &lb),
            ip("10.0.0.3")
        );
        assert_eq!(client_ip(&parts("10.0.0.2", &[]), &lb), ip("10.0.0.2"));
        // IPv4-mapped peers are IPv4.
        assert_eq!(
            client_ip(&parts("[::ffff:10.0.0.2]", &["192.0.2.1"]), &lb),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn a_burst_passes_then_the_bucket_refills_at_the_rate() {
        let limiter = RateLimiter::new(6, 10);
        let start = Instant::now();
        for _ in 0..6 {
            assert!(limiter.check(&1, start).is_ok());
        }
        let wait = limiter.check(&1, start).expect_err("burst spent");
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10));
        // Six a minute is one every ten seconds.
        assert!(limiter.check(&1, start + Duration::from_secs(10)).is_ok());
        assert!(limiter.check(&1, start + Duration::from_secs(11)).is_err());
    }

    #[test]
    fn keys_do_not_share_buckets() {
        let limiter = RateLimiter::new(1, 10);
        let now = Instant::now();
        assert!(limiter.check(&"a", now).is_ok());
        assert!(limiter.check(&"a", now).is_err());
        assert!(limiter.check(&"b", now).is_ok());
    }

    #[test]
    fn memory_is_bounded_and_idle_keys_make_room() {
        let limiter = RateLimiter::new(5, 3);
        let now = Instant::now();
        for key in 0..3 {
            assert!(limiter.check(&key, now).is_ok());
        }
        // Every key is active: a new one is refused, not admitted.
        assert!(limiter.check(&99, now).is_err());
        assert_eq!(limiter.len(), 3);
        // A minute later every bucket is full again, so their keys can go.
        let later = now + Duration::from_secs(61);
        assert!(limiter.check(&99, later).is_ok());
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn refusals_are_429_with_retry_after() {
        use axum::response::IntoResponse;
        let error = limited(Err(Duration::from_millis(2_500))).expect_err("limited");
        assert_eq!(error.code(), Code::RateLimited);
        let response = error.into_response();
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "3");
    }
}
