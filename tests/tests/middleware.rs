//! tower layers around a server's handlers: tower's own timeout and
//! concurrency limit, and a hand-written layer that reads what a call
//! carries and sees every outcome, panics included.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use nrpc_runtime::server::{Call, Reply};
use nrpc_runtime::{CallOptions, Code, Server, ServerHandle, Status};
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::greeter_server::GreeterServer;
use nrpc_tests::greeter::FailRequest;
use nrpc_tests::{connection, hello, nats_server, within, Event, NatsServer, TestGreeter};
use tokio::sync::{mpsc, Semaphore};

/// Serves a test greeter behind `configure`'s layers.
async fn serve_with(
    server: &NatsServer,
    configure: impl FnOnce(Server) -> Server,
) -> (ServerHandle, mpsc::UnboundedReceiver<Event>, Arc<Semaphore>) {
    let (greeter, events) = TestGreeter::new("layered");
    let gate = greeter.gate.clone();
    let builder =
        Server::builder(&connection(server).await).add_service(GreeterServer::new(greeter));
    let handle = configure(builder)
        .serve()
        .await
        .unwrap_or_else(|e| panic!("serve: {e}"));
    (handle, events, gate)
}

#[tokio::test]
async fn tower_timeout_ends_slow_handlers_with_deadline_exceeded() {
    let server = nats_server();
    let (_h, mut events, gate) = serve_with(&server, |s| {
        s.layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(
            100,
        )))
    })
    .await;
    let client = GreeterClient::new(connection(&server).await);
    let err = within("slow call", client.say_hello(&hello("wait")))
        .await
        .unwrap_err();
    let status = err.status().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert_eq!(events.recv().await, Some(Event::Started("wait".into())));
    // Fast calls pass.
    let ok = within("fast call", client.say_hello(&hello("quick"))).await;
    assert_eq!(ok.unwrap().message, "Hello, quick");
    gate.add_permits(1);
}

#[tokio::test]
async fn tower_concurrency_limit_queues_calls_beyond_it() {
    let server = nats_server();
    let (handle, mut events, gate) = serve_with(&server, |s| {
        s.layer(tower::limit::ConcurrencyLimitLayer::new(1))
    })
    .await;
    let client = GreeterClient::new(connection(&server).await);
    let first = tokio::spawn({
        let c = client.clone();
        async move { c.say_hello(&hello("wait-1")).await }
    });
    assert_eq!(
        within("first starts", events.recv()).await,
        Some(Event::Started("wait-1".into()))
    );
    let second = tokio::spawn({
        let c = client.clone();
        async move { c.say_hello(&hello("wait-2")).await }
    });
    // Both calls are at the server, one in its handler, one held by the limit.
    within("second arrives", async {
        while handle.in_flight() < 2 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(
        events.try_recv().is_err(),
        "the second handler started early"
    );
    gate.add_permits(1);
    assert_eq!(
        within("first", first).await.unwrap().unwrap().message,
        "Hello, wait-1"
    );
    assert_eq!(
        within("second starts", events.recv()).await,
        Some(Event::Started("wait-2".into()))
    );
    gate.add_permits(1);
    assert_eq!(
        within("second", second).await.unwrap().unwrap().message,
        "Hello, wait-2"
    );
}

/// What the audit layer saw of one call.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    method: &'static str,
    subject: String,
    tenant: Option<String>,
    request_id: Option<String>,
    has_deadline: bool,
    outcome: Result<(), Code>,
}

/// A hand-written layer: records every call and its outcome, and stamps
/// replies with a header.
#[derive(Clone)]
struct Audit(Arc<Mutex<Vec<Seen>>>);

impl<S> tower::Layer<S> for Audit {
    type Service = AuditService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuditService {
            inner,
            log: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct AuditService<S> {
    inner: S,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl<S> tower::Service<Call> for AuditService<S>
where
    S: tower::Service<Call, Response = Reply, Error = Status> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Reply;
    type Error = Status;
    type Future = BoxFuture<'static, Result<Reply, Status>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        let seen = Seen {
            method: call.method(),
            subject: call.subject().to_owned(),
            tenant: call.metadata().get("Tenant").map(|v| v.to_string()),
            request_id: call.request_id().map(str::to_owned),
            has_deadline: call.deadline().is_some(),
            outcome: Ok(()),
        };
        let log = self.log.clone();
        let fut = self.inner.call(call);
        Box::pin(async move {
            let result = fut.await;
            let outcome = result.as_ref().map(|_| ()).map_err(Status::code);
            log.lock().unwrap().push(Seen { outcome, ..seen });
            result.map(|mut reply| {
                reply.metadata_mut().insert("Audited", "yes");
                reply
            })
        })
    }
}

#[tokio::test]
async fn a_layer_sees_each_call_and_its_status_panics_included() {
    let server = nats_server();
    let log = Arc::new(Mutex::new(Vec::new()));
    let audit = Audit(log.clone());
    let (_h, _events, _gate) = serve_with(&server, |s| s.layer(audit)).await;
    let client = GreeterClient::new(connection(&server).await);

    let reply = within(
        "ok",
        client.say_hello_with(
            &hello("a"),
            CallOptions::new()
                .header("Tenant", "acme")
                .timeout(Duration::from_secs(9)),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        reply.metadata().get("Audited").map(|v| v.as_str()),
        Some("yes")
    );

    let failed = within(
        "fail",
        client.fail(&FailRequest {
            code: 5,
            message: "gone".into(),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(failed.status().map(Status::code), Some(Code::NotFound));

    // A panic is an INTERNAL status for the layer and the caller; the
    // caller does not get the panic's message.
    let panicked = within("panic", client.say_hello(&hello("panic")))
        .await
        .unwrap_err();
    let status = panicked.status().unwrap_or_else(|| panic!("{panicked:?}"));
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "handler panicked");

    let seen = log.lock().unwrap().clone();
    let outcomes: Vec<_> = seen.iter().map(|s| (s.method, s.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            ("SayHello", Ok(())),
            ("Fail", Err(Code::NotFound)),
            ("SayHello", Err(Code::Internal)),
        ]
    );
    assert_eq!(seen[0].tenant.as_deref(), Some("acme"));
    assert_eq!(seen[0].subject, "demo.Greeter.SayHello");
    // A timeout the caller set travels; the built-in default does not.
    assert!(seen[0].has_deadline);
    assert!(!seen[1].has_deadline);
    // Nobody records this process's spans, so calls carry no request id
    // unless the caller gives one (tests/tests/observability.rs has the
    // recorded case).
    assert!(seen.iter().all(|s| s.request_id.is_none()), "{seen:?}");
    let options = CallOptions::new().header("Nrpc-Request-Id", "order-42");
    within("with id", client.say_hello_with(&hello("b"), options))
        .await
        .unwrap();
    let last = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.request_id.as_deref(), Some("order-42"));
}

#[tokio::test]
async fn panic_messages_reach_the_caller_only_when_the_server_says() {
    let server = nats_server();
    let (_h, _events, _gate) = serve_with(&server, |s| s.send_panic_messages(true)).await;
    let client = GreeterClient::new(connection(&server).await);
    let err = within("panic", client.say_hello(&hello("panic")))
        .await
        .unwrap_err();
    let status = err.status().unwrap_or_else(|| panic!("{err:?}"));
    assert_eq!(status.message(), "handler panicked: asked to panic");
}

#[tokio::test]
async fn interceptors_add_headers_or_refuse_calls_before_sending() {
    let server = nats_server();
    let (_h, mut events, _gate) = serve_with(&server, |s| s).await;
    let conn = connection(&server)
        .await
        .with_interceptor(|call| call.set_header("Tenant", "acme"))
        .with_interceptor(|call| match call.method() {
            "Fail" => Err(Status::permission_denied("Fail is not for this client")),
            _ => Ok(()),
        });
    let client = GreeterClient::new(conn);
    let reply = within(
        "call",
        client.say_hello_with(&hello("i"), CallOptions::new()),
    )
    .await
    .unwrap();
    assert_eq!(
        reply.metadata().get("Tenant-Echo").map(|v| v.as_str()),
        Some("acme")
    );
    assert_eq!(events.recv().await, Some(Event::Started("i".into())));
    let err = within(
        "refused",
        client.fail(&FailRequest {
            code: 5,
            message: "x".into(),
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // An interceptor's invalid header is an error, not a panic.
    let bad = GreeterClient::new(
        connection(&server)
            .await
            .with_interceptor(|call| call.set_header("Bad Name", "v")),
    );
    let err = within("bad header", bad.say_hello(&hello("never")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert!(
        events.try_recv().is_err(),
        "a refused call reached the server"
    );
}

/// Errors `method` has answered so far, from `$SRV.STATS`.
async fn errors_of(discovery: &nrpc_runtime::discovery::Discovery, method: &str) -> u64 {
    let stats = discovery.stats(Some("greeter_v1_Greeter")).await.unwrap();
    stats
        .iter()
        .flat_map(|s| &s.endpoints)
        .filter(|e| e.name == method)
        .map(|e| e.num_errors)
        .sum()
}

#[tokio::test]
async fn idempotent_methods_are_retried_while_the_server_is_too_busy() {
    let server = nats_server();
    let (_h, mut events, gate) = serve_with(&server, |s| s.max_concurrent_requests(1)).await;
    let plain = GreeterClient::new(connection(&server).await);
    let policy = nrpc_runtime::RetryPolicy::new()
        .max_attempts(1000)
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .idempotent("greeter.v1.Greeter", "SayHello");
    let retrying = GreeterClient::new(connection(&server).await.with_retry(policy))
        .with_timeout(Duration::from_secs(60));
    // One call holds the server's only slot.
    let holder = tokio::spawn({
        let c = plain.clone();
        async move { c.say_hello(&hello("wait-hold")).await }
    });
    assert_eq!(
        within("holder starts", events.recv()).await,
        Some(Event::Started("wait-hold".into()))
    );
    // Without a policy the caller sees SERVERTOOBUSY at once.
    let err = within("busy", plain.say_hello(&hello("busy")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    // With one, the call goes on trying; once the server has turned it
    // away (counted in its stats), the slot is freed and a retry lands.
    let retried = tokio::spawn(async move { retrying.say_hello(&hello("retried")).await });
    let discovery = nrpc_runtime::discovery::Discovery::new(connection(&server).await);
    within("a retry was turned away", async {
        while errors_of(&discovery, "SayHello").await < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    gate.add_permits(1);
    assert_eq!(
        within("holder", holder).await.unwrap().unwrap().message,
        "Hello, wait-hold"
    );
    let reply = within("retried", retried).await.unwrap();
    assert_eq!(reply.unwrap().message, "Hello, retried");
    // The handler ran once: the turned-away attempts never reached it.
    assert_eq!(events.recv().await, Some(Event::Started("retried".into())));
    assert!(events.try_recv().is_err());
}

#[tokio::test]
async fn retries_end_at_the_deadline_and_skip_methods_not_marked() {
    let server = nats_server();
    let (_h, mut events, gate) = serve_with(&server, |s| s.max_concurrent_requests(1)).await;
    let policy = nrpc_runtime::RetryPolicy::new()
        .max_attempts(1000)
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .idempotent("greeter.v1.Greeter", "SayHello");
    let conn = connection(&server).await.with_retry(policy);
    let client = GreeterClient::new(conn).with_timeout(Duration::from_millis(300));
    let holder = tokio::spawn({
        let c = GreeterClient::new(connection(&server).await);
        async move { c.say_hello(&hello("wait-hold")).await }
    });
    assert_eq!(
        within("holder starts", events.recv()).await,
        Some(Event::Started("wait-hold".into()))
    );
    // Busy for good: the retries stop within the call's deadline, with the
    // last failure (or a timeout, if the deadline passed during an attempt).
    let err = within("deadline", client.say_hello(&hello("busy")))
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::Unavailable | Code::DeadlineExceeded),
        "{err:?}"
    );
    // Echo is not marked idempotent: one attempt.
    let echo = nrpc_tests::greeter::EchoMessage { payload: vec![1] };
    let err = within("echo", client.echo(&echo)).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let discovery = nrpc_runtime::discovery::Discovery::new(connection(&server).await);
    assert_eq!(errors_of(&discovery, "Echo").await, 1);
    assert!(errors_of(&discovery, "SayHello").await > 1);
    gate.add_permits(1);
    within("holder", holder).await.unwrap().unwrap();
}
