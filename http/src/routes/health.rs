//! `GET /healthz` (the process runs) and `GET /readyz` (it can serve: the store answers).

use crate::limits::READINESS_TIMEOUT;
use crate::problem::{ApiError, Code};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READINESS_TIMEOUT, state.commerce.ready()).await {
        Ok(Ok(())) => Ok(Json(json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::new(Code::NotReady, "the store does not answer"))
        }
        Err(_) => Err(ApiError::new(
            Code::NotReady,
            "the store did not answer in time",
        )),
    }
}
