//! Cross-cutting layers: request ids, load shedding, and `Retry-After` from configuration.

use crate::limits::REQUEST_ID_BYTES_MAX;
use crate::problem::{ApiError, Code, RetryAfterHint};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in the request extensions for handlers that want to log it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Takes the client's `x-request-id` if it is a sane token, else generates a UUID; runs the
/// request in a span carrying it, and echoes it on the response so both sides can correlate.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_request_id(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_millis() as u64;
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(status, latency_ms, "request failed");
        } else {
            tracing::debug!(status, latency_ms, "request done");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Letters, digits and `-_.:`, at most `REQUEST_ID_BYTES_MAX` bytes: safe in headers and logs.
pub fn is_valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= REQUEST_ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The permits of the global concurrency limit.
#[derive(Clone, Debug)]
pub struct ConcurrencyLimit(Arc<Semaphore>);

impl ConcurrencyLimit {
    pub fn new(concurrency_max: usize) -> ConcurrencyLimit {
        let permits = concurrency_max.clamp(1, Semaphore::MAX_PERMITS);
        ConcurrencyLimit(Arc::new(Semaphore::new(permits)))
    }
}

/// Sheds load: a request that finds every permit taken is answered 503 at once. Waiting for a
/// permit instead would queue without bound and turn overload into timeouts for everyone.
pub async fn shed_load(
    State(limit): State<ConcurrencyLimit>,
    req: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = limit.0.try_acquire() else {
        return ApiError::new(
            Code::Overloaded,
            "too many requests in flight; retry shortly",
        )
        .into_response();
    };
    // The permit is held until the handler has produced the whole (buffered) response.
    next.run(req).await
}

/// At most this much of an oversized body is read (and discarded) before answering 413: enough
/// that a client still sending it reads the answer instead of a connection reset.
pub const OVERSIZED_DRAIN_BYTES_MAX: usize = 1024 * 1024;
/// And for at most this long.
pub const OVERSIZED_DRAIN_TIME_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// A body whose declared `Content-Length` exceeds `max` is refused with 413 `body_too_large`
/// before any handler runs. Closing the connection while the client is still sending would make
/// its kernel see a reset and often lose the answer, so up to [`OVERSIZED_DRAIN_BYTES_MAX`] of
/// the body (within [`OVERSIZED_DRAIN_TIME_MAX`]) is read and discarded first; the answer says
/// `Connection: close`. Bodies without a length are bounded by `DefaultBodyLimit` as they are
/// read.
pub async fn refuse_oversized(State(max): State<usize>, req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let too_large = declared.is_some_and(|n| usize::try_from(n).map_or(true, |n| n > max));
    if !too_large {
        return next.run(req).await;
    }
    let mut stream = req.into_body().into_data_stream();
    let drain = async {
        let mut read = 0usize;
        while let Some(Ok(chunk)) = futures::StreamExt::next(&mut stream).await {
            read = read.saturating_add(chunk.len());
            if read > OVERSIZED_DRAIN_BYTES_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(OVERSIZED_DRAIN_TIME_MAX, drain).await;
    let mut response = ApiError::new(
        Code::BodyTooLarge,
        format!("the request body exceeds the size limit of {max} bytes"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Sets `Retry-After` on answers marked retryable to the configured seconds.
pub async fn retry_after(State(seconds): State<u64>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    if response.extensions().get::<RetryAfterHint>().is_some() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    /// A router whose one route signals `entered` and then waits for `gate`, behind the load
    /// shedder and `Retry-After`.
    fn gated(
        entered: Arc<Notify>,
        gate: Arc<Notify>,
        concurrency_max: usize,
        retry_after_secs: u64,
    ) -> Router {
        let handler = move || {
            let (entered, gate) = (entered.clone(), gate.clone());
            async move {
                entered.notify_one();
                gate.notified().await;
                "done"
            }
        };
        Router::new()
            .route("/", get(handler))
            .layer(axum::middleware::from_fn_with_state(
                ConcurrencyLimit::new(concurrency_max),
                shed_load,
            ))
            .layer(axum::middleware::from_fn_with_state(
                retry_after_secs,
                retry_after,
            ))
            .layer(axum::middleware::from_fn(request_id))
    }

    fn get_root() -> Request {
        Request::builder()
            .uri("/")
            .body(Body::empty())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn sheds_load_beyond_the_limit_at_once() {
        let (entered, gate) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let app = gated(entered.clone(), gate.clone(), 1, 7);
        let first = tokio::spawn(app.clone().oneshot(get_root()));
        // The first request holds the only permit once its handler runs.
        entered.notified().await;
        let shed = app.clone().oneshot(get_root()).await.expect("infallible");
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()[header::RETRY_AFTER], "7");
        assert!(shed.headers().contains_key(&REQUEST_ID_HEADER));
        gate.notify_one();
        let first = first.await.expect("joined").expect("infallible");
        assert_eq!(first.status(), StatusCode::OK);
        // The permit came back.
        let next = tokio::spawn(app.oneshot(get_root()));
        gate.notify_one();
        assert_eq!(
            next.await.expect("joined").expect("infallible").status(),
            StatusCode::OK
        );
    }

    #[test]
    fn request_id_validation() {
        for ok in [
            "a",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "trace:1.2_3",
            &"x".repeat(128),
        ] {
            assert!(is_valid_request_id(ok), "{ok}");
        }
        for bad in ["", "with space", "new\nline", "é", &"x".repeat(129), "a/b"] {
            assert!(!is_valid_request_id(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn an_oversized_body_is_read_then_refused_with_413_and_close() {
        let app: Router = Router::new()
            .route("/", axum::routing::post(|| async { "handled" }))
            .layer(axum::middleware::from_fn_with_state(
                10usize,
                refuse_oversized,
            ));
        let request = |body: &'static str| {
            Request::post("/")
                .header(header::CONTENT_LENGTH, body.len())
                .body(Body::from(body))
                .expect("request")
        };
        let small = app
            .clone()
            .oneshot(request("0123456789"))
            .await
            .expect("answer");
        assert_eq!(small.status(), StatusCode::OK);
        let big = app.oneshot(request("0123456789A")).await.expect("answer");
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(big.headers()[header::CONNECTION], "close");
        let body = axum::body::to_bytes(big.into_body(), 4096)
            .await
            .expect("body");
        let problem: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(problem["code"], "body_too_large");
    }

    #[test]
    fn concurrency_limit_is_never_zero() {
        assert_eq!(ConcurrencyLimit::new(0).0.available_permits(), 1);
        assert_eq!(ConcurrencyLimit::new(3).0.available_permits(), 3);
    }
}
