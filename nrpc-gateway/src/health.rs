//! The gateway's health, for load balancers and orchestrators: gRPC's
//! health checking protocol (`grpc.health.v1.Health`, what Kubernetes' gRPC
//! probes and `grpc-health-probe` ask) and `GET /_nrpc/health` for HTTP
//! probes.
//!
//! The gateway serves while its NATS connection is up. A named service is
//! also asked for: it must be known (defined by `.proto` files, or
//! answering discovery), else it is unknown (`NOT_FOUND` to `Check`,
//! `SERVICE_UNKNOWN` from `Watch`, 404 over HTTP).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State as Shared;
use axum::response::{IntoResponse, Response};
use futures::stream::BoxStream;
use nrpc_runtime::async_nats::connection::State;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::catalog::Catalog;

/// The gRPC service's name.
pub(crate) const SERVICE: &str = "grpc.health.v1.Health";

/// How often a `Watch` looks again.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// `None`: the service is not known.
async fn status(catalog: &Arc<Catalog>, service: &str) -> Option<ServingStatus> {
    if catalog.connection().nats().connection_state() != State::Connected {
        return Some(ServingStatus::NotServing);
    }
    if !service.is_empty() && catalog.find(service).await.is_err() {
        return None;
    }
    Some(ServingStatus::Serving)
}

/// `grpc.health.v1.Health` over the catalog.
pub(crate) fn server(catalog: Arc<Catalog>) -> HealthServer<Checks> {
    HealthServer::new(Checks(catalog))
}

/// Answers health checks.
#[derive(Debug)]
pub(crate) struct Checks(Arc<Catalog>);

#[tonic::async_trait]
impl Health for Checks {
    async fn check(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<HealthCheckResponse>, tonic::Status> {
        let service = request.into_inner().service;
        match status(&self.0, &service).await {
            Some(status) => Ok(tonic::Response::new(HealthCheckResponse {
                status: status.into(),
            })),
            None => Err(tonic::Status::not_found(format!(
                "no service {service:?} is known"
            ))),
        }
    }

    type WatchStream = BoxStream<'static, Result<HealthCheckResponse, tonic::Status>>;

    async fn watch(
        &self,
        request: tonic::Request<HealthCheckRequest>,
    ) -> Result<tonic::Response<Self::WatchStream>, tonic::Status> {
        let catalog = self.0.clone();
        let service = request.into_inner().service;
        // The current status at once, then each change.
        let changes = futures::stream::unfold(None, move |last| {
            let (catalog, service) = (catalog.clone(), service.clone());
            async move {
                loop {
                    if last.is_some() {
                        tokio::time::sleep(WATCH_EVERY).await;
                    }
                    let now = status(&catalog, &service)
                        .await
                        .unwrap_or(ServingStatus::ServiceUnknown);
                    if last != Some(now) {
                        let reply = HealthCheckResponse { status: now.into() };
                        return Some((Ok(reply), Some(now)));
                    }
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(changes)))
    }
}

/// `?service=<name>` of the HTTP check.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Asked {
    #[serde(default)]
    service: String,
}

/// `GET /_nrpc/health[?service=<name>]`: 200 serving, 503 not serving, 404
/// unknown; the body names the status as gRPC's protocol does.
pub(crate) async fn http(Shared(catalog): Shared<Arc<Catalog>>, uri: ::http::Uri) -> Response {
    use ::http::StatusCode;
    let asked: Asked = match serde_urlencoded::from_str(uri.query().unwrap_or_default()) {
        Ok(asked) => asked,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad query: {e}")).into_response(),
    };
    let (code, status) = match status(&catalog, &asked.service).await {
        Some(ServingStatus::Serving) => (StatusCode::OK, "SERVING"),
        Some(_) => (StatusCode::SERVICE_UNAVAILABLE, "NOT_SERVING"),
        None => (StatusCode::NOT_FOUND, "SERVICE_UNKNOWN"),
    };
    (code, axum::Json(serde_json::json!({ "status": status }))).into_response()
}
