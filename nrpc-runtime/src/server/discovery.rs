//! The server half of NATS services discovery: per service, answers
//! `$SRV.PING|INFO|STATS` (bare, `.<name>`, `.<name>.<id>`) and keeps the
//! per-endpoint statistics STATS reports.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::ServeError;
use crate::discovery::{
    service_name, EndpointInfo, EndpointStats, InfoResponse, PingResponse, StatsResponse,
    INFO_TYPE, PING_TYPE, STATS_TYPE,
};
use crate::observe::{self, MethodMetrics};
use crate::schema::{SchemaResponse, SCHEMA_METADATA};
use nrpc_wire::{ServiceSpec, Status};

/// One endpoint's counters, kept without a lock on the request path (a
/// STATS reply may see a request counted before its processing time).
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    /// Nanoseconds, saturating.
    processing: AtomicU64,
    /// Locked only when a request fails.
    last_error: Mutex<String>,
}

/// Identity, endpoints and counters of one served service.
pub(super) struct ServiceStats {
    name: String,
    id: String,
    version: String,
    metadata: BTreeMap<String, String>,
    description: String,
    started: String,
    /// One per method of the spec; `None` for methods that take no requests.
    endpoints: Vec<Option<EndpointInfo>>,
    counters: Box<[Counters]>,
    /// Per method (feature `metrics`).
    pub(super) metrics: Vec<MethodMetrics>,
    /// Where the schema is asked for, and the reply (JSON, made once).
    schema_subject: String,
    schema: Bytes,
}

impl ServiceStats {
    pub(super) fn new(
        spec: &'static ServiceSpec,
        package_subject: Option<&str>,
        queue_group: Option<String>,
        id: &str,
        version: &str,
        metadata: &BTreeMap<String, String>,
        schema: &SchemaResponse,
    ) -> Result<Self, nrpc_wire::InvalidToken> {
        let endpoints = spec
            .methods
            .iter()
            .enumerate()
            .map(|(i, m)| {
                if !m.kind.is_callable() {
                    return None;
                }
                let metadata = BTreeMap::from([
                    ("nrpc.kind".to_owned(), m.kind.as_str().to_owned()),
                    ("nrpc.polling".to_owned(), m.polling.to_string()),
                ]);
                Some(EndpointInfo {
                    name: m.name.to_string(),
                    subject: spec.endpoint_subject(package_subject, i),
                    queue_group: queue_group.clone(),
                    metadata: Some(metadata),
                })
            })
            .collect();
        let name = service_name(&spec.name);
        let schema_subject = nrpc_wire::route::schema_subject(&name, id)?;
        let mut metadata = metadata.clone();
        metadata.insert("nrpc.service".to_owned(), spec.name.to_string());
        metadata.insert(SCHEMA_METADATA.to_owned(), schema_subject.clone());
        let schema = serde_json::to_vec(schema).map_or_else(
            |e| {
                tracing::warn!("nrpc: schema of {} not encoded: {e}", spec.name);
                Bytes::new()
            },
            Bytes::from,
        );
        Ok(Self {
            name,
            id: id.to_owned(),
            version: version.to_owned(),
            metadata,
            description: spec.description.to_string(),
            started: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
            endpoints,
            counters: spec.methods.iter().map(|_| Counters::default()).collect(),
            metrics: observe::method_metrics("server", spec),
            schema_subject,
            schema,
        })
    }

    /// Counts one request of `method`, received at `received`, finished now.
    pub(super) fn record(&self, method: usize, received: Instant, error: Option<&Status>) {
        let took = received.elapsed();
        if let Some(m) = self.metrics.get(method) {
            m.handled(error.map(Status::code), took);
        }
        let Some(c) = self.counters.get(method) else {
            return;
        };
        c.requests.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // Saturates rather than wraps: summed over concurrent requests the
        // total passes u64 nanoseconds (584 years) far sooner than that.
        let _ = c
            .processing
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |total| {
                Some(total.saturating_add(nanos))
            });
        if let Some(status) = error {
            c.errors.fetch_add(1, Ordering::Relaxed);
            *c.last_error.lock().unwrap_or_else(|e| e.into_inner()) = status.to_string();
        }
    }

    fn ping(&self) -> PingResponse {
        PingResponse {
            kind: PING_TYPE.to_owned(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: Some(self.metadata.clone()),
        }
    }

    fn info(&self) -> InfoResponse {
        InfoResponse {
            kind: INFO_TYPE.to_owned(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: Some(self.metadata.clone()),
            description: self.description.clone(),
            endpoints: self.endpoints.iter().flatten().cloned().collect(),
        }
    }

    fn stats(&self) -> StatsResponse {
        let endpoints = self
            .endpoints
            .iter()
            .zip(self.counters.iter())
            .filter_map(|(e, c)| {
                let e = e.as_ref()?;
                let requests = c.requests.load(Ordering::Relaxed);
                let total = c.processing.load(Ordering::Relaxed);
                Some(EndpointStats {
                    name: e.name.clone(),
                    subject: e.subject.clone(),
                    queue_group: e.queue_group.clone(),
                    num_requests: requests,
                    num_errors: c.errors.load(Ordering::Relaxed),
                    last_error: c
                        .last_error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone(),
                    processing_time: total,
                    average_processing_time: total.checked_div(requests).unwrap_or(0),
                })
            })
            .collect();
        StatsResponse {
            kind: STATS_TYPE.to_owned(),
            name: self.name.clone(),
            id: self.id.clone(),
            version: self.version.clone(),
            metadata: Some(self.metadata.clone()),
            started: self.started.clone(),
            endpoints,
        }
    }
}

/// Subscribes the nine discovery subjects of one service and its schema
/// subject (plain subscriptions: every instance answers); returns the
/// subscriptions and their subjects.
pub(super) async fn subscribe(
    nats: &async_nats::Client,
    stats: &ServiceStats,
) -> Result<(Vec<async_nats::Subscriber>, Vec<String>), ServeError> {
    let subjects = nrpc_wire::route::discovery_subjects(&stats.name, &stats.id)?;
    let mut subs = Vec::with_capacity(subjects.len());
    for subject in &subjects {
        let sub =
            nats.subscribe(subject.clone())
                .await
                .map_err(|source| ServeError::Subscribe {
                    subject: subject.clone(),
                    source,
                })?;
        subs.push(sub);
    }
    Ok((subs, subjects))
}

/// Answers discovery requests until `stop`.
pub(super) async fn respond(
    subs: Vec<async_nats::Subscriber>,
    stats: std::sync::Arc<ServiceStats>,
    nats: async_nats::Client,
    stop: CancellationToken,
) {
    let mut subs = futures::stream::select_all(subs);
    loop {
        let msg = tokio::select! {
            _ = stop.cancelled() => break,
            msg = subs.next() => msg,
        };
        let Some(msg) = msg else { break };
        let Some(reply) = msg.reply else { continue };
        let body = if *msg.subject == *stats.schema_subject {
            Ok(stats.schema.clone())
        } else {
            let verb = msg.subject.split('.').nth(1).unwrap_or_default();
            match verb {
                "PING" => serde_json::to_vec(&stats.ping()),
                "INFO" => serde_json::to_vec(&stats.info()),
                "STATS" => serde_json::to_vec(&stats.stats()),
                _ => continue,
            }
            .map(Bytes::from)
        };
        match body {
            Ok(body) => {
                if let Err(e) = nats.publish(reply, body).await {
                    tracing::warn!("nrpc: discovery reply not sent: {e}");
                }
            }
            Err(e) => tracing::warn!("nrpc: discovery reply not encoded: {e}"),
        }
    }
    for sub in subs.iter_mut() {
        let _ = sub.unsubscribe().await;
    }
}
