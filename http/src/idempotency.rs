//! Idempotent order placement (checkout and buy now), so that a client retrying after a lost
//! response gets the first answer instead of a second order.
//!
//! A request claims its `Idempotency-Key` in a scope with a hash of its canonical body and a
//! fresh order id. The store answers one of:
//! - `Claimed`: this request runs the saga; its business answer (201, 402, 409, 503
//!   `checkout_interrupted`) is stored with the key so retries replay it byte for byte.
//! - `Completed`: replay the stored status and body with `Idempotent-Replayed: true`.
//! - `Mismatch`: the key was used for another body: 422 `idempotency_key_reused`.
//! - `InProgress`: another request holds the key; wait for its order to finish (polling the
//!   order, up to `HttpLimits::idempotency_wait`) and answer what it answered, else 409
//!   `idempotency_in_progress` with `Retry-After`.
//!
//! A failed attempt releases its key only when the order provably does not exist, because a
//! retry runs with a new order id and must never create a second order beside a live one.

use crate::extract::IdempotencyKey;
use crate::limits::IDEMPOTENCY_POLL_INTERVAL;
use crate::problem::{problem_response, ApiError, Code};
use crate::views::OrderView;
use crate::AppState;
use actors::ports::{IdempotencyClaim, SagaStep};
use actors::AppError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::{FailureReason, Order, OrderId, OrderStatus};
use runtime::DispatchError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::Future;
use tokio::time::Instant;
use tracing::Instrument;

/// Header on answers this request did not compute itself.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Who may place an order under one key, and with what body.
#[derive(Clone, Debug)]
pub struct Claim {
    /// `checkout:<cart id>` or `buy_now`: the same key in two scopes names two requests.
    pub scope: String,
    pub key: IdempotencyKey,
    /// Hex SHA-256 of the canonical request.
    pub request_hash: String,
}

impl Claim {
    pub fn new(scope: String, key: IdempotencyKey, canonical: &impl Serialize) -> Claim {
        Claim {
            scope,
            key,
            request_hash: request_hash(canonical),
        }
    }
}

/// Hex SHA-256 of the request re-serialized from its parsed DTO: field order and whitespace of
/// the original body do not matter, the values do.
pub fn request_hash(canonical: &impl Serialize) -> String {
    // Serializing plain DTOs (strings, numbers, vectors) cannot fail.
    let bytes = serde_json::to_vec(canonical).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// Places an order at most once per key: `place` runs only if this request claims the key.
pub async fn place_once<F, Fut>(
    state: &AppState,
    claim: &Claim,
    place: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(OrderId) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Order, AppError>> + Send + 'static,
{
    let order_id = OrderId::from_u128(uuid::Uuid::new_v4().as_u128());
    let store = state.commerce.store();
    let now = state.commerce.now();
    let claiming = store.claim_idempotency_key(
        &claim.scope,
        claim.key.as_str(),
        &claim.request_hash,
        order_id,
        now,
    );
    let answer = actors::saga::timed("claim_idempotency_key", claiming).await?;
    match answer {
        IdempotencyClaim::Claimed => detached_first_attempt(state, claim, order_id, place).await,
        IdempotencyClaim::Completed { status, body } => Ok(replay(status, body)),
        IdempotencyClaim::Mismatch => Err(ApiError::new(
            Code::IdempotencyKeyReused,
            "this Idempotency-Key was already used with a different request",
        )),
        IdempotencyClaim::InProgress { order_id } => {
            await_first_attempt(state, claim, order_id).await
        }
    }
}

/// Runs the first attempt in its own task: a client that disconnects drops its handler future,
/// and the saga must not stop between two steps because of that, nor leave its key unanswered.
/// A detached attempt outlives its concurrency permit; the actors' bounded mailboxes still bound
/// the work, and each attempt ends within the saga's own timeouts.
async fn detached_first_attempt<F, Fut>(
    state: &AppState,
    claim: &Claim,
    order_id: OrderId,
    place: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(OrderId) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Order, AppError>> + Send + 'static,
{
    let (state, claim) = (state.clone(), claim.clone());
    // The request's span goes with the task, so the saga's commands carry its request id.
    let attempt = tokio::spawn(
        async move { first_attempt(&state, &claim, order_id, place).await }.in_current_span(),
    );
    attempt.await.unwrap_or_else(|e| {
        tracing::error!(error = %e, %order_id, "checkout task failed");
        Err(ApiError::new(Code::Internal, "an internal error occurred")
            .with("order_id", order_id.to_string()))
    })
}

async fn first_attempt<F, Fut>(
    state: &AppState,
    claim: &Claim,
    order_id: OrderId,
    place: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(OrderId) -> Fut,
    Fut: Future<Output = Result<Order, AppError>>,
{
    let error = match place(order_id).await {
        Ok(order) => {
            return Ok(answer_and_complete(state, claim, &order)
                .await
                .into_response())
        }
        Err(error) => error,
    };
    match aftermath(state, order_id, &error).await {
        Aftermath::NothingHappened => {
            release(state, claim).await;
            Err(error.into())
        }
        Aftermath::Finished(order) => Ok(answer_and_complete(state, claim, &order)
            .await
            .into_response()),
        // The order exists (or may): keep the key so retries wait for it instead of placing
        // another one. Recovery drives the order to its end.
        Aftermath::Unknown => Err(ApiError::from(error).with("order_id", order_id.to_string())),
    }
}

/// What a failed placement left behind.
enum Aftermath {
    /// No order exists and none can appear later: the key may be released.
    NothingHappened,
    /// The order reached its end anyway (the error came after its last step).
    Finished(Box<Order>),
    /// An order exists and is still moving, or we cannot tell.
    Unknown,
}

async fn aftermath(state: &AppState, order_id: OrderId, error: &AppError) -> Aftermath {
    // A timed-out ask may still be applied later, so "not found now" proves nothing.
    if matches!(error, AppError::Dispatch(DispatchError::Timeout)) {
        return Aftermath::Unknown;
    }
    // The saga record is saved before the order is placed, so without one there is no order.
    // Asking the store directly also works when the actors are the ones overloaded.
    match state.commerce.store().load_saga(order_id).await {
        Ok(None) => return Aftermath::NothingHappened,
        Ok(Some(_)) => {}
        Err(_) => return Aftermath::Unknown,
    }
    match state.commerce.order(order_id).await {
        Ok(order) if saga_finished(order.status()) => Aftermath::Finished(Box::new(order)),
        // Placing failed for good; the saga marked itself failed and released the cart.
        Err(AppError::OrderNotFound) => Aftermath::NothingHappened,
        _ => Aftermath::Unknown,
    }
}

async fn release(state: &AppState, claim: &Claim) {
    let store = state.commerce.store();
    if let Err(e) = store
        .release_idempotency_key(&claim.scope, claim.key.as_str())
        .await
    {
        // The key stays in progress without an order; its retries answer 409 until it expires.
        tracing::warn!(error = %e, scope = %claim.scope, "could not release an idempotency key");
    }
}

/// Waits for the request holding the key to finish its order, then answers what it answered.
async fn await_first_attempt(
    state: &AppState,
    claim: &Claim,
    order_id: OrderId,
) -> Result<Response, ApiError> {
    let deadline = Instant::now() + state.limits.idempotency_wait;
    let mut exists = false;
    loop {
        match state.commerce.order(order_id).await {
            Ok(order) if saga_finished(order.status()) => {
                let answer = answer_and_complete(state, claim, &order).await;
                return Ok(answer.replayed().into_response());
            }
            Ok(_) => exists = true,
            Err(AppError::OrderNotFound) => {}
            Err(e) => return Err(e.into()),
        }
        if Instant::now() + IDEMPOTENCY_POLL_INTERVAL > deadline {
            break;
        }
        tokio::time::sleep(IDEMPOTENCY_POLL_INTERVAL).await;
    }
    if !exists {
        release_if_abandoned(state, claim, order_id).await;
    }
    Err(ApiError::new(
        Code::IdempotencyInProgress,
        "a request with this Idempotency-Key is still being processed",
    )
    .with("order_id", order_id.to_string()))
}

/// A key whose saga failed before its order was placed will never get an answer: the attempt
/// crashed or timed out before placing. Releasing it lets the client's next retry run afresh.
async fn release_if_abandoned(state: &AppState, claim: &Claim, order_id: OrderId) {
    match state.commerce.store().load_saga(order_id).await {
        Ok(Some(record)) if record.step == SagaStep::Failed => release(state, claim).await,
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(error = %e, %order_id, "could not load the saga of an in-progress key")
        }
    }
}

/// Whether the checkout saga is done with the order: nothing will change it without a new
/// command (cancel, ship). `confirmed` is not: the saga still requests fulfillment.
pub fn saga_finished(status: OrderStatus) -> bool {
    match status {
        OrderStatus::Failed
        | OrderStatus::Cancelled
        | OrderStatus::FulfillmentRequested
        | OrderStatus::Shipped
        | OrderStatus::Delivered => true,
        OrderStatus::Pending | OrderStatus::Reserved | OrderStatus::Confirmed => false,
    }
}

async fn answer_and_complete(state: &AppState, claim: &Claim, order: &Order) -> Answer {
    let answer = Answer::for_order(order);
    let store = state.commerce.store().clone();
    let (scope, key) = (claim.scope.clone(), claim.key.as_str().to_owned());
    let (status, body) = (answer.status.as_u16(), answer.body.clone());
    // The order is durable and terminal for the saga, so the answer does not wait for the key's
    // record: a retry that finds the key still in progress answers from the order itself. That
    // takes one durable round trip off every checkout's latency.
    tokio::spawn(
        async move {
            if let Err(e) = store
                .complete_idempotency_key(&scope, &key, status, &body)
                .await
            {
                tracing::warn!(error = %e, %scope, "could not store an idempotent answer");
            }
        }
        .in_current_span(),
    );
    answer
}

/// The answer to an order placement, computed once from the order and stored with the key.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
    /// Where the order can be read, for a 201.
    location: Option<String>,
    replayed: bool,
}

impl Answer {
    /// 201 with the order, unless checkout failed: then a problem naming the reason, with the
    /// order as the `order` member so the client sees exactly what happened.
    pub fn for_order(order: &Order) -> Answer {
        let view = OrderView::from(order);
        if order.status() != OrderStatus::Failed {
            return Answer {
                status: StatusCode::CREATED,
                body: serde_json::to_vec(&view).unwrap_or_default(),
                location: Some(format!("/v1/orders/{}", order.id())),
                replayed: false,
            };
        }
        let reason = order.failure_reason().unwrap_or(FailureReason::Interrupted);
        let problem = failure_problem(reason)
            .with("order_id", order.id().to_string())
            .with("order", serde_json::to_value(&view).unwrap_or_default());
        Answer {
            status: problem.status(),
            body: problem.body_bytes(),
            location: None,
            replayed: false,
        }
    }

    fn replayed(mut self) -> Answer {
        self.replayed = true;
        self
    }
}

/// The problem of a failed checkout, by its reason.
pub fn failure_problem(reason: FailureReason) -> ApiError {
    match reason {
        FailureReason::OutOfStock => ApiError::new(
            Code::OutOfStock,
            "not enough stock for every line; nothing was charged",
        ),
        FailureReason::PaymentDeclined => {
            ApiError::new(Code::PaymentDeclined, "the payment was declined")
        }
        FailureReason::PaymentTimeout => ApiError::new(
            Code::PaymentTimeout,
            "the payment provider did not answer in time; nothing was charged",
        ),
        FailureReason::Interrupted => ApiError::new(
            Code::CheckoutInterrupted,
            "checkout was interrupted and rolled back; nothing was charged",
        ),
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = if self.status.is_client_error() || self.status.is_server_error() {
            // A stored problem is a final answer for its key: no Retry-After.
            problem_response(self.status, self.body, false)
        } else {
            let mut response = (self.status, self.body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        };
        let headers = response.headers_mut();
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        if self.replayed {
            headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        }
        response
    }
}

/// The stored answer of a completed key, exactly as first sent.
fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Answer {
        status,
        body,
        location: None,
        replayed: true,
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::PROBLEM_CONTENT_TYPE;
    use serde_json::json;

    fn replay_content_type(status: u16) -> &'static str {
        if status >= 400 {
            PROBLEM_CONTENT_TYPE
        } else {
            "application/json"
        }
    }

    #[test]
    fn hash_ignores_formatting_but_not_values() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"a": 1, "b": [1, 2]}"#).unwrap_or_default();
        let b: serde_json::Value = serde_json::from_str(r#"{"b":[1,2],"a":1}"#).unwrap_or_default();
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(
            request_hash(&a),
            request_hash(&json!({"a": 2, "b": [1, 2]}))
        );
        assert_eq!(request_hash(&a).len(), 64);
    }

    #[test]
    fn saga_end_states() {
        let finished: Vec<_> = OrderStatus::ALL
            .iter()
            .copied()
            .filter(|s| saga_finished(*s))
            .collect();
        assert_eq!(
            finished,
            [
                OrderStatus::FulfillmentRequested,
                OrderStatus::Shipped,
                OrderStatus::Delivered,
                OrderStatus::Failed,
                OrderStatus::Cancelled
            ]
        );
    }

    #[test]
    fn failure_reasons_map_to_problems() {
        let pairs: Vec<_> = FailureReason::ALL
            .iter()
            .map(|r| {
                let p = failure_problem(*r);
                (r.as_str(), p.code().as_str(), p.status().as_u16())
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("out_of_stock", "out_of_stock", 409),
                ("payment_declined", "payment_declined", 402),
                ("payment_timeout", "payment_timeout", 402),
                ("interrupted", "checkout_interrupted", 503),
            ]
        );
    }

    #[test]
    fn replays_carry_the_marker_and_the_right_type() {
        for status in [201u16, 402, 409, 503] {
            let response = replay(status, b"{}".to_vec());
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(response.headers()[REPLAYED_HEADER], "true");
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                replay_content_type(status)
            );
            assert!(response.headers().get(header::RETRY_AFTER).is_none());
        }
    }
}
