//! What a user's tracing, OpenTelemetry and metrics pipelines receive:
//! a span per call on both sides with the same request id, one trace
//! across client → broker → server, failures logged by severity, and
//! per-method counters, histograms and gauges. One process-wide tracing
//! subscriber and metrics recorder serve every test here; each test looks
//! only at its own calls (by request id or by service).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use nrpc_runtime::{CallOptions, Code};
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::{EchoMessage, FailRequest};
use nrpc_tests::{connection, hello, nats_server, serve_greeter, within};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Fields of one closed span, and log events with their level.
#[derive(Debug, Clone, Default)]
struct Captured {
    spans: Vec<(String, HashMap<String, String>)>,
    events: Vec<(tracing::Level, String, HashMap<String, String>)>,
}

#[derive(Default)]
struct Fields(HashMap<String, String>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// A tracing layer that keeps spans (with their fields, once closed) and
/// events (with the fields of the span they happened in).
struct Capture(Arc<Mutex<Captured>>);

impl<S> Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(fields) = span.extensions_mut().get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or_default();
        let scope = ctx
            .event_span(event)
            .and_then(|s| s.extensions().get::<Fields>().map(|f| f.0.clone()))
            .unwrap_or_default();
        let level = *event.metadata().level();
        self.0.lock().unwrap().events.push((level, message, scope));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let fields = span
                .extensions()
                .get::<Fields>()
                .map(|f| f.0.clone())
                .unwrap_or_default();
            self.0
                .lock()
                .unwrap()
                .spans
                .push((span.name().to_owned(), fields));
        }
    }
}

struct Pipelines {
    captured: Arc<Mutex<Captured>>,
    otel: InMemorySpanExporter,
    provider: SdkTracerProvider,
    metrics: Snapshotter,
}

/// Installs, once per process: the capture layer and OpenTelemetry (an
/// in-memory exporter, W3C propagation) as the global tracing subscriber,
/// and a debugging metrics recorder.
fn pipelines() -> &'static Pipelines {
    static P: OnceLock<Pipelines> = OnceLock::new();
    P.get_or_init(|| {
        let captured = Arc::new(Mutex::new(Captured::default()));
        let otel = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(otel.clone())
            .build();
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let subscriber = tracing_subscriber::registry()
            .with(Capture(captured.clone()))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("nrpc-tests")));
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        let recorder = DebuggingRecorder::new();
        let metrics = recorder.snapshotter();
        recorder.install().expect("one recorder");
        Pipelines {
            captured,
            otel,
            provider,
            metrics,
        }
    })
}

fn spans_with(request_id: &str) -> Vec<(String, HashMap<String, String>)> {
    let captured = pipelines().captured.lock().unwrap();
    captured
        .spans
        .iter()
        .filter(|(_, f)| f.get("nrpc.request_id").map(String::as_str) == Some(request_id))
        .cloned()
        .collect()
}

#[tokio::test]
async fn both_sides_have_a_span_with_the_same_request_id_and_the_outcome() {
    pipelines();
    let server = nats_server();
    let (handle, _events, _gate) = serve_greeter(&server, "spans").await;
    let client = GreeterClient::new(connection(&server).await);
    let ok = CallOptions::new().header("Nrpc-Request-Id", "req-ok-1");
    within("ok", client.say_hello_with(&hello("a"), ok))
        .await
        .unwrap();
    // Echo is the metrics test's; this one calls SayHello without an id.
    within("no id", client.say_hello(&hello("no id")))
        .await
        .unwrap();
    let fail = CallOptions::new().header("Nrpc-Request-Id", "req-fail-1");
    let err = within(
        "fail",
        client.fail_with(
            &FailRequest {
                code: 5,
                message: "no such order".into(),
            },
            fail,
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Server spans close when the handler's task ends; shut down to be sure.
    handle.shutdown().await;

    let ok = spans_with("req-ok-1");
    let names: Vec<&str> = ok.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"nrpc.client") && names.contains(&"nrpc.server"),
        "{ok:?}"
    );
    for (name, f) in &ok {
        assert_eq!(f["rpc.service"], "greeter.v1.Greeter", "{name}");
        assert_eq!(f["rpc.method"], "SayHello", "{name}");
        assert_eq!(f["nrpc.code"], "OK", "{name}");
        assert!(f.contains_key("nrpc.duration_us"), "{name}: {f:?}");
    }
    let server_span = &ok.iter().find(|(n, _)| n == "nrpc.server").unwrap().1;
    assert_eq!(server_span["nats.subject"], "demo.Greeter.SayHello");
    assert_eq!(server_span["nrpc.instance"], handle_instance(server_span));

    // Without an id of the caller's, a recorded call gets a fresh one,
    // the same on both sides.
    let generated: Vec<String> = {
        let captured = pipelines().captured.lock().unwrap();
        captured
            .spans
            .iter()
            .filter(|(n, f)| {
                n == "nrpc.client"
                    && f.get("rpc.method").map(String::as_str) == Some("SayHello")
                    && f.get("nrpc.request_id")
                        .is_some_and(|id| !id.starts_with("req-"))
            })
            .filter_map(|(_, f)| f.get("nrpc.request_id").cloned())
            .collect()
    };
    assert!(!generated.is_empty());
    for id in &generated {
        assert_eq!(id.len(), 22, "{id}");
        let both: Vec<String> = spans_with(id).into_iter().map(|(n, _)| n).collect();
        assert!(both.contains(&"nrpc.server".to_owned()), "{id}: {both:?}");
    }

    let failed = spans_with("req-fail-1");
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.iter().all(|(_, f)| f["nrpc.code"] == "NOT_FOUND"));
    // The caller's mistake is logged at debug level, in the server's span.
    let captured = pipelines().captured.lock().unwrap().clone();
    let logged = captured.events.iter().find(|(_, message, scope)| {
        scope.get("nrpc.request_id").map(String::as_str) == Some("req-fail-1")
            && message.contains("no such order")
    });
    let (level, _, _) = logged.unwrap_or_else(|| panic!("not logged: {:?}", captured.events));
    assert_eq!(*level, tracing::Level::DEBUG);
}

/// The instance recorded in a server span (any non-empty id will do).
fn handle_instance(span: &HashMap<String, String>) -> String {
    let id = span["nrpc.instance"].clone();
    assert!(!id.is_empty());
    id
}

#[tokio::test]
async fn a_panic_is_logged_as_an_error_with_its_message() {
    pipelines();
    let server = nats_server();
    let (_handle, _events, _gate) = serve_greeter(&server, "panics").await;
    let client = GreeterClient::new(connection(&server).await);
    let options = CallOptions::new().header("Nrpc-Request-Id", "req-panic-1");
    let err = within("panic", client.say_hello_with(&hello("panic"), options))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    let captured = pipelines().captured.lock().unwrap().clone();
    let errors: Vec<&String> = captured
        .events
        .iter()
        .filter(|(level, _, scope)| {
            *level == tracing::Level::ERROR
                && scope.get("nrpc.request_id").map(String::as_str) == Some("req-panic-1")
        })
        .map(|(_, m, _)| m)
        .collect();
    assert!(
        errors.iter().any(|m| m.contains("asked to panic")),
        "{errors:?}"
    );
}

/// The exported client and server spans of the call with `request_id`.
fn client_and_server<'a>(
    spans: &'a [opentelemetry_sdk::trace::SpanData],
    request_id: &str,
) -> (
    &'a opentelemetry_sdk::trace::SpanData,
    &'a opentelemetry_sdk::trace::SpanData,
) {
    let with_id = |name: &str| {
        spans
            .iter()
            .find(|s| {
                s.name == name
                    && s.attributes.iter().any(|kv| {
                        kv.key.as_str() == "nrpc.request_id" && kv.value.as_str() == request_id
                    })
            })
            .unwrap_or_else(|| panic!("no {name} span"))
    };
    (with_id("nrpc.client"), with_id("nrpc.server"))
}

#[tokio::test]
async fn one_trace_crosses_client_broker_and_server() {
    let p = pipelines();
    let server = nats_server();
    let (handle, _events, _gate) = serve_greeter(&server, "otel").await;
    let client = GreeterClient::new(connection(&server).await);
    let checkout = tracing::info_span!("checkout");
    let options = CallOptions::new().header("Nrpc-Request-Id", "req-otel-1");
    let request = hello("t");
    let call = tracing::Instrument::instrument(client.say_hello_with(&request, options), checkout);
    within("traced call", call).await.unwrap();
    handle.shutdown().await;
    p.provider.force_flush().unwrap();
    let spans = p.otel.get_finished_spans().unwrap();
    let (client_span, server_span) = client_and_server(&spans, "req-otel-1");
    let root = spans
        .iter()
        .find(|s| s.name == "checkout")
        .expect("checkout span");
    let trace = root.span_context.trace_id();
    assert_eq!(client_span.span_context.trace_id(), trace);
    assert_eq!(client_span.parent_span_id, root.span_context.span_id());
    // The server's span continues the caller's trace through the
    // traceparent header.
    assert_eq!(server_span.span_context.trace_id(), trace);
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
    assert!(server_span.parent_span_is_remote);
}

/// Sends mail; tells the test.
struct TracedMailer(tokio::sync::mpsc::UnboundedSender<String>);

impl nrpc_tests::jobs::mailer_server::Mailer for TracedMailer {
    async fn send(
        &self,
        request: nrpc_runtime::Request<nrpc_tests::jobs::Email>,
    ) -> Result<(), nrpc_runtime::Status> {
        let _ = self.0.send(request.into_inner().id);
        Ok(())
    }

    async fn ping(
        &self,
        _: nrpc_runtime::Request<nrpc_tests::jobs::Email>,
    ) -> Result<(), nrpc_runtime::Status> {
        Ok(())
    }
}

/// A durable command's trace continues across the stored message: the
/// publisher's span context is kept in the message's headers, and the
/// span of the server that handles it from the stream is its child.
#[tokio::test]
async fn one_trace_crosses_a_stored_durable_command() {
    use nrpc_tests::jobs::mailer_client::MailerClient;
    use nrpc_tests::jobs::mailer_server::MailerServer;
    let p = pipelines();
    let server = nats_harness::NatsServer::start_jetstream().unwrap();
    let conn = connection(&server).await;
    let client = MailerClient::new(conn.clone());
    let enqueue = tracing::info_span!("enqueue");
    let options = CallOptions::new().header("Nrpc-Request-Id", "req-durable-1");
    let email = nrpc_tests::jobs::Email {
        id: "m-1".into(),
        to: "ada".into(),
        subject: "hi".into(),
    };
    // Stored while no server runs; handled later.
    let publish = tracing::Instrument::instrument(client.send_with(&email, options), enqueue);
    within("the durable publish", publish).await.unwrap();
    let (tx, mut handled) = tokio::sync::mpsc::unbounded_channel();
    let handle = nrpc_runtime::Server::builder(&conn)
        .add_service(MailerServer::new(TracedMailer(tx)))
        .serve()
        .await
        .unwrap();
    assert_eq!(within("the command", handled.recv()).await.unwrap(), "m-1");
    handle.shutdown().await;
    p.provider.force_flush().unwrap();
    let spans = p.otel.get_finished_spans().unwrap();
    let (client_span, server_span) = client_and_server(&spans, "req-durable-1");
    let root = spans
        .iter()
        .find(|s| s.name == "enqueue")
        .expect("enqueue span");
    assert_eq!(
        server_span.span_context.trace_id(),
        root.span_context.trace_id()
    );
    assert_eq!(
        server_span.parent_span_id,
        client_span.span_context.span_id()
    );
}

/// HTTP over NATS continues the caller's trace: the client span's context
/// travels as `traceparent` in the HTTP request (the handler sees it), and
/// the server's span is the client span's child, with the status.
#[tokio::test]
async fn one_trace_crosses_http_over_nats() {
    let p = pipelines();
    let server = nats_server();
    let conn = connection(&server).await;
    let app = axum::Router::new().route(
        "/trace",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            let seen = headers.get("traceparent").map(|v| v.to_str().unwrap());
            seen.unwrap_or("none").to_owned()
        }),
    );
    let served = nrpc_http::HttpServer::builder(&conn, "traced.nats")
        .unwrap()
        .serve(app)
        .await
        .unwrap();
    let client = nrpc_http::HttpClient::new(&connection(&server).await);
    let root = tracing::info_span!("http-checkout");
    let asking = tracing::Instrument::instrument(client.get("http://traced.nats/trace"), root);
    let reply = within("a traced request", asking).await.unwrap();
    assert_eq!(reply.status(), 200);
    served.shutdown(std::time::Duration::from_secs(5)).await;
    p.provider.force_flush().unwrap();

    let spans = p.otel.get_finished_spans().unwrap();
    let root = spans
        .iter()
        .find(|s| s.name == "http-checkout")
        .expect("the caller's span");
    let trace = root.span_context.trace_id();
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name && s.span_context.trace_id() == trace)
            .unwrap_or_else(|| panic!("no {name} span in the caller's trace"))
    };
    let (client, server) = (named("nrpc_http.client"), named("nrpc_http.server"));
    assert_eq!(client.parent_span_id, root.span_context.span_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert!(server.parent_span_is_remote);
    let seen = String::from_utf8_lossy(reply.body()).into_owned();
    assert_eq!(
        seen,
        format!("00-{}-{}-01", trace, client.span_context.span_id())
    );
    let status = |span: &opentelemetry_sdk::trace::SpanData| {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == "http.response.status_code")
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert_eq!(status(server).as_deref(), Some("200"));
    assert_eq!(status(client).as_deref(), Some("200"));
}

/// A caller's trace continues through the gateway: the HTTP caller's
/// `traceparent` is the parent of the gateway's span, whose nrpc client
/// span is the parent of the service's span — one trace, and the header the
/// gateway forwards does not compete with the one it sends.
#[tokio::test]
async fn one_trace_crosses_the_gateway() {
    let p = pipelines();
    let server = nats_server();
    let (handle, _events, _gate) = serve_greeter(&server, "gw-otel").await;
    let gateway = nrpc_tests::gateway(&server).await;

    let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let response = within(
        "a call through the gateway",
        reqwest::Client::new()
            .post(format!("{}/greeter.v1.Greeter/SayHello", gateway.url))
            .header("traceparent", format!("00-{trace}-{caller}-01"))
            .header("content-type", "application/json")
            .body(r#"{"name":"traced"}"#)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    handle.shutdown().await;
    p.provider.force_flush().unwrap();

    let trace = opentelemetry::trace::TraceId::from_hex(trace).unwrap();
    let spans = p.otel.get_finished_spans().unwrap();
    let named = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name && s.span_context.trace_id() == trace)
            .unwrap_or_else(|| panic!("no {name} span in the caller's trace"))
    };
    let (bridge, client, server) = (
        named("nrpc.gateway"),
        named("nrpc.client"),
        named("nrpc.server"),
    );
    assert_eq!(
        bridge.parent_span_id,
        opentelemetry::trace::SpanId::from_hex(caller).unwrap()
    );
    assert!(bridge.parent_span_is_remote);
    assert_eq!(client.parent_span_id, bridge.span_context.span_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert!(server.parent_span_is_remote);
}

fn counter(
    snapshot: &[(metrics_util::CompositeKey, DebugValue)],
    name: &str,
    labels: &[(&str, &str)],
) -> u64 {
    snapshot
        .iter()
        .find_map(|(key, value)| {
            let k = key.key();
            let matches = key.kind() == MetricKind::Counter
                && k.name() == name
                && labels
                    .iter()
                    .all(|(n, v)| k.labels().any(|l| l.key() == *n && l.value() == *v));
            match (matches, value) {
                (true, DebugValue::Counter(c)) => Some(*c),
                _ => None,
            }
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn per_method_metrics_on_both_sides() {
    // Echo and FAILED_PRECONDITION are this test's own: other tests in this
    // process share the recorder. Snapshots reset the recorder, so only
    // this test takes one.
    let p = pipelines();
    let server = nats_server();
    let (handle, _events, _gate) = serve_greeter(&server, "metrics").await;
    let client = GreeterClient::new(connection(&server).await);
    for text in ["a", "b", "c"] {
        let echo = EchoMessage {
            payload: text.into(),
        };
        within("ok", client.echo(&echo)).await.unwrap();
    }
    let err = within(
        "fail",
        client.fail(&FailRequest {
            code: 9,
            message: "x".into(),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    handle.shutdown().await;
    let snapshot: Vec<_> = p
        .metrics
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(k, _, _, v)| (k, v))
        .collect();
    let handled = |side: &str, method: &str, code: &str| {
        let name = format!("nrpc_{side}_handled_total");
        counter(
            &snapshot,
            &name,
            &[
                ("service", "greeter.v1.Greeter"),
                ("method", method),
                ("code", code),
            ],
        )
    };
    for side in ["client", "server"] {
        assert_eq!(handled(side, "Echo", "OK"), 3, "{side}");
        assert_eq!(handled(side, "Fail", "FAILED_PRECONDITION"), 1, "{side}");
        // Latencies are recorded per method; nothing is left in flight.
        let find = |name: String| {
            snapshot.iter().find_map(|(k, v)| {
                let key = k.key();
                (key.name() == name
                    && key
                        .labels()
                        .any(|l| l.key() == "method" && l.value() == "Echo"))
                .then_some(v)
            })
        };
        let histogram = find(format!("nrpc_{side}_request_duration_seconds"));
        assert!(
            matches!(histogram, Some(DebugValue::Histogram(h)) if h.len() == 3),
            "{side}: {histogram:?}"
        );
        let in_flight = find(format!("nrpc_{side}_in_flight_requests"));
        assert!(
            matches!(in_flight, Some(DebugValue::Gauge(g)) if g.0 == 0.0),
            "{side}: {in_flight:?}"
        );
    }
}

#[tokio::test]
async fn a_tracing_layer_logs_inside_the_server_span() {
    pipelines();
    let server = nats_server();
    let (greeter, _events) = nrpc_tests::TestGreeter::new("traced-layer");
    // The smallest tracing middleware: a log line per call, with the call's
    // method and subject, in the span nrpc opened for it.
    let trace = tower::util::MapRequestLayer::new(|call: nrpc_runtime::server::Call| {
        tracing::info!(
            method = call.method(),
            subject = call.subject(),
            "audit: call received"
        );
        call
    });
    let handle = nrpc_runtime::Server::builder(&nrpc_tests::connection(&server).await)
        .layer(trace)
        .add_service(nrpc_tests::greeter::greeter_server::GreeterServer::new(
            greeter,
        ))
        .serve()
        .await
        .unwrap();
    let client = GreeterClient::new(connection(&server).await);
    let options = CallOptions::new().header("Nrpc-Request-Id", "req-layer-1");
    within("call", client.say_hello_with(&hello("l"), options))
        .await
        .unwrap();
    handle.shutdown().await;
    let captured = pipelines().captured.lock().unwrap().clone();
    let audit = captured
        .events
        .iter()
        .find(|(_, m, scope)| {
            m == "audit: call received"
                && scope.get("nrpc.request_id").map(String::as_str) == Some("req-layer-1")
        })
        .unwrap_or_else(|| panic!("no audit line: {:?}", captured.events));
    assert_eq!(audit.2["rpc.method"], "SayHello");
}
