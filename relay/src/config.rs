//! The relay's and consumers' settings and their named bounds.

use std::time::Duration;

/// How the relay claims, publishes and prunes.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Topic names are `<prefix>.<aggregate>` (`commerce.order`, `commerce.payment`, ...).
    pub topic_prefix: String,
    /// Rows one claim takes at most: bounds memory, the publish burst and the claim's locks.
    pub batch_size_max: u32,
    /// How long claimed rows stay reserved to this relay. Must exceed the publish timeout, so a
    /// slow but live relay never loses its rows to another one mid-publish.
    pub lease: Duration,
    /// How long one publish of a batch may take before it counts as failed.
    pub publish_timeout: Duration,
    /// Pause after an empty claim.
    pub idle_poll: Duration,
    /// First and largest pause after a failed batch (doubling in between).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Published rows older than this are deleted; `None` keeps them forever (which
    /// `rebuild-read-models` needs to see the whole history).
    pub retention: Option<Duration>,
    /// Rows one prune statement deletes at most, so pruning never holds long locks.
    pub prune_batch_max: u32,
}

impl RelayConfig {
    pub const BATCH_SIZE_MAX: u32 = 10_000;

    /// Checks the relations between the settings.
    pub fn validate(&self) -> Result<(), String> {
        if self.batch_size_max == 0 || self.batch_size_max > Self::BATCH_SIZE_MAX {
            return Err(format!(
                "relay batch size must be 1..={}",
                Self::BATCH_SIZE_MAX
            ));
        }
        if self.lease <= self.publish_timeout + crate::publish::REPORT_GRACE {
            return Err(
                "the relay lease must be longer than the publish timeout plus one second"
                    .to_owned(),
            );
        }
        if self.backoff_min.is_zero() || self.backoff_min > self.backoff_max {
            return Err("relay backoff: 0 < min <= max".to_owned());
        }
        if self.topic_prefix.is_empty() || !self.topic_prefix.chars().all(topic_char) {
            return Err("the topic prefix must be non-empty [A-Za-z0-9._-]".to_owned());
        }
        Ok(())
    }
}

fn topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            topic_prefix: "commerce".to_owned(),
            batch_size_max: 500,
            lease: Duration::from_secs(60),
            publish_timeout: Duration::from_secs(30),
            idle_poll: Duration::from_millis(200),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            retention: None,
            prune_batch_max: 1_000,
        }
    }
}

/// How consumers retry and give up.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// Attempts at a message whose handler rejects it before it goes to the dead letters.
    pub attempts_max: u32,
    /// Pause between attempts (doubling, capped by `backoff_max`).
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Kafka's `session.timeout.ms`: how long the group waits for a member that stopped
    /// heartbeating (a crashed process) before handing its partitions to the others. Kafka's
    /// default of 45 s would stall a restarted consumer that long after a crash; brokers accept
    /// 6 s and more (`group.min.session.timeout.ms`).
    pub session_timeout: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            attempts_max: 5,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            session_timeout: Duration::from_secs(10),
        }
    }
}

/// The pause after `failures` consecutive failures: `min * 2^(failures-1)`, at most `max`.
pub fn backoff(min: Duration, max: Duration, failures: u32) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    min.saturating_mul(1u32 << exponent).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(1));
        let pauses: Vec<u128> = (1..=6).map(|n| backoff(min, max, n).as_millis()).collect();
        assert_eq!(pauses, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(min, max, u32::MAX), max);
    }

    #[test]
    fn default_config_is_valid() {
        assert_eq!(RelayConfig::default().validate(), Ok(()));
        let bad = RelayConfig {
            lease: std::time::Duration::from_secs(1),
            ..RelayConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
