//! The HTTP edge's request decoding: arbitrary bytes as every JSON request body, each
//! deserialized with serde_json and converted into domain types with its `TryFrom`, as the
//! handlers do; plus the path segments, the `Idempotency-Key` header and the account
//! credentials (email, password) the handlers parse.
//!
//! Nothing may panic, every rejection must render as a problem body, and whatever converts must
//! respect the documented limits: quantities within `1..=Quantity::MAX` (buy-now lines within
//! `CART_LINE_QUANTITY_MAX`), 1 to `ORDER_LINES_MAX` buy-now lines with distinct SKUs, SKU
//! codes, product names, address fields, payment tokens, idempotency keys, emails and
//! passwords within their length bounds and alphabets, and prices never negative.
#![no_main]

use commerce_http::dto::{
    BuyNow, BuyNowRequest, Checkout, CheckoutRequest, CreateCartRequest, Credentials,
    DefineProduct, DefineProductRequest, Line, LineRequest, Login, LoginRequest, RestockRequest,
    SetQuantityRequest, SignUpRequest,
};
use commerce_http::extract::IdempotencyKey;
use commerce_http::limits::{IDEMPOTENCY_KEY_BYTES_MAX, PAYMENT_TOKEN_CHARS_MAX};
use commerce_http::ApiError;
use domain::limits::{
    ADDRESS_FIELD_CHARS_MAX, CART_LINE_QUANTITY_MAX, EMAIL_BYTES_MAX, ORDER_LINES_MAX,
    PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, PRODUCT_NAME_CHARS_MAX,
};
use domain::{CartId, Email, OrderId, Password, Quantity, ShippingAddress, SkuCode};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use std::collections::HashSet;

fuzz_target!(|bytes: &[u8]| {
    if let Some(product) = decode::<DefineProductRequest, DefineProduct>(bytes) {
        check_product(&product);
    }
    if let Some(quantity) = decode::<RestockRequest, Quantity>(bytes) {
        check_quantity(quantity);
    }
    if let Some(quantity) = decode::<SetQuantityRequest, u32>(bytes) {
        assert!(quantity <= Quantity::MAX, "set quantity {quantity}");
    }
    if let Some(line) = decode_ref::<LineRequest, Line>(bytes) {
        check_sku(&line.sku);
        check_quantity(line.quantity);
    }
    if let Some(checkout) = decode_ref::<CheckoutRequest, Checkout>(bytes) {
        check_token(checkout.payment_token.into_string());
        check_address(&checkout.shipping_address);
    }
    if let Some(order) = decode_ref::<BuyNowRequest, BuyNow>(bytes) {
        check_buy_now(order);
    }
    if let Some(credentials) = decode_ref::<SignUpRequest, Credentials>(bytes) {
        check_parsed_credentials(&credentials);
    }
    if let Some(login) = decode_ref::<LoginRequest, Login>(bytes) {
        check_parsed_credentials(&login.credentials);
    }
    // `POST /v1/carts` takes `{}` or nothing; it has no conversion.
    let _ = serde_json::from_slice::<CreateCartRequest>(bytes);
    decode_header_and_path(bytes);
});

/// Deserializes a body and converts it by value, as the handlers that own their DTO do.
fn decode<D, T>(bytes: &[u8]) -> Option<T>
where
    D: DeserializeOwned,
    T: TryFrom<D, Error = ApiError>,
{
    let dto = serde_json::from_slice::<D>(bytes).ok()?;
    converted(T::try_from(dto))
}

/// Deserializes a body and converts it by reference, as the handlers that keep the DTO do.
fn decode_ref<D, T>(bytes: &[u8]) -> Option<T>
where
    D: DeserializeOwned,
    T: for<'a> TryFrom<&'a D, Error = ApiError>,
{
    let dto = serde_json::from_slice::<D>(bytes).ok()?;
    converted(T::try_from(&dto))
}

/// A rejection must render as a problem body with a client-error status, since bad input is
/// never the server's fault.
fn converted<T>(result: Result<T, ApiError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            assert!(error.status().is_client_error(), "{error:?}");
            let body = serde_json::from_slice::<serde_json::Value>(&error.body_bytes());
            assert!(body.is_ok_and(|b| b["code"] == error.code().as_str()));
            None
        }
    }
}

fn check_product(product: &DefineProduct) {
    let name = product.name.as_str();
    assert!(!name.is_empty() && name == name.trim());
    assert!(name.chars().count() <= PRODUCT_NAME_CHARS_MAX);
    assert!(!name.chars().any(char::is_control));
    assert!(product.price.amount_minor() >= 0);
}

fn check_quantity(quantity: Quantity) {
    assert!((1..=Quantity::MAX).contains(&quantity.get()), "{quantity}");
}

fn check_sku(sku: &SkuCode) {
    let code = sku.as_str();
    assert!(!code.is_empty() && code.len() <= SkuCode::CHARS_MAX);
    assert!(code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    assert!(code.as_bytes()[0].is_ascii_alphanumeric());
}

fn check_token(token: String) {
    assert!(!token.is_empty() && token.len() <= PAYMENT_TOKEN_CHARS_MAX);
    assert!(token.bytes().all(|b| b.is_ascii_graphic()));
}

fn check_address(address: &ShippingAddress) {
    let fields = [
        Some(address.name()),
        Some(address.line1()),
        address.line2(),
        Some(address.city()),
        Some(address.postal_code()),
    ];
    for field in fields.into_iter().flatten() {
        assert!(!field.is_empty() && field == field.trim(), "{field:?}");
        assert!(field.chars().count() <= ADDRESS_FIELD_CHARS_MAX);
        assert!(!field.chars().any(char::is_control));
    }
    let country = address.country();
    assert!(
        country.as_str().len() == 2 && country.as_str().bytes().all(|b| b.is_ascii_uppercase())
    );
}

fn check_buy_now(order: BuyNow) {
    assert!(!order.lines.is_empty() && order.lines.len() <= ORDER_LINES_MAX);
    let mut skus = HashSet::new();
    for line in &order.lines {
        check_sku(&line.sku);
        assert!((1..=CART_LINE_QUANTITY_MAX).contains(&line.quantity.get()));
        assert!(skus.insert(line.sku.as_str()), "duplicate sku {}", line.sku);
    }
    check_token(order.payment_token.into_string());
    check_address(&order.shipping_address);
}

/// The same bytes as a header value and, when UTF-8, as path segments: parsed values must print
/// back to something that parses to the same value.
fn decode_header_and_path(bytes: &[u8]) {
    if let Ok(key) = IdempotencyKey::parse(bytes) {
        assert!(!key.as_str().is_empty() && key.as_str().len() <= IDEMPOTENCY_KEY_BYTES_MAX);
        assert_eq!(key.as_str().as_bytes(), bytes);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(sku) = SkuCode::parse(text) {
        check_sku(&sku);
    }
    if let Ok(cart) = CartId::parse(text) {
        assert_eq!(CartId::parse(&cart.to_string()), Ok(cart));
    }
    if let Ok(order) = OrderId::parse(text) {
        assert_eq!(OrderId::parse(&order.to_string()), Ok(order));
    }
    check_credentials(text);
}

/// Parsed sign-up or login credentials respect the limits and are in their stored form.
fn check_parsed_credentials(credentials: &Credentials) {
    check_credentials(credentials.email.as_str());
    let chars = credentials.password.expose().chars().count();
    assert!((PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&chars));
}

/// The sign-up and login fields: an email is stored, and looked up, in the form `parse` gives,
/// so that form must respect the limit and parse again to itself.
fn check_credentials(text: &str) {
    if let Ok(email) = Email::parse(text) {
        let stored = email.as_str();
        assert!(
            stored.len() <= EMAIL_BYTES_MAX,
            "{} bytes: {stored:?}",
            stored.len()
        );
        assert_eq!(stored, stored.trim());
        assert_eq!(
            Email::parse(stored).as_ref(),
            Ok(&email),
            "normal form is stable"
        );
    }
    if let Ok(password) = Password::parse(text) {
        let chars = password.expose().chars().count();
        assert!((PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&chars));
        assert_eq!(password.expose(), text, "passwords are never altered");
    }
}
