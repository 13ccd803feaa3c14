//! The envelope: one outbox row on its way to consumers, and its Kafka encoding as a
//! CloudEvents 1.0 binary-mode record (attributes in `ce_*` headers, JSON data as the value).

use rdkafka::message::{BorrowedMessage, Header, Headers, OwnedHeaders};
use rdkafka::Message;

/// One committed event, exactly as the outbox row holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub event_id: uuid::Uuid,
    /// `product`, `inventory`, `cart` or `order`.
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The aggregate's version after this event: 1, 2, 3... per aggregate.
    pub sequence: i64,
    pub event_type: String,
    pub schema_version: i32,
    /// The payload as JSON text, byte for byte as committed.
    pub payload: String,
    pub occurred_at_ms: i64,
}

pub const SPEC_VERSION: &str = "1.0";
pub const H_ID: &str = "ce_id";
pub const H_TYPE: &str = "ce_type";
pub const H_SOURCE: &str = "ce_source";
pub const H_SUBJECT: &str = "ce_subject";
pub const H_TIME: &str = "ce_time";
pub const H_SPECVERSION: &str = "ce_specversion";
/// CloudEvents' `sequence` extension: the aggregate's version after the event.
pub const H_SEQUENCE: &str = "ce_sequence";
/// The payload's schema version (an extension attribute; see `docs/events.md`).
pub const H_SCHEMA_VERSION: &str = "ce_schemaversion";
pub const H_CONTENT_TYPE: &str = "content-type";

impl Envelope {
    /// The topic suffix: the aggregate type, except that an order's payment events form their
    /// own stream (`payment`), as payments are a separate concern for their consumers.
    pub fn stream(&self) -> &str {
        if self.event_type.starts_with("order.payment_") {
            "payment"
        } else {
            &self.aggregate_type
        }
    }

    pub fn topic(&self, prefix: &str) -> String {
        format!("{prefix}.{}", self.stream())
    }

    /// CloudEvents `source`: which part of the system produced the event.
    pub fn source(&self) -> String {
        format!("/commerce/{}", self.aggregate_type)
    }

    pub fn headers(&self) -> OwnedHeaders {
        let id = self.event_id.hyphenated().to_string();
        let time = rfc3339_ms(self.occurred_at_ms);
        let sequence = self.sequence.to_string();
        let schema = self.schema_version.to_string();
        let source = self.source();
        let pairs: [(&str, &str); 9] = [
            (H_ID, &id),
            (H_TYPE, &self.event_type),
            (H_SOURCE, &source),
            (H_SUBJECT, &self.aggregate_id),
            (H_TIME, &time),
            (H_SPECVERSION, SPEC_VERSION),
            (H_SEQUENCE, &sequence),
            (H_SCHEMA_VERSION, &schema),
            (H_CONTENT_TYPE, "application/json"),
        ];
        pairs
            .into_iter()
            .fold(OwnedHeaders::new_with_capacity(9), |h, (key, value)| {
                h.insert(Header {
                    key,
                    value: Some(value),
                })
            })
    }

    /// Reads an envelope back from a consumed record.
    pub fn from_message(message: &BorrowedMessage<'_>) -> Result<Envelope, String> {
        let headers = message.headers().ok_or("no headers")?;
        let get = |name: &str| -> Result<String, String> {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .ok_or_else(|| format!("missing header {name}"))
                .and_then(|v| {
                    String::from_utf8(v.to_vec()).map_err(|_| format!("{name} is not UTF-8"))
                })
        };
        let payload = message.payload().ok_or("no payload")?;
        let payload = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8")?;
        let event_id = uuid::Uuid::parse_str(&get(H_ID)?).map_err(|e| format!("ce_id: {e}"))?;
        let source = get(H_SOURCE)?;
        let aggregate_type = source
            .strip_prefix("/commerce/")
            .ok_or("ce_source is not /commerce/<aggregate>")?
            .to_owned();
        Ok(Envelope {
            event_id,
            aggregate_type,
            aggregate_id: get(H_SUBJECT)?,
            sequence: get(H_SEQUENCE)?
                .parse()
                .map_err(|_| "ce_sequence is not a number")?,
            event_type: get(H_TYPE)?,
            schema_version: get(H_SCHEMA_VERSION)?
                .parse()
                .map_err(|_| "ce_schemaversion is not a number")?,
            payload: payload.to_owned(),
            occurred_at_ms: parse_rfc3339_ms(&get(H_TIME)?).ok_or("ce_time is not RFC 3339")?,
        })
    }
}

const MS_PER_SECOND: i64 = 1_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC). The same algorithm as the HTTP edge's `timefmt`, repeated
/// because this crate must not depend on the HTTP edge.
pub fn rfc3339_ms(ms: i64) -> String {
    let seconds = ms.div_euclid(MS_PER_SECOND);
    let millis = ms.rem_euclid(MS_PER_SECOND);
    let days = seconds.div_euclid(SECONDS_PER_DAY);
    let sod = seconds.rem_euclid(SECONDS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3_600,
        sod / 60 % 60,
        sod % 60
    )
}

/// The inverse of [`rfc3339_ms`] for exactly that shape.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[23] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let days = days_from_civil(num(0..4)?, num(5..7)?, num(8..10)?);
    let seconds = days * SECONDS_PER_DAY + num(11..13)? * 3_600 + num(14..16)? * 60 + num(17..19)?;
    Some(seconds * MS_PER_SECOND + num(20..23)?)
}

/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(event_type: &str) -> Envelope {
        Envelope {
            event_id: uuid::Uuid::from_u128(7),
            aggregate_type: "order".to_owned(),
            aggregate_id: "o-1".to_owned(),
            sequence: 3,
            event_type: event_type.to_owned(),
            schema_version: 1,
            payload: "{}".to_owned(),
            occurred_at_ms: 0,
        }
    }

    #[test]
    fn payment_events_of_orders_have_their_own_topic() {
        assert_eq!(
            envelope("order.payment_authorized").topic("shop"),
            "shop.payment"
        );
        assert_eq!(envelope("order.confirmed").topic("shop"), "shop.order");
    }

    #[test]
    fn times_round_trip() {
        for ms in [0, 1_700_000_000_123, 951_782_400_000, 4_107_542_400_000] {
            assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms));
        }
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_rfc3339_ms("2023-11-14 22:13:20.123Z"), None);
    }
}
