//! `GET /healthz` (the process runs) and `GET /readyz` (it can serve: the store answers).

use crate::limits::READINESS_TIMEOUT;
use crate::problem::{ApiError, Code};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// A probe's answer.
#[derive(Serialize, ToSchema)]
pub struct ProbeView {
    /// `ok` from `/healthz`, `ready` from `/readyz`.
    #[schema(value_type = String, example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process runs and serves HTTP.
#[utoipa::path(get, path = "/healthz", tag = "probes",
    responses((status = 200, description = "`{\"status\": \"ok\"}`.", body = ProbeView)))]
pub async fn healthz() -> Json<ProbeView> {
    Json(ProbeView { status: "ok" })
}

/// Readiness: the store answers within `READINESS_TIMEOUT`.
#[utoipa::path(get, path = "/readyz", tag = "probes",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`.", body = ProbeView),
        (status = 503, description = "`not_ready`: the store does not answer (in time)."),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeView>, ApiError> {
    match tokio::time::timeout(READINESS_TIMEOUT, state.commerce.ready()).await {
        Ok(Ok(())) => Ok(Json(ProbeView { status: "ready" })),
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
