//! The HTTP side of metrics (axum): `GET /metrics` in the OpenMetrics text format, which
//! Prometheus scrapes, and `GET /healthz`: 200 `ok` while every route's worker is well and the
//! ledger takes writes, 503 and the reason otherwise.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::{info, warn};

use super::Scraper;

/// What Prometheus is told the body is.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn metrics(State(scraper): State<Arc<Scraper>>) -> Response {
    match tokio::task::spawn_blocking(move || scraper.render()).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Ok(Err(e)) => {
            warn!(error = %e, "could not gather the metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

async fn healthz(State(scraper): State<Arc<Scraper>>) -> Response {
    match tokio::task::spawn_blocking(move || scraper.problem()).await {
        Ok(None) => "ok\n".into_response(),
        Ok(Some(why)) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

/// Binds `address` now (so that a port in use stops the start with a clear message) and returns
/// the server, to be run until the agent stops.
pub async fn serve(
    address: SocketAddr,
    scraper: Scraper,
) -> Result<impl std::future::Future<Output = ()>, String> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot serve metrics on {address} (agent.metrics): {e}"))?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(Arc::new(scraper));
    info!(%address, "serving metrics on /metrics and health on /healthz");
    Ok(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(error = %e, "the metrics server stopped");
        }
    })
}
