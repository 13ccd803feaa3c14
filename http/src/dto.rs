//! Request bodies as the client sends them, and their conversion into domain types.
//!
//! Every DTO denies unknown fields, so a misspelt optional field (`"activ": false`) is an error
//! instead of silently taking its default. Numbers arrive as `serde_json::Number` rather than
//! `u32`, so that `-1`, `0`, `2.5` and `1e12` are all `invalid_quantity` (a business answer with
//! the bound in it) instead of serde's generic type error. Handlers only see the parsed types.

use crate::errors::{address_error, money_error, product_name_error, quantity_error, sku_error};
use crate::limits::PAYMENT_TOKEN_CHARS_MAX;
use crate::problem::{ApiError, Code};
use domain::limits::{CART_LINE_QUANTITY_MAX, ORDER_LINES_MAX};
use domain::{Currency, Money, ProductName, Quantity, QuantityError, ShippingAddress, SkuCode};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use std::collections::HashSet;

fn default_true() -> bool {
    true
}

/// `{"amount": 19999, "currency": "USD"}`: integer minor units.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MoneyDto {
    pub amount: Number,
    pub currency: String,
}

impl TryFrom<&MoneyDto> for Money {
    type Error = ApiError;

    fn try_from(dto: &MoneyDto) -> Result<Money, ApiError> {
        let currency = Currency::parse(&dto.currency).map_err(money_error)?;
        let amount = match (dto.amount.as_i64(), dto.amount.as_u64()) {
            (Some(amount), _) => amount,
            (None, Some(_)) => return Err(invalid_price("amount is too large")),
            (None, None) => {
                return Err(invalid_price(
                    "amount must be an integer number of minor units",
                ))
            }
        };
        Money::new(amount, currency).map_err(money_error)
    }
}

fn invalid_price(detail: &str) -> ApiError {
    ApiError::new(Code::InvalidPrice, detail)
}

/// `PUT /v1/products/{sku}`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DefineProductRequest {
    pub name: String,
    pub price: MoneyDto,
    #[serde(default = "default_true")]
    pub active: bool,
}

/// A product definition, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefineProduct {
    pub name: ProductName,
    pub price: Money,
    pub active: bool,
}

impl TryFrom<DefineProductRequest> for DefineProduct {
    type Error = ApiError;

    fn try_from(dto: DefineProductRequest) -> Result<DefineProduct, ApiError> {
        Ok(DefineProduct {
            name: ProductName::parse(&dto.name).map_err(product_name_error)?,
            price: Money::try_from(&dto.price)?,
            active: dto.active,
        })
    }
}

/// `POST /v1/inventory/{sku}/restock`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RestockRequest {
    pub quantity: Number,
}

impl TryFrom<RestockRequest> for Quantity {
    type Error = ApiError;

    fn try_from(dto: RestockRequest) -> Result<Quantity, ApiError> {
        parse_quantity(&dto.quantity)
    }
}

/// `POST /v1/carts`: no members yet (carts are anonymous), but a body, if any, must be `{}` so
/// that clients sending a customer id learn it is not supported rather than having it ignored.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCartRequest {}

/// `POST /v1/carts/{id}/items`, and one line of a buy-now order.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    pub sku: String,
    pub quantity: Number,
}

/// A SKU and a positive quantity, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub sku: SkuCode,
    pub quantity: Quantity,
}

impl TryFrom<&LineRequest> for Line {
    type Error = ApiError;

    fn try_from(dto: &LineRequest) -> Result<Line, ApiError> {
        Ok(Line {
            sku: parse_sku(&dto.sku)?,
            quantity: parse_quantity(&dto.quantity)?,
        })
    }
}

/// `PUT /v1/carts/{id}/items/{sku}`: the line's new quantity; zero removes it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SetQuantityRequest {
    pub quantity: Number,
}

impl TryFrom<SetQuantityRequest> for u32 {
    type Error = ApiError;

    fn try_from(dto: SetQuantityRequest) -> Result<u32, ApiError> {
        if dto.quantity.as_u64() == Some(0) {
            return Ok(0);
        }
        parse_quantity(&dto.quantity).map(Quantity::get)
    }
}

/// A shipping address as sent; `line2` may be absent or null.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddressDto {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl TryFrom<&ShippingAddressDto> for ShippingAddress {
    type Error = ApiError;

    fn try_from(dto: &ShippingAddressDto) -> Result<ShippingAddress, ApiError> {
        ShippingAddress::parse(
            &dto.name,
            &dto.line1,
            dto.line2.as_deref(),
            &dto.city,
            &dto.postal_code,
            &dto.country,
        )
        .map_err(address_error)
    }
}

/// An opaque payment-provider token; never card data, so it may be stored with the saga.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentToken(String);

impl PaymentToken {
    pub fn parse(s: &str) -> Result<PaymentToken, ApiError> {
        let printable = s.bytes().all(|b| b.is_ascii_graphic());
        if s.is_empty() || s.len() > PAYMENT_TOKEN_CHARS_MAX || !printable {
            return Err(ApiError::new(
                Code::InvalidPaymentToken,
                format!("payment_token must be 1 to {PAYMENT_TOKEN_CHARS_MAX} printable ASCII characters without spaces"),
            ));
        }
        Ok(PaymentToken(s.to_owned()))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `POST /v1/carts/{id}/checkout`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    pub payment_token: String,
    pub shipping_address: ShippingAddressDto,
}

/// A checkout, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkout {
    pub payment_token: PaymentToken,
    pub shipping_address: ShippingAddress,
}

impl TryFrom<&CheckoutRequest> for Checkout {
    type Error = ApiError;

    fn try_from(dto: &CheckoutRequest) -> Result<Checkout, ApiError> {
        Ok(Checkout {
            payment_token: PaymentToken::parse(&dto.payment_token)?,
            shipping_address: ShippingAddress::try_from(&dto.shipping_address)?,
        })
    }
}

/// `POST /v1/orders`: buy now, without a cart.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BuyNowRequest {
    pub lines: Vec<LineRequest>,
    pub payment_token: String,
    pub shipping_address: ShippingAddressDto,
}

/// A buy-now order, parsed: 1 to `ORDER_LINES_MAX` lines with distinct SKUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuyNow {
    pub lines: Vec<Line>,
    pub payment_token: PaymentToken,
    pub shipping_address: ShippingAddress,
}

impl TryFrom<&BuyNowRequest> for BuyNow {
    type Error = ApiError;

    fn try_from(dto: &BuyNowRequest) -> Result<BuyNow, ApiError> {
        Ok(BuyNow {
            lines: parse_order_lines(&dto.lines)?,
            payment_token: PaymentToken::parse(&dto.payment_token)?,
            shipping_address: ShippingAddress::try_from(&dto.shipping_address)?,
        })
    }
}

/// Order lines obey the cart's rules, because an order is what a cart would have held: at most
/// `ORDER_LINES_MAX` lines, one per SKU, at most `CART_LINE_QUANTITY_MAX` units each.
fn parse_order_lines(dtos: &[LineRequest]) -> Result<Vec<Line>, ApiError> {
    if dtos.is_empty() {
        return Err(ApiError::new(
            Code::OrderLinesEmpty,
            "an order needs at least one line",
        ));
    }
    if dtos.len() > ORDER_LINES_MAX {
        return Err(ApiError::new(
            Code::OrderLinesLimitExceeded,
            format!("an order may hold at most {ORDER_LINES_MAX} lines"),
        )
        .with("max", ORDER_LINES_MAX));
    }
    let lines = dtos
        .iter()
        .map(Line::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = HashSet::with_capacity(lines.len());
    for line in &lines {
        if line.quantity.get() > CART_LINE_QUANTITY_MAX {
            return Err(ApiError::new(
                Code::QuantityLimitExceeded,
                format!("an order line may hold at most {CART_LINE_QUANTITY_MAX} units"),
            )
            .with("sku", line.sku.as_str())
            .with("max", CART_LINE_QUANTITY_MAX));
        }
        if !seen.insert(&line.sku) {
            return Err(ApiError::new(
                Code::DuplicateSku,
                format!("sku {} appears on more than one line", line.sku),
            )
            .with("sku", line.sku.as_str()));
        }
    }
    Ok(lines)
}

pub fn parse_sku(s: &str) -> Result<SkuCode, ApiError> {
    SkuCode::parse(s).map_err(sku_error)
}

/// A positive integer quantity within `Quantity::MAX`.
pub fn parse_quantity(n: &Number) -> Result<Quantity, ApiError> {
    let parsed = match (n.as_i64(), n.as_u64()) {
        (Some(v), _) => Quantity::parse_i64(v),
        (None, Some(_)) => Err(QuantityError::TooLarge { max: Quantity::MAX }),
        (None, None) => {
            return Err(ApiError::new(
                Code::InvalidQuantity,
                "quantity must be a whole number",
            ))
        }
    };
    parsed.map_err(quantity_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    fn code<T>(result: Result<T, ApiError>) -> Option<&'static str> {
        result.err().map(|e| e.code().as_str())
    }

    fn product(json: &str) -> Result<DefineProduct, ApiError> {
        DefineProduct::try_from(parse_json::<DefineProductRequest>(json.as_bytes())?)
    }

    fn quantity(json: &str) -> Result<Quantity, ApiError> {
        Quantity::try_from(parse_json::<RestockRequest>(json.as_bytes())?)
    }

    fn set_quantity(json: &str) -> Result<u32, ApiError> {
        u32::try_from(parse_json::<SetQuantityRequest>(json.as_bytes())?)
    }

    const ADDRESS: &str = r#"{"name":"Ada","line1":"1 Main St","city":"Berlin","postal_code":"10115","country":"DE"}"#;

    fn buy_now(lines: &str) -> Result<BuyNow, ApiError> {
        let json = format!(
            r#"{{"lines":{lines},"payment_token":"tok_visa","shipping_address":{ADDRESS}}}"#
        );
        BuyNow::try_from(&parse_json::<BuyNowRequest>(json.as_bytes())?)
    }

    #[test]
    fn product_parses_and_defaults_active() {
        let p = product(r#"{"name":" Phone ","price":{"amount":19999,"currency":"USD"}}"#)
            .expect("valid");
        assert_eq!(p.name.as_str(), "Phone");
        assert_eq!(p.price, Money::new(19999, Currency::USD).expect("valid"));
        assert!(p.active);
        let p = product(r#"{"name":"Phone","price":{"amount":0,"currency":"EUR"},"active":false}"#)
            .expect("valid");
        assert!(!p.active);
    }

    #[test]
    fn product_rejections() {
        let price = |amount: &str, currency: &str| {
            product(&format!(
                r#"{{"name":"P","price":{{"amount":{amount},"currency":"{currency}"}}}}"#
            ))
        };
        assert_eq!(code(price("-1", "USD")), Some("invalid_price"));
        assert_eq!(code(price("1.5", "USD")), Some("invalid_price"));
        assert_eq!(
            code(price("18446744073709551615", "USD")),
            Some("invalid_price")
        );
        assert_eq!(code(price("1", "usd")), Some("invalid_currency"));
        assert_eq!(code(price("1", "XYZ")), Some("invalid_currency"));
        assert_eq!(
            code(product(
                r#"{"name":"  ","price":{"amount":1,"currency":"USD"}}"#
            )),
            Some("invalid_product_name")
        );
        assert_eq!(
            code(product(
                r#"{"name":"P","price":{"amount":1,"currency":"USD","x":1}}"#
            )),
            Some("unknown_field")
        );
        assert_eq!(
            code(product(
                r#"{"name":"P","price":{"amount":1,"currency":"USD"},"activ":true}"#
            )),
            Some("unknown_field")
        );
        assert_eq!(code(product(r#"{"name":"P"}"#)), Some("invalid_body"));
        assert_eq!(
            code(product(
                r#"{"name":"P","price":{"amount":"1","currency":"USD"}}"#
            )),
            Some("invalid_body")
        );
    }

    #[test]
    fn quantities() {
        assert_eq!(
            quantity(r#"{"quantity":5}"#).map(Quantity::get).ok(),
            Some(5)
        );
        for bad in ["0", "-1", "2.5", "1000000001", "99999999999999999999"] {
            assert_eq!(
                code(quantity(&format!(r#"{{"quantity":{bad}}}"#))),
                Some("invalid_quantity"),
                "{bad}"
            );
        }
        assert_eq!(code(quantity(r#"{"quantity":"5"}"#)), Some("invalid_body"));
        assert_eq!(code(quantity(r#"{"quantity":null}"#)), Some("invalid_body"));
    }

    #[test]
    fn set_quantity_allows_zero() {
        assert_eq!(set_quantity(r#"{"quantity":0}"#).ok(), Some(0));
        assert_eq!(set_quantity(r#"{"quantity":3}"#).ok(), Some(3));
        assert_eq!(
            code(set_quantity(r#"{"quantity":-1}"#)),
            Some("invalid_quantity")
        );
        assert_eq!(
            code(set_quantity(r#"{"quantity":0.5}"#)),
            Some("invalid_quantity")
        );
    }

    #[test]
    fn line_parsing() {
        let line = |json: &str| Line::try_from(&parse_json::<LineRequest>(json.as_bytes())?);
        assert_eq!(
            line(r#"{"sku":"A-1","quantity":2}"#)
                .map(|l| l.quantity.get())
                .ok(),
            Some(2)
        );
        assert_eq!(
            code(line(r#"{"sku":"a b","quantity":2}"#)),
            Some("invalid_sku")
        );
        assert_eq!(
            code(line(r#"{"sku":"","quantity":2}"#)),
            Some("invalid_sku")
        );
        assert_eq!(
            code(line(r#"{"sku":"A","quantity":0}"#)),
            Some("invalid_quantity")
        );
    }

    #[test]
    fn buy_now_lines() {
        let ok =
            buy_now(r#"[{"sku":"A","quantity":1},{"sku":"B","quantity":1000}]"#).expect("valid");
        assert_eq!(ok.lines.len(), 2);
        assert_eq!(ok.payment_token.into_string(), "tok_visa");
        assert_eq!(code(buy_now("[]")), Some("order_lines_empty"));
        assert_eq!(
            code(buy_now(
                r#"[{"sku":"A","quantity":1},{"sku":"A","quantity":2}]"#
            )),
            Some("duplicate_sku")
        );
        assert_eq!(
            code(buy_now(r#"[{"sku":"A","quantity":1001}]"#)),
            Some("quantity_limit_exceeded")
        );
        let many = (0..=ORDER_LINES_MAX)
            .map(|i| format!(r#"{{"sku":"S{i}","quantity":1}}"#))
            .collect::<Vec<_>>();
        assert_eq!(
            code(buy_now(&format!("[{}]", many.join(",")))),
            Some("order_lines_limit_exceeded")
        );
        let max = (0..ORDER_LINES_MAX)
            .map(|i| format!(r#"{{"sku":"S{i}","quantity":1}}"#))
            .collect::<Vec<_>>();
        assert!(buy_now(&format!("[{}]", max.join(","))).is_ok());
    }

    #[test]
    fn checkout_parsing() {
        let checkout = |token: &str, address: &str| {
            let json = format!(r#"{{"payment_token":"{token}","shipping_address":{address}}}"#);
            Checkout::try_from(&parse_json::<CheckoutRequest>(json.as_bytes())?)
        };
        let ok = checkout("tok_visa", ADDRESS).expect("valid");
        assert_eq!(ok.shipping_address.country().as_str(), "DE");
        assert_eq!(ok.shipping_address.line2(), None);
        assert_eq!(code(checkout("", ADDRESS)), Some("invalid_payment_token"));
        assert_eq!(
            code(checkout("tok visa", ADDRESS)),
            Some("invalid_payment_token")
        );
        assert_eq!(
            code(checkout(&"t".repeat(256), ADDRESS)),
            Some("invalid_payment_token")
        );
        let bad_country = ADDRESS.replace("\"DE\"", "\"Germany\"");
        assert_eq!(
            code(checkout("tok", &bad_country)),
            Some("invalid_shipping_address")
        );
        let no_city = ADDRESS.replace("\"Berlin\"", "\" \"");
        assert_eq!(
            code(checkout("tok", &no_city)),
            Some("invalid_shipping_address")
        );
        let extra = ADDRESS.replace("\"DE\"", "\"DE\",\"state\":\"BE\"");
        assert_eq!(code(checkout("tok", &extra)), Some("unknown_field"));
    }

    #[test]
    fn create_cart_accepts_only_an_empty_object() {
        assert!(parse_json::<CreateCartRequest>(b"{}").is_ok());
        assert_eq!(
            code(parse_json::<CreateCartRequest>(br#"{"customer_id":"x"}"#)),
            Some("unknown_field")
        );
    }
}
