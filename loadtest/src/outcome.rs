//! What one operation ended in, as the report counts it.

use serde::{Deserialize, Serialize};

/// The closed set of outcomes the report distinguishes. Business rejections the scenario expects
/// (sold out, declined card) are not errors; shed load, unexpected answers and broken
/// connections are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// 201: an order (or cart) was created.
    Created,
    /// Another 2xx (a cart read, a line added).
    Ok,
    /// 409 with code `out_of_stock`.
    OutOfStock,
    /// 402 with code `payment_declined`.
    PaymentDeclined,
    /// 503 (`overloaded`): the server shed the request.
    Overloaded,
    /// Any other HTTP status or code.
    Other,
    /// No HTTP answer: connect error, reset, timeout.
    Transport,
}

impl Outcome {
    /// Classifies an HTTP answer by status and problem `code`.
    pub fn from_answer(status: u16, code: Option<&str>) -> Outcome {
        match (status, code) {
            (201, _) => Outcome::Created,
            (200..=299, _) => Outcome::Ok,
            (409, Some("out_of_stock")) => Outcome::OutOfStock,
            (402, Some("payment_declined")) => Outcome::PaymentDeclined,
            (503, _) => Outcome::Overloaded,
            _ => Outcome::Other,
        }
    }

    pub fn is_error(self) -> bool {
        matches!(
            self,
            Outcome::Overloaded | Outcome::Other | Outcome::Transport
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Created => "201 created",
            Outcome::Ok => "2xx ok",
            Outcome::OutOfStock => "409 out_of_stock",
            Outcome::PaymentDeclined => "402 payment_declined",
            Outcome::Overloaded => "503 overloaded",
            Outcome::Other => "other http",
            Outcome::Transport => "transport error",
        }
    }

    pub const ALL: [Outcome; 7] = [
        Outcome::Created,
        Outcome::Ok,
        Outcome::OutOfStock,
        Outcome::PaymentDeclined,
        Outcome::Overloaded,
        Outcome::Other,
        Outcome::Transport,
    ];
}

/// Counts per outcome. Plain fields, not a map, so the JSON shape is fixed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub created: u64,
    pub ok: u64,
    pub out_of_stock: u64,
    pub payment_declined: u64,
    pub overloaded: u64,
    pub other: u64,
    pub transport: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, o: Outcome) {
        *self.slot(o) += 1;
    }

    pub fn get(&self, o: Outcome) -> u64 {
        match o {
            Outcome::Created => self.created,
            Outcome::Ok => self.ok,
            Outcome::OutOfStock => self.out_of_stock,
            Outcome::PaymentDeclined => self.payment_declined,
            Outcome::Overloaded => self.overloaded,
            Outcome::Other => self.other,
            Outcome::Transport => self.transport,
        }
    }

    fn slot(&mut self, o: Outcome) -> &mut u64 {
        match o {
            Outcome::Created => &mut self.created,
            Outcome::Ok => &mut self.ok,
            Outcome::OutOfStock => &mut self.out_of_stock,
            Outcome::PaymentDeclined => &mut self.payment_declined,
            Outcome::Overloaded => &mut self.overloaded,
            Outcome::Other => &mut self.other,
            Outcome::Transport => &mut self.transport,
        }
    }

    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|&o| self.get(o)).sum()
    }

    pub fn errors(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.is_error())
            .map(|&o| self.get(o))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_status_and_code() {
        assert_eq!(Outcome::from_answer(201, None), Outcome::Created);
        assert_eq!(Outcome::from_answer(200, None), Outcome::Ok);
        assert_eq!(
            Outcome::from_answer(409, Some("out_of_stock")),
            Outcome::OutOfStock
        );
        assert_eq!(
            Outcome::from_answer(409, Some("version_conflict")),
            Outcome::Other
        );
        assert_eq!(
            Outcome::from_answer(402, Some("payment_declined")),
            Outcome::PaymentDeclined
        );
        assert_eq!(
            Outcome::from_answer(402, Some("payment_timeout")),
            Outcome::Other
        );
        assert_eq!(
            Outcome::from_answer(503, Some("overloaded")),
            Outcome::Overloaded
        );
        assert_eq!(Outcome::from_answer(500, None), Outcome::Other);
    }

    #[test]
    fn counts_add_up_and_errors_exclude_business_rejections() {
        let mut c = OutcomeCounts::default();
        for o in [
            Outcome::Created,
            Outcome::OutOfStock,
            Outcome::PaymentDeclined,
            Outcome::Overloaded,
            Outcome::Transport,
        ] {
            c.add(o);
        }
        assert_eq!(c.total(), 5);
        assert_eq!(c.errors(), 2);
    }
}
