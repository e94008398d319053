//! What calls tell the outside, on both sides: a `tracing` span per call
//! (service, method, subject, request id, instance, status code,
//! duration), log lines for failed calls, the request id header, W3C
//! trace context in NATS headers (feature `opentelemetry`) and per-method
//! metrics (feature `metrics`). Spans cost a callsite check when no
//! subscriber listens; metrics handles are made once per method.

use async_nats::HeaderMap;
use nrpc_wire::{headers, Code, MethodSpec, ServiceSpec, Status};
use tracing::{field, Level, Span};

/// The request id a message carries, if any.
pub(crate) fn request_id_of(metadata: &HeaderMap) -> Option<&str> {
    crate::message::get(metadata, headers::REQUEST_ID)
}

/// The span of one call made by a client; its request id is recorded by
/// [`tag_request`].
pub(crate) fn client_span(spec: &ServiceSpec, method: &MethodSpec) -> Span {
    tracing::info_span!(
        "nrpc.client",
        otel.kind = "client",
        otel.status_code = field::Empty,
        rpc.system = "nrpc",
        rpc.service = &*spec.name,
        rpc.method = &*method.name,
        nrpc.request_id = field::Empty,
        nrpc.code = field::Empty,
        nrpc.duration_us = field::Empty,
    )
}

/// Gives a call its request id: the caller's own `Nrpc-Request-Id`, or,
/// when the call's span is recorded, a fresh NUID sent in that header. An
/// id nobody records is not worth a header per call (it costs both sides
/// a header to build and parse), so calls without a subscriber for their
/// spans carry none unless the caller set one.
pub(crate) fn tag_request(span: &Span, headers: &mut HeaderMap) {
    match request_id_of(headers) {
        Some(id) => {
            span.record("nrpc.request_id", id);
        }
        None if !span.is_disabled() => {
            let id = nuid::next().to_string();
            span.record("nrpc.request_id", id.as_str());
            headers.insert(headers::REQUEST_ID, id.as_str());
        }
        None => {}
    }
}

/// The span of one call a server handles.
pub(crate) fn server_span(
    spec: &ServiceSpec,
    method: &MethodSpec,
    subject: &str,
    instance: &str,
    request_id: Option<&str>,
) -> Span {
    tracing::info_span!(
        "nrpc.server",
        otel.kind = "server",
        otel.status_code = field::Empty,
        rpc.system = "nrpc",
        rpc.service = &*spec.name,
        rpc.method = &*method.name,
        nats.subject = subject,
        nrpc.instance = instance,
        nrpc.request_id = request_id,
        nrpc.code = field::Empty,
        nrpc.duration_us = field::Empty,
    )
}

/// A call's outcome as a code name: `OK`, or the status code's name.
pub(crate) fn code_name(code: Option<Code>) -> &'static str {
    code.map_or("OK", Code::as_str)
}

/// Records how a call that began at `started` ended (`None`: OK) on its
/// span; reads the clock only for a recorded span.
pub(crate) fn record(span: &Span, code: Option<Code>, started: tokio::time::Instant) {
    if span.is_disabled() {
        return;
    }
    span.record("nrpc.code", code_name(code));
    span.record("nrpc.duration_us", started.elapsed().as_micros() as u64);
    span.record(
        "otel.status_code",
        if code.is_none() { "OK" } else { "ERROR" },
    );
}

/// Logs a handler's error in its span: the server's own failures
/// (`INTERNAL`, `UNKNOWN`, `DATA_LOSS`) as errors, overload and expired
/// deadlines as warnings, the caller's mistakes (`NOT_FOUND`,
/// `INVALID_ARGUMENT`, …) at debug level.
pub(crate) fn log_failure(status: &Status) {
    match level(status.code()) {
        Level::ERROR => tracing::error!("nrpc: call failed: {status}"),
        Level::WARN => tracing::warn!("nrpc: call failed: {status}"),
        _ => tracing::debug!("nrpc: call failed: {status}"),
    }
}

fn level(code: Code) -> Level {
    match code {
        Code::Internal | Code::Unknown | Code::DataLoss => Level::ERROR,
        Code::Unavailable | Code::ResourceExhausted | Code::DeadlineExceeded | Code::Aborted => {
            Level::WARN
        }
        _ => Level::DEBUG,
    }
}

#[cfg(feature = "opentelemetry")]
mod otel {
    use async_nats::HeaderMap;
    use opentelemetry::propagation::{Extractor, Injector};
    use tracing::Span;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    struct Inject<'a>(&'a mut HeaderMap);

    impl Injector for Inject<'_> {
        fn set(&mut self, key: &str, value: String) {
            // Propagators write only valid header names and values; one
            // that does not is skipped rather than trusted.
            if let (Ok(name), Ok(value)) = (
                key.parse::<async_nats::HeaderName>(),
                value.parse::<async_nats::HeaderValue>(),
            ) {
                // One trace context per message: the same header in
                // another case (`Traceparent`, forwarded by a bridge from
                // its caller) gives way to this call's own.
                let other_case = |n: &async_nats::HeaderName| {
                    let n: &str = n.as_ref();
                    n != key && n.eq_ignore_ascii_case(key)
                };
                if self.0.iter().any(|(n, _)| other_case(n)) {
                    let mut kept = HeaderMap::new();
                    for (n, values) in self.0.iter().filter(|(n, _)| !other_case(n)) {
                        for v in values {
                            kept.append(n.clone(), v.clone());
                        }
                    }
                    *self.0 = kept;
                }
                self.0.insert(name, value);
            }
        }
    }

    struct Extract<'a>(&'a HeaderMap);

    impl Extractor for Extract<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            // NATS header names keep their case; W3C names are lower case.
            self.0.iter().find_map(|(name, values)| {
                let name: &str = name.as_ref();
                if name.eq_ignore_ascii_case(key) {
                    values.first().map(|v| v.as_str())
                } else {
                    None
                }
            })
        }

        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(name, _)| name.as_ref()).collect()
        }
    }

    /// Writes the span's trace context (`traceparent`, `tracestate`) into
    /// the request's headers, with the globally installed propagator.
    pub(crate) fn inject(span: &Span, headers: &mut Option<HeaderMap>) {
        let cx = span.context();
        let headers = headers.get_or_insert_with(HeaderMap::new);
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut Inject(headers))
        });
    }

    /// Makes the caller's trace context the parent of the server's span.
    pub(crate) fn extract(span: &Span, headers: &HeaderMap) {
        if span.is_disabled() {
            return;
        }
        let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Extract(headers)));
        let _ = span.set_parent(cx);
    }
}

/// Adds the client span's trace context to the request (feature
/// `opentelemetry`; otherwise nothing).
#[allow(unused_variables)]
pub(crate) fn inject(span: &Span, headers: &mut Option<HeaderMap>) {
    #[cfg(feature = "opentelemetry")]
    if !span.is_disabled() {
        otel::inject(span, headers);
    }
}

/// Links the server span to the caller's trace (feature `opentelemetry`).
#[allow(unused_variables)]
pub(crate) fn extract(span: &Span, headers: &HeaderMap) {
    #[cfg(feature = "opentelemetry")]
    if !span.is_disabled() && !headers.is_empty() {
        otel::extract(span, headers);
    }
}

pub(crate) use metrics_impl::MethodMetrics;

/// Per-method metrics through the `metrics` facade, with handles made
/// once: `nrpc_<side>_handled_total{service,method,code}`,
/// `nrpc_<side>_request_duration_seconds{service,method}` and
/// `nrpc_<side>_in_flight_requests{service,method}`, `<side>` being
/// `client` or `server`.
#[cfg(feature = "metrics")]
mod metrics_impl {
    use metrics::{Counter, Gauge, Histogram};
    use nrpc_wire::Code;

    /// The metrics of one method on one side.
    #[derive(Debug, Clone)]
    pub(crate) struct MethodMetrics {
        handled: Vec<Counter>,
        duration: Histogram,
        in_flight: Gauge,
    }

    impl MethodMetrics {
        pub(crate) fn new(side: &'static str, service: &str, method: &str) -> Self {
            let (service, method) = (service.to_owned(), method.to_owned());
            // Index 0 is OK, then the gRPC numbers.
            let handled = (0..=16)
                .map(|n| {
                    metrics::counter!(
                        format!("nrpc_{side}_handled_total"),
                        "service" => service.clone(),
                        "method" => method.clone(),
                        "code" => super::code_name(Code::from_i32(n))
                    )
                })
                .collect();
            Self {
                handled,
                duration: metrics::histogram!(
                    format!("nrpc_{side}_request_duration_seconds"),
                    "service" => service.clone(),
                    "method" => method.clone()
                ),
                in_flight: metrics::gauge!(
                    format!("nrpc_{side}_in_flight_requests"),
                    "service" => service,
                    "method" => method
                ),
            }
        }

        /// A call began (the in-flight gauge).
        pub(crate) fn started(&self) {
            self.in_flight.increment(1.0);
        }

        /// A call that [`started`](Self::started) is over.
        pub(crate) fn stopped(&self) {
            self.in_flight.decrement(1.0);
        }

        /// A call that took `took` ended with `code` (`None`: OK).
        pub(crate) fn handled(&self, code: Option<Code>, took: std::time::Duration) {
            let index = code.map_or(0, |c| c.as_i32() as usize);
            if let Some(c) = self.handled.get(index) {
                c.increment(1);
            }
            self.duration.record(took.as_secs_f64());
        }
    }
}

#[cfg(not(feature = "metrics"))]
mod metrics_impl {
    use nrpc_wire::Code;

    /// Without the `metrics` feature: nothing.
    #[derive(Debug, Clone)]
    pub(crate) struct MethodMetrics;

    impl MethodMetrics {
        pub(crate) fn new(_: &'static str, _: &str, _: &str) -> Self {
            Self
        }

        pub(crate) fn started(&self) {}

        pub(crate) fn stopped(&self) {}

        pub(crate) fn handled(&self, _: Option<Code>, _: std::time::Duration) {}
    }
}

/// The metrics of every method of `spec` on one side.
pub(crate) fn method_metrics(side: &'static str, spec: &ServiceSpec) -> Vec<MethodMetrics> {
    spec.methods
        .iter()
        .map(|m| MethodMetrics::new(side, &spec.name, &m.name))
        .collect()
}
