//! Response bodies: the API's JSON shapes, converted by hand from domain types so that a domain
//! refactor cannot silently change the wire format.
//!
//! Conventions: money is `{"amount": <integer minor units>, "currency": "USD"}`; ids are
//! lowercase hyphenated UUIDs; statuses are snake_case; instants are RFC 3339 UTC strings with
//! millisecond precision (`2024-05-01T12:00:00.123Z`).

use crate::timefmt::rfc3339_ms;
use actors::InventoryView;
use domain::order::{OrderLine, Payment};
use domain::{Cart, CartLine, Money, Order, Product, ShippingAddress};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct MoneyView {
    pub amount: i64,
    pub currency: String,
}

impl From<Money> for MoneyView {
    fn from(m: Money) -> MoneyView {
        MoneyView {
            amount: m.amount_minor(),
            currency: m.currency().as_str().to_owned(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub sku: String,
    /// Null only for a SKU that was never defined, which the API does not return.
    pub name: Option<String>,
    pub price: Option<MoneyView>,
    pub active: bool,
    pub version: u64,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> ProductView {
        ProductView {
            sku: p.sku().to_string(),
            name: p.name().map(|n| n.as_str().to_owned()),
            price: p.price().map(MoneyView::from),
            active: p.active(),
            version: p.version(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StockView {
    pub sku: String,
    pub on_hand: u64,
    pub reserved: u64,
    pub available: u64,
    pub sold: u64,
    pub version: u64,
}

impl From<&InventoryView> for StockView {
    fn from(v: &InventoryView) -> StockView {
        StockView {
            sku: v.sku.to_string(),
            on_hand: v.on_hand,
            reserved: v.reserved,
            available: v.available,
            sold: v.sold,
            version: v.version,
        }
    }
}

/// One line of a cart or an order.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineView {
    pub sku: String,
    pub quantity: u32,
    pub unit_price: MoneyView,
    /// Null only if the product overflows `i64` minor units, which the limits make unreachable
    /// for real prices; a cart must still be viewable then.
    pub line_total: Option<MoneyView>,
}

impl From<&CartLine> for LineView {
    fn from(l: &CartLine) -> LineView {
        LineView {
            sku: l.sku().to_string(),
            quantity: l.quantity().get(),
            unit_price: l.unit_price().into(),
            line_total: l.line_total().ok().map(MoneyView::from),
        }
    }
}

impl From<&OrderLine> for LineView {
    fn from(l: &OrderLine) -> LineView {
        LineView {
            sku: l.sku().to_string(),
            quantity: l.quantity().get(),
            unit_price: l.unit_price().into(),
            line_total: Some(l.line_total().into()),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CartView {
    pub id: String,
    /// The owning account; null for a guest cart.
    pub customer_id: Option<String>,
    /// `open`, `checking_out` or `checked_out`.
    pub status: &'static str,
    /// The order the cart is (being) checked out into.
    pub order_id: Option<String>,
    pub lines: Vec<LineView>,
    /// Null for an empty cart, which has no currency yet.
    pub total: Option<MoneyView>,
    pub version: u64,
}

impl From<&Cart> for CartView {
    fn from(c: &Cart) -> CartView {
        CartView {
            id: c.id().to_string(),
            customer_id: c.customer().map(|id| id.to_string()),
            status: c.status().as_str(),
            order_id: c.status().order_id().map(|id| id.to_string()),
            lines: c.lines().iter().map(LineView::from).collect(),
            total: c.total().ok().flatten().map(MoneyView::from),
            version: c.version(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AddressView {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl From<&ShippingAddress> for AddressView {
    fn from(a: &ShippingAddress) -> AddressView {
        AddressView {
            name: a.name().to_owned(),
            line1: a.line1().to_owned(),
            line2: a.line2().map(str::to_owned),
            city: a.city().to_owned(),
            postal_code: a.postal_code().to_owned(),
            country: a.country().as_str().to_owned(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: String,
    /// `authorized`, `declined` or `voided`.
    pub status: &'static str,
    pub amount: MoneyView,
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> PaymentView {
        PaymentView {
            id: p.id().to_string(),
            status: p.status().as_str(),
            amount: p.amount().into(),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: String,
    pub status: &'static str,
    /// The owning account; null for a guest order.
    pub customer_id: Option<String>,
    pub cart_id: Option<String>,
    pub lines: Vec<LineView>,
    pub total: Option<MoneyView>,
    pub shipping_address: Option<AddressView>,
    pub payment: Option<PaymentView>,
    pub shipment_id: Option<String>,
    /// Why checkout failed (`out_of_stock`, `payment_declined`, `payment_timeout`,
    /// `interrupted`); null unless the status is `failed`.
    pub failure_reason: Option<&'static str>,
    /// RFC 3339 UTC with milliseconds.
    pub placed_at: Option<String>,
    pub version: u64,
}

impl From<&Order> for OrderView {
    fn from(o: &Order) -> OrderView {
        OrderView {
            id: o.id().to_string(),
            status: o.status().as_str(),
            customer_id: o.customer().map(|id| id.to_string()),
            cart_id: o.cart_id().map(|id| id.to_string()),
            lines: o.lines().iter().map(LineView::from).collect(),
            total: o.total().map(MoneyView::from),
            shipping_address: o.shipping_address().map(AddressView::from),
            payment: o.payment().map(PaymentView::from),
            shipment_id: o.shipment_id().map(|s| s.as_str().to_owned()),
            failure_reason: o.failure_reason().map(|r| r.as_str()),
            placed_at: o.placed_at().map(rfc3339_ms),
            version: o.version(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{CartId, Currency, Quantity, SkuCode};

    #[test]
    fn money_is_minor_units_and_code() {
        let json = serde_json::to_value(MoneyView::from(
            Money::new(1999, Currency::EUR).expect("valid"),
        ));
        assert_eq!(
            json.ok(),
            Some(serde_json::json!({"amount": 1999, "currency": "EUR"}))
        );
    }

    #[test]
    fn empty_cart_has_null_total() {
        let cart = Cart::new(CartId::from_u128(1));
        let json = serde_json::to_value(CartView::from(&cart)).unwrap_or_default();
        assert_eq!(json["id"], "00000000-0000-0000-0000-000000000001");
        assert_eq!(json["status"], "open");
        assert_eq!(json["total"], serde_json::Value::Null);
        assert_eq!(json["lines"], serde_json::json!([]));
    }

    #[test]
    fn cart_line_has_a_total() {
        let sku = SkuCode::parse("A").expect("valid");
        let line = CartLine::restore(
            sku,
            Quantity::new(3).expect("valid"),
            Money::new(250, Currency::USD).expect("valid"),
        );
        let json = serde_json::to_value(LineView::from(&line)).unwrap_or_default();
        assert_eq!(
            json["line_total"],
            serde_json::json!({"amount": 750, "currency": "USD"})
        );
        assert_eq!(json["quantity"], 3);
    }
}

/// An account, as its owner sees it (`POST /v1/accounts`, `GET /v1/accounts/me`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub customer_id: String,
    pub email: String,
    /// RFC 3339 UTC with milliseconds.
    pub created_at: String,
}

impl From<&actors::Account> for AccountView {
    fn from(a: &actors::Account) -> AccountView {
        AccountView {
            customer_id: a.customer.to_string(),
            email: a.email.as_str().to_owned(),
            created_at: rfc3339_ms(a.created_at),
        }
    }
}

/// A new login session (`POST /v1/sessions`). The token is shown this once.
#[derive(Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub token: String,
    /// Always `Bearer`: send `Authorization: Bearer <token>`.
    pub token_type: &'static str,
    /// RFC 3339 UTC with milliseconds; log in again after it.
    pub expires_at: String,
    pub customer_id: String,
    /// The guest cart the login attached to the account, or null when none was named or it could
    /// not be attached (unknown, checked out, or someone else's).
    pub cart_id: Option<String>,
}
