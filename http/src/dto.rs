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
use domain::{
    CartId, Currency, Email, Money, Password, ProductName, Quantity, QuantityError,
    ShippingAddress, SkuCode,
};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Number, Value};
use std::collections::HashSet;
use utoipa::ToSchema;

fn default_true() -> bool {
    true
}

/// A nested struct, read only from a JSON object: serde's derived structs also accept an array
/// of their fields in order (`"price": [100, "USD"]`), which the API does not document.
fn object<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<T, D::Error> {
    let members = Map::<String, Value>::deserialize(d)?;
    serde_json::from_value(Value::Object(members)).map_err(D::Error::custom)
}

/// A list of nested structs, each read only from a JSON object (see [`object`]).
fn objects<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Vec<T>, D::Error> {
    Vec::<Map<String, Value>>::deserialize(d)?
        .into_iter()
        .map(|members| serde_json::from_value(Value::Object(members)).map_err(D::Error::custom))
        .collect()
}

/// `{"amount": 19999, "currency": "USD"}`: integer minor units.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyDto {
    /// Minor units of the currency (cents for USD), a non-negative integer.
    #[schema(value_type = i64, minimum = 0)]
    pub amount: Number,
    /// An active ISO 4217 code, uppercase.
    #[schema(pattern = "^[A-Z]{3}$", example = "USD")]
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
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefineProductRequest {
    /// 1 to 200 characters after trimming.
    #[schema(min_length = 1, max_length = 200, example = "Phone")]
    pub name: String,
    #[serde(deserialize_with = "object")]
    pub price: MoneyDto,
    /// Whether it is for sale; default `true`.
    #[serde(default = "default_true")]
    #[schema(default = true)]
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
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockRequest {
    /// Units to add: 1 to `Quantity::MAX`.
    #[schema(value_type = u32, minimum = 1, maximum = 1_000_000_000)]
    pub quantity: Number,
}

impl TryFrom<RestockRequest> for Quantity {
    type Error = ApiError;

    fn try_from(dto: RestockRequest) -> Result<Quantity, ApiError> {
        parse_quantity(&dto.quantity)
    }
}

/// `POST /v1/carts`: no members (the owner, if any, is the bearer token's account), but a body,
/// if any, must be `{}` so that clients sending a customer id learn it is not how ownership is
/// set rather than having it ignored.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCartRequest {}

/// `POST /v1/carts/{id}/items`, and one line of a buy-now order.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRequest {
    /// 1 to 64 of `A-Z a-z 0-9 - _ .`, starting with a letter or digit.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$",
        example = "SKU-1"
    )]
    pub sku: String,
    /// Units: 1 to `CART_LINE_QUANTITY_MAX` per line.
    #[schema(value_type = u32, minimum = 1, maximum = 1000)]
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
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetQuantityRequest {
    /// The line's new quantity, 0 (remove) to `CART_LINE_QUANTITY_MAX`.
    #[schema(value_type = u32, minimum = 0, maximum = 1000)]
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

/// A shipping address as sent; `line2` may be absent or null. `country` is an ISO 3166-1
/// alpha-2 code; the other fields are non-blank printable text of bounded length.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddressDto {
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub line1: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub line2: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub city: String,
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub postal_code: String,
    #[schema(pattern = "^[A-Z]{2}$", example = "DE")]
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
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequest {
    /// The payment provider's opaque token: 1 to 255 printable ASCII characters, no spaces.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]+$",
        example = "tok_visa"
    )]
    pub payment_token: String,
    #[serde(deserialize_with = "object")]
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
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyNowRequest {
    /// 1 to `ORDER_LINES_MAX` lines, one per SKU.
    #[schema(min_items = 1, max_items = 50)]
    #[serde(deserialize_with = "objects")]
    pub lines: Vec<LineRequest>,
    /// The payment provider's opaque token: 1 to 255 printable ASCII characters, no spaces.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]+$",
        example = "tok_visa"
    )]
    pub payment_token: String,
    #[serde(deserialize_with = "object")]
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

    /// Found by schemathesis: serde's derived structs accept an array of their fields in order,
    /// so `[5]` restocked and `"price": [100, "USD"]` defined a price.
    #[test]
    fn structs_are_objects_never_arrays() {
        assert_eq!(code(quantity("[5]")), Some("invalid_body"));
        assert_eq!(
            code(product(r#"{"name":"P","price":[100,"USD"]}"#)),
            Some("invalid_body")
        );
        assert_eq!(code(buy_now(r#"[["A",1]]"#)), Some("invalid_body"));
        let json = r#"{"payment_token":"tok","shipping_address":["Ada","1 Main St",null,"Berlin","10115","DE"]}"#;
        assert_eq!(
            code(parse_json::<CheckoutRequest>(json.as_bytes())),
            Some("invalid_body")
        );
        assert_eq!(
            code(parse_json::<CreateCartRequest>(b"[]")),
            Some("invalid_body")
        );
        // Nested objects keep their own rules.
        assert_eq!(
            code(buy_now(r#"[{"sku":"A","quantity":1,"x":2}]"#)),
            Some("unknown_field")
        );
        assert_eq!(
            code(product(r#"{"name":"P","price":null}"#)),
            Some("invalid_body")
        );
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

/// `POST /v1/accounts`. Debug is not derived: the password must never reach a log.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    pub email: String,
    pub password: String,
}

/// An email and a password, parsed.
pub struct Credentials {
    pub email: Email,
    pub password: Password,
}

impl TryFrom<&SignUpRequest> for Credentials {
    type Error = ApiError;

    fn try_from(dto: &SignUpRequest) -> Result<Credentials, ApiError> {
        credentials(&dto.email, &dto.password)
    }
}

/// `POST /v1/sessions`: credentials, and optionally the guest cart to attach to the account.
/// Debug is not derived: the password must never reach a log.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub cart_id: Option<String>,
}

fn credentials(email: &str, password: &str) -> Result<Credentials, ApiError> {
    Ok(Credentials {
        email: Email::parse(email).map_err(|e| ApiError::new(Code::InvalidEmail, e.to_string()))?,
        password: Password::parse(password)
            .map_err(|e| ApiError::new(Code::InvalidPassword, e.to_string()))?,
    })
}

/// A login: the credentials and the guest cart named, if any. A cart id that cannot be a cart's
/// cannot be attached, which the answer reports; it does not fail the login.
pub struct Login {
    pub credentials: Credentials,
    pub cart_id: Option<CartId>,
}

impl TryFrom<&LoginRequest> for Login {
    type Error = ApiError;

    fn try_from(dto: &LoginRequest) -> Result<Login, ApiError> {
        Ok(Login {
            credentials: credentials(&dto.email, &dto.password)?,
            cart_id: dto.cart_id.as_deref().and_then(|id| CartId::parse(id).ok()),
        })
    }
}
