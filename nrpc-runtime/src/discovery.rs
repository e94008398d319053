//! NATS services (ADR-32) discovery: the `$SRV.PING|INFO|STATS` replies
//! every nrpc server sends, and a client that lists services, instances,
//! endpoints and stats. The `nats micro` tooling reads the same replies.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use nrpc_wire::route::{self, Verb};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::client::router::{Deadline, Outgoing, MANY_CAPACITY};
use crate::client::{CallError, Connection};
use crate::schema::{SchemaResponse, SCHEMA_METADATA};

/// `type` of a PING reply.
pub const PING_TYPE: &str = "io.nats.micro.v1.ping_response";
/// `type` of an INFO reply.
pub const INFO_TYPE: &str = "io.nats.micro.v1.info_response";
/// `type` of a STATS reply.
pub const STATS_TYPE: &str = "io.nats.micro.v1.stats_response";

/// A PING reply: who is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PingResponse {
    /// Always [`PING_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name, shared by all instances.
    pub name: String,
    /// This instance's id (use it for direct calls).
    pub id: String,
    /// Service version.
    pub version: String,
    /// Service metadata.
    pub metadata: Option<BTreeMap<String, String>>,
}

/// One endpoint (method) in an INFO reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Endpoint name: the method name.
    pub name: String,
    /// The subject it listens on, `*` for each subject parameter.
    pub subject: String,
    /// The queue group, if the instance joined one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_group: Option<String>,
    /// Endpoint metadata (`nrpc.kind`, `nrpc.polling`).
    pub metadata: Option<BTreeMap<String, String>>,
}

/// An INFO reply: what an instance serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InfoResponse {
    /// Always [`INFO_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Service version.
    pub version: String,
    /// Service metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// Description (from the proto or trait comments).
    pub description: String,
    /// One per method.
    pub endpoints: Vec<EndpointInfo>,
}

/// One endpoint in a STATS reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// Endpoint name.
    pub name: String,
    /// Subject.
    pub subject: String,
    /// Queue group, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_group: Option<String>,
    /// Requests received.
    pub num_requests: u64,
    /// Requests answered with an error (or dropped at their deadline).
    pub num_errors: u64,
    /// The last error's text, `""` if none.
    pub last_error: String,
    /// Total time from receipt to reply, in nanoseconds.
    pub processing_time: u64,
    /// `processing_time / num_requests`, in nanoseconds.
    pub average_processing_time: u64,
}

/// A STATS reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsResponse {
    /// Always [`STATS_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Service version.
    pub version: String,
    /// Service metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// When the instance started, RFC 3339 UTC.
    pub started: String,
    /// One per method.
    pub endpoints: Vec<EndpointStats>,
}

/// How long discovery waits for one more reply (the NATS CLI waits 300 ms).
pub const DEFAULT_IDLE_GAP: Duration = Duration::from_millis(300);

/// Asks the NATS services discovery subjects who is there.
///
/// ```no_run
/// # async fn demo(conn: nrpc_runtime::Connection) -> Result<(), nrpc_runtime::CallError> {
/// let discovery = nrpc_runtime::discovery::Discovery::new(conn);
/// for info in discovery.info(Some("greeter_v1_Greeter")).await? {
///     println!("{} {} serves {} endpoints", info.name, info.id, info.endpoints.len());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Discovery {
    conn: Connection,
    idle_gap: Duration,
    timeout: Duration,
}

impl Discovery {
    /// Discovery over `conn`, waiting [`DEFAULT_IDLE_GAP`] for more replies
    /// and 5 s at most.
    pub fn new(conn: Connection) -> Self {
        Self {
            conn,
            idle_gap: DEFAULT_IDLE_GAP,
            timeout: Duration::from_secs(5),
        }
    }

    /// Stop collecting after this long without a reply.
    pub fn with_idle_gap(mut self, gap: Duration) -> Self {
        self.idle_gap = gap;
        self
    }

    /// Stop collecting after this long in all.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn collect<T: serde::de::DeserializeOwned>(
        &self,
        verb: Verb,
        name: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<T>, CallError> {
        let subject = route::discovery_subject(verb, name, id)?;
        let out = Outgoing {
            subject: subject.into(),
            headers: None,
            payload: Bytes::new(),
            deadline: Deadline::after(self.timeout),
        };
        let deadline = out.deadline.at;
        let mut replies = self.conn.request_many(out, MANY_CAPACITY).await?;
        let mut out = Vec::new();
        loop {
            let wait = deadline.min(Instant::now() + self.idle_gap);
            let Ok(Some(msg)) = tokio::time::timeout_at(wait, replies.rx.recv()).await else {
                break;
            };
            if msg.status.is_some() {
                break; // 503: nobody serves discovery here
            }
            match serde_json::from_slice(&msg.payload) {
                Ok(v) => out.push(v),
                Err(e) => {
                    tracing::debug!("nrpc: ignoring undecodable {} reply: {e}", verb.as_str())
                }
            }
        }
        Ok(out)
    }

    /// PING every instance (of `name`, if given).
    pub async fn ping(&self, name: Option<&str>) -> Result<Vec<PingResponse>, CallError> {
        self.collect(Verb::Ping, name, None).await
    }

    /// INFO of every instance (of `name`, if given).
    pub async fn info(&self, name: Option<&str>) -> Result<Vec<InfoResponse>, CallError> {
        self.collect(Verb::Info, name, None).await
    }

    /// STATS of every instance (of `name`, if given).
    pub async fn stats(&self, name: Option<&str>) -> Result<Vec<StatsResponse>, CallError> {
        self.collect(Verb::Stats, name, None).await
    }

    /// STATS of one instance.
    pub async fn instance_stats(
        &self,
        name: &str,
        id: &str,
    ) -> Result<Option<StatsResponse>, CallError> {
        Ok(self
            .collect(Verb::Stats, Some(name), Some(id))
            .await?
            .into_iter()
            .next())
    }

    /// The schema an instance publishes (see [`crate::schema`]), asked for
    /// on the subject its INFO names; `None` if it names none (not an nrpc
    /// server, or one from before schemas) or does not answer in time.
    pub async fn schema(&self, info: &InfoResponse) -> Result<Option<SchemaResponse>, CallError> {
        let Some(subject) = info.metadata.as_ref().and_then(|m| m.get(SCHEMA_METADATA)) else {
            return Ok(None);
        };
        nrpc_wire::subject::validate_literal("schema subject", subject)?;
        let out = Outgoing {
            subject: subject.clone().into(),
            headers: None,
            payload: Bytes::new(),
            deadline: Deadline::after(self.timeout),
        };
        let msg = match self.conn.request(out).await {
            Ok(msg) => msg,
            Err(CallError::Timeout(_) | CallError::NoResponders { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(serde_json::from_slice(&msg.payload)
            .inspect_err(|e| tracing::debug!("nrpc: ignoring undecodable schema reply: {e}"))
            .ok())
    }
}

pub use route::service_name;
