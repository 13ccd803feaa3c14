//! Extractors whose rejections are problems: JSON bodies, path segments and the
//! `Idempotency-Key` header. axum's own rejections are plain text, so every input passes through
//! here instead.

use crate::limits::IDEMPOTENCY_KEY_BYTES_MAX;
use crate::problem::{ApiError, Code};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

/// A JSON request body of type `T`, parsed with problem rejections: wrong media type 415, too
/// large 413, syntax errors 400, unknown fields and shape errors 422.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        require_json(req.headers())?;
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Like [`JsonBody`] but an absent or empty body is `None`, for routes whose body is optional
/// (`POST /v1/carts`). A non-empty body must still be JSON.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let has_content_type = req.headers().contains_key(CONTENT_TYPE);
        if has_content_type {
            require_json(req.headers())?;
        }
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalJsonBody(None));
        }
        if !has_content_type {
            return Err(unsupported_media_type());
        }
        parse_json(&bytes).map(|v| OptionalJsonBody(Some(v)))
    }
}

/// Accepts `application/json` and `application/<anything>+json`, with any parameters.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if is_json_media_type(content_type) {
        Ok(())
    } else {
        Err(unsupported_media_type())
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        Code::UnsupportedMediaType,
        "the body must be JSON with Content-Type: application/json",
    )
}

pub(crate) fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads the body within the router's `DefaultBodyLimit`.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                Code::BodyTooLarge,
                "the request body exceeds the size limit",
            )
        } else {
            ApiError::new(
                Code::InvalidBody,
                format!("the request body could not be read: {rejection}"),
            )
        }
    })
}

/// Parses JSON, classifying serde's error into a code; serde's message is the detail.
///
/// Every request body of the API is an object. serde's derived structs also accept a JSON array
/// of their fields in order (`[5]` for `{"quantity": 5}`, `[]` for `{}`), a form the API does not
/// document, so a body that is an array is refused before serde sees it; nested structs are read
/// as objects by `dto::object`.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::new(
            Code::InvalidBody,
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        let code = match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => Code::MalformedJson,
            // serde has no error kind for unknown fields, only this stable message prefix.
            Category::Data if e.to_string().starts_with("unknown field") => Code::UnknownField,
            Category::Data => Code::InvalidBody,
        };
        ApiError::new(code, e.to_string())
    })
}

/// Path parameters. A segment that is not even UTF-8 cannot name anything, so it is 404.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParams<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParams(value)),
            Err(rejection) => Err(ApiError::new(Code::NotFound, rejection.body_text())),
        }
    }
}

/// The `Idempotency-Key` header: required, 1 to 255 bytes of printable ASCII.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &[u8]) -> Result<IdempotencyKey, ApiError> {
        let printable = value.iter().all(|b| (b' '..=b'~').contains(b));
        if value.is_empty() || value.len() > IDEMPOTENCY_KEY_BYTES_MAX || !printable {
            return Err(ApiError::new(
                Code::InvalidIdempotencyKey,
                format!("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_BYTES_MAX} printable ASCII characters"),
            ));
        }
        // Printable ASCII is UTF-8.
        Ok(IdempotencyKey(String::from_utf8_lossy(value).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let value = parts.headers.get("idempotency-key").ok_or_else(|| {
            ApiError::new(
                Code::IdempotencyKeyRequired,
                "this request needs an Idempotency-Key header",
            )
        })?;
        IdempotencyKey::parse(value.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Probe {
        quantity: i64,
    }

    fn code_of(json: &str) -> Code {
        match parse_json::<Probe>(json.as_bytes()) {
            Ok(_) => panic!("{json} parsed"),
            Err(e) => e.code(),
        }
    }

    #[test]
    fn classifies_json_errors() {
        assert_eq!(code_of("{"), Code::MalformedJson);
        assert_eq!(code_of(""), Code::MalformedJson);
        assert_eq!(code_of("{\"quantity\": 1,}"), Code::MalformedJson);
        assert_eq!(code_of("{\"quantity\": 1, \"x\": 2}"), Code::UnknownField);
        assert_eq!(code_of("{}"), Code::InvalidBody);
        assert_eq!(code_of("{\"quantity\": \"1\"}"), Code::InvalidBody);
        assert_eq!(code_of("[]"), Code::InvalidBody);
        assert_eq!(code_of("[5]"), Code::InvalidBody);
        assert_eq!(code_of(" \n[1, 2]"), Code::InvalidBody);
    }

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/problem+json",
        ] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "text/json",
        ] {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn idempotency_key_bounds() {
        assert!(IdempotencyKey::parse(b"k").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        assert!(IdempotencyKey::parse(b"a key with spaces~").is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 256][..],
            b"tab\there",
            "é".as_bytes(),
            b"nl\n",
        ] {
            let code = IdempotencyKey::parse(bad).map_err(|e| e.code());
            assert_eq!(code, Err(Code::InvalidIdempotencyKey), "{bad:?}");
        }
    }
}
