//! Authentication: the admin's static bearer token, compared in constant time, and shoppers'
//! session tokens (`ShopperAuth`, `CustomerAuth`), checked by `actors::Accounts`.

use crate::problem::{ApiError, Code};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::fmt;

/// The admin secret. Debug and Display print a placeholder, so the token cannot leak into logs
/// through a `{:?}` of the state or the configuration.
#[derive(Clone)]
pub struct AdminToken {
    secret: String,
    /// The secret's SHA-256, compared against the presented token's: equal-length digests make
    /// the comparison time independent of where the strings differ and of the secret's length.
    digest: [u8; 32],
}

impl AdminToken {
    pub fn new(secret: impl Into<String>) -> AdminToken {
        let secret = secret.into();
        let digest = sha256(secret.as_bytes());
        AdminToken { secret, digest }
    }

    /// A fresh random token (two v4 UUIDs: 244 random bits), for runs without a configured one.
    pub fn generate() -> AdminToken {
        let a = uuid::Uuid::new_v4().simple().to_string();
        let b = uuid::Uuid::new_v4().simple().to_string();
        AdminToken::new(format!("{a}{b}"))
    }

    /// The secret itself, for the one place that must show it (printing a generated token).
    pub fn expose(&self) -> &str {
        &self.secret
    }

    /// Whether `presented` is the token, in time independent of its content.
    pub fn matches(&self, presented: &str) -> bool {
        let presented = sha256(presented.as_bytes());
        let difference = self
            .digest
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        difference == 0
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl fmt::Display for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Proof that the request carried the admin token; admin handlers take it as an argument, so an
/// admin route cannot be written without the check.
#[derive(Clone, Copy, Debug)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(|| {
                ApiError::new(Code::Unauthorized, "an admin bearer token is required")
            })?;
        if state.admin_token.matches(presented) {
            Ok(Admin)
        } else {
            Err(ApiError::new(
                Code::Unauthorized,
                "the admin bearer token is wrong",
            ))
        }
    }
}

/// Who is asking, from `Authorization: Bearer <token>`: no header is a guest; a token must be a
/// live session, or the request is refused with 401 (a wrong token is a client bug or an expired
/// login, and silently treating it as a guest would hide the shopper's own carts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShopperAuth(pub actors::Shopper);

impl FromRequestParts<AppState> for ShopperAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ShopperAuth, ApiError> {
        let Some(value) = parts.headers.get(AUTHORIZATION) else {
            return Ok(ShopperAuth(actors::Shopper::Guest));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or_else(|| ApiError::new(Code::Unauthorized, "expected `Bearer <token>`"))?;
        let customer = state.commerce.accounts().authenticate(token).await?;
        Ok(ShopperAuth(actors::Shopper::Customer(customer)))
    }
}

/// A logged-in customer: like [`ShopperAuth`] but a guest is refused with 401. Carries the token
/// for logout.
#[derive(Clone, Debug)]
pub struct CustomerAuth {
    pub customer: domain::CustomerId,
    pub token: String,
}

impl FromRequestParts<AppState> for CustomerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<CustomerAuth, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(|| ApiError::new(Code::Unauthorized, "a bearer token is required"))?;
        let customer = state.commerce.accounts().authenticate(token).await?;
        Ok(CustomerAuth {
            customer,
            token: token.to_owned(),
        })
    }
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 9110, section 11.1).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_exact_token() {
        let token = AdminToken::new("s3cret");
        assert!(token.matches("s3cret"));
        for wrong in ["", "s3cre", "s3cret ", "S3CRET", "s3cretx"] {
            assert!(!token.matches(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn never_prints_the_secret() {
        let token = AdminToken::new("s3cret");
        assert!(!format!("{token:?}").contains("s3cret"));
        assert!(!format!("{token}").contains("s3cret"));
        assert_eq!(token.expose(), "s3cret");
    }

    #[test]
    fn generated_tokens_differ_and_are_long() {
        let (a, b) = (AdminToken::generate(), AdminToken::generate());
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 64);
    }

    #[test]
    fn parses_bearer_values() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
