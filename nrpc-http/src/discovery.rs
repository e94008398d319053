//! An HTTP service in NATS services discovery (`$SRV.PING|INFO|STATS`), so
//! `nrpc ls`, `nats micro` and the gateway's console list it: named after
//! its host (`weather.nats` → `weather_nats`), one endpoint (its request
//! subject, queue group `nrt`), counters of requests, 5xx answers and
//! processing time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt;
use nrpc_runtime::async_nats;
use nrpc_runtime::discovery::{
    EndpointInfo, EndpointStats, InfoResponse, PingResponse, StatsResponse, INFO_TYPE, PING_TYPE,
    STATS_TYPE,
};
use tokio_util::sync::CancellationToken;

/// What an instance has answered.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    processing_ns: AtomicU64,
    last_error: Mutex<String>,
}

impl Counters {
    /// One request answered with `status` after `took`.
    pub(crate) fn count(&self, status: u16, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.processing_ns.fetch_add(ns, Ordering::Relaxed);
        if status >= 500 {
            self.errors.fetch_add(1, Ordering::Relaxed);
            *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = format!("HTTP {status}");
        }
    }
}

/// The identity an instance answers discovery with.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) host: String,
    pub(crate) subject: String,
    pub(crate) id: String,
    pub(crate) version: String,
}

impl Identity {
    fn name(&self) -> String {
        nrpc_wire::route::service_name(&self.host)
    }

    fn metadata(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("nrpc.service".to_owned(), self.host.clone()),
            ("nrpc.http.host".to_owned(), self.host.clone()),
        ])
    }

    fn endpoint(&self) -> EndpointInfo {
        EndpointInfo {
            name: "requests".to_owned(),
            subject: self.subject.clone(),
            queue_group: Some(crate::wire::QUEUE_GROUP.to_owned()),
            metadata: Some(BTreeMap::from([(
                "nrpc.kind".to_owned(),
                "http".to_owned(),
            )])),
        }
    }
}

/// Answers discovery for `identity` until `stop`; the subscriptions are in
/// place when this returns.
pub(crate) async fn answer(
    nats: async_nats::Client,
    identity: Identity,
    counters: Arc<Counters>,
    stop: CancellationToken,
) -> Result<(), String> {
    let subjects = nrpc_wire::route::discovery_subjects(&identity.name(), &identity.id)
        .map_err(|e| e.to_string())?;
    let mut asked = Vec::new();
    // The verbs' subjects; not the schema subject (HTTP services publish
    // none).
    for subject in subjects.into_iter().filter(|s| s.starts_with("$SRV.")) {
        asked.push(
            nats.subscribe(subject.clone())
                .await
                .map_err(|e| format!("subscribing to {subject}: {e}"))?,
        );
    }
    let started = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
    let mut asked = futures::stream::select_all(asked);
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => return,
                message = asked.next() => match message {
                    Some(message) => message,
                    None => return,
                },
            };
            let Some(reply) = message.reply else {
                continue;
            };
            let verb = message.subject.split('.').nth(1).unwrap_or_default();
            let answer = match verb {
                "PING" => serde_json::to_vec(&PingResponse {
                    kind: PING_TYPE.to_owned(),
                    name: identity.name(),
                    id: identity.id.clone(),
                    version: identity.version.clone(),
                    metadata: Some(identity.metadata()),
                }),
                "INFO" => serde_json::to_vec(&InfoResponse {
                    kind: INFO_TYPE.to_owned(),
                    name: identity.name(),
                    id: identity.id.clone(),
                    version: identity.version.clone(),
                    metadata: Some(identity.metadata()),
                    description: format!("HTTP over NATS: {}", identity.host),
                    endpoints: vec![identity.endpoint()],
                }),
                "STATS" => {
                    let requests = counters.requests.load(Ordering::Relaxed);
                    let processing = counters.processing_ns.load(Ordering::Relaxed);
                    let endpoint = identity.endpoint();
                    serde_json::to_vec(&StatsResponse {
                        kind: STATS_TYPE.to_owned(),
                        name: identity.name(),
                        id: identity.id.clone(),
                        version: identity.version.clone(),
                        metadata: Some(identity.metadata()),
                        started: started.clone(),
                        endpoints: vec![EndpointStats {
                            name: endpoint.name,
                            subject: endpoint.subject,
                            queue_group: endpoint.queue_group,
                            num_requests: requests,
                            num_errors: counters.errors.load(Ordering::Relaxed),
                            last_error: counters
                                .last_error
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .clone(),
                            processing_time: processing,
                            average_processing_time: processing.checked_div(requests).unwrap_or(0),
                        }],
                    })
                }
                _ => continue,
            };
            if let Ok(answer) = answer {
                let _ = nats.publish(reply, Bytes::from(answer)).await;
            }
        }
    });
    Ok(())
}
