//! The audit log: one line per call, once it has ended (its response body
//! sent or abandoned), on the `nrpc_gateway::audit` tracing target — who
//! (the verified subject, else `-`), from where, which method, the outcome
//! (HTTP status, and the gRPC status code for gRPC calls) and how long.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::response::Response;
use bytes::Bytes;
use http_body::Frame;

/// Who called, as the call learns it (filled in once credentials are
/// verified).
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller(Arc<Mutex<Option<String>>>);

impl Caller {
    pub(crate) fn set(&self, subject: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(subject.to_owned());
    }

    fn get(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .unwrap_or_else(|| "-".to_owned())
    }
}

/// One call being audited.
#[derive(Debug)]
struct Record {
    method: String,
    peer: String,
    caller: Caller,
    started: Instant,
    http: u16,
    grpc: Option<String>,
}

impl Drop for Record {
    fn drop(&mut self) {
        tracing::info!(
            target: "nrpc_gateway::audit",
            caller = %self.caller.get(),
            peer = %self.peer,
            method = %self.method,
            http_status = self.http,
            grpc_status = self.grpc.as_deref().unwrap_or("-"),
            duration_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "call"
        );
    }
}

/// Starts the record of a call of `method` (`/<package.Service>/<Method>`)
/// from `peer`; returns the slot the call fills with its caller.
pub(crate) fn start(method: &str, peer: Option<std::net::IpAddr>) -> (Caller, Pending) {
    let caller = Caller::default();
    let pending = Pending {
        method: method.to_owned(),
        peer: peer.map_or_else(|| "-".to_owned(), |p| p.to_string()),
        caller: caller.clone(),
        started: Instant::now(),
    };
    (caller, pending)
}

/// A call whose response is not out yet.
#[derive(Debug)]
pub(crate) struct Pending {
    method: String,
    peer: String,
    caller: Caller,
    started: Instant,
}

impl Pending {
    /// The response, logged when its body has been sent or dropped.
    pub(crate) fn finish(self, response: Response) -> Response {
        let grpc = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let record = Record {
            method: self.method,
            peer: self.peer,
            caller: self.caller,
            started: self.started,
            http: response.status().as_u16(),
            grpc,
        };
        // Logged when the body is done with (the record is dropped).
        response.map(|body| crate::tap::tap(body, record))
    }
}

impl crate::tap::Tap for Record {
    /// gRPC's outcome comes last, in the trailers.
    fn frame(&mut self, frame: &Frame<Bytes>) -> Result<(), axum::Error> {
        if let Some(status) = frame
            .trailers_ref()
            .and_then(|t| t.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
        {
            self.grpc = Some(status.to_owned());
        }
        Ok(())
    }
}
