//! Wall-clock instants as plain integers.
//!
//! The domain never reads a clock: callers pass `now` in, which keeps every
//! decision reproducible in tests and in event replay.

/// Milliseconds since the Unix epoch.
///
/// A signed integer is used so that instants before 1970 stay representable
/// and so that the value maps directly onto a database `BIGINT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_unix_ms(ms: i64) -> Self {
        Self(ms)
    }

    pub const fn unix_ms(self) -> i64 {
        self.0
    }

    /// Adds a (possibly negative) duration.
    ///
    /// Saturation is deliberate: a deadline far in the future is still a
    /// deadline, and wrapping around to a date in the past would expire it.
    pub fn plus_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_milliseconds() {
        assert_eq!(
            Timestamp::from_unix_ms(1_700_000_000_123).unix_ms(),
            1_700_000_000_123
        );
    }

    #[test]
    fn plus_ms_adds_and_subtracts() {
        let t = Timestamp::from_unix_ms(1_000);
        assert_eq!(t.plus_ms(500).unix_ms(), 1_500);
        assert_eq!(t.plus_ms(-1_500).unix_ms(), -500);
    }

    #[test]
    fn plus_ms_saturates_instead_of_wrapping() {
        assert_eq!(
            Timestamp::from_unix_ms(i64::MAX).plus_ms(1).unix_ms(),
            i64::MAX
        );
        assert_eq!(
            Timestamp::from_unix_ms(i64::MIN).plus_ms(-1).unix_ms(),
            i64::MIN
        );
    }

    #[test]
    fn orders_chronologically() {
        assert!(Timestamp::from_unix_ms(1) < Timestamp::from_unix_ms(2));
    }
}
