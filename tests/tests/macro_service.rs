//! `#[nats_service]`: a service defined in Rust has the same client, server
//! and wire as the `.proto` path, in both directions.

use std::time::Duration;

use nrpc_runtime::{CallError, CallOptions, Code, Request, Response, Status};
use nrpc_tests::greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};
use nrpc_tests::{connection, hello, nats_server, serve, serve_greeter, within};

/// The greeter of `proto/greeter.proto`, defined in Rust.
mod rust_greeter {
    use nrpc_runtime::{nats_service, Status};
    pub use nrpc_tests::greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};

    /// Greets people.
    #[nats_service(package = "demo", proto_package = "rust.v1")]
    pub trait Greeter {
        /// Returns a greeting.
        async fn say_hello(&self, request: HelloRequest) -> Result<HelloReply, Status>;
        /// Fails with the status the caller asks for.
        async fn fail(&self, request: FailRequest) -> Result<(), Status>;
        /// Echoes the payload.
        async fn echo(&self, request: EchoMessage) -> Result<EchoMessage, Status>;
    }
}

/// Every option the macro takes.
mod rust_options {
    use nrpc_runtime::{nats_service, Status};
    pub use nrpc_tests::greeter::{HelloReply, HelloRequest};

    #[nats_service(
        package = "root.svc",
        package_params = ["instance"],
        service = "custom",
        service_params = ["clientid"],
        method_rule = "tolower",
        proto_package = "opts.v1"
    )]
    pub trait AllOptions {
        #[nrpc(params = ["mp1", "mp2"])]
        async fn with_params(&self) -> Result<HelloReply, Status>;
        #[nrpc(subject = "simple", poll)]
        async fn simple(&self, request: HelloRequest) -> Result<(), Status>;
        async fn Loud(&self, request: HelloRequest) -> Result<HelloReply, Status>;
    }
}

/// Broadcast, fire-and-forget and events, defined in Rust.
mod rust_fleet {
    use nrpc_runtime::{nats_service, Status};
    pub use nrpc_tests::greeter::{HelloReply, HelloRequest};

    #[nats_service(package = "fleet", proto_package = "fleet.v1")]
    pub trait Fleet {
        /// Every instance reports.
        #[nrpc(poll)]
        async fn health(&self) -> Result<HelloReply, Status>;
        /// Restart, no answer.
        #[nrpc(no_reply)]
        async fn restart(&self, request: HelloRequest) -> Result<(), Status>;
        /// Alerts the service publishes.
        #[nrpc(event)]
        async fn alerts(&self) -> Result<HelloReply, Status>;
        /// Streams `name` letter by letter.
        #[nrpc(stream)]
        async fn spell(&self, request: HelloRequest) -> Result<HelloReply, Status>;
        /// Counts the names streamed in.
        #[nrpc(client_stream)]
        async fn tally(&self, request: HelloRequest) -> Result<HelloReply, Status>;
        /// Greets every name streamed in.
        #[nrpc(client_stream, stream)]
        async fn greet_all(&self, request: HelloRequest) -> Result<HelloReply, Status>;
    }
}

struct Node {
    name: &'static str,
    restarts: tokio::sync::mpsc::UnboundedSender<String>,
}

impl rust_fleet::fleet_server::Fleet for Node {
    async fn health(&self, _: Request<()>) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(HelloReply {
            message: format!("{} ok", self.name),
        }))
    }

    async fn restart(&self, request: Request<HelloRequest>) -> Result<(), Status> {
        let _ = self.restarts.send(request.into_inner().name);
        Ok(())
    }

    async fn tally(
        &self,
        request: Request<nrpc_runtime::Streaming<HelloRequest>>,
    ) -> Result<Response<HelloReply>, Status> {
        use futures::StreamExt;
        let n = request.into_inner().count().await;
        Ok(Response::new(HelloReply {
            message: n.to_string(),
        }))
    }

    async fn greet_all(
        &self,
        request: Request<nrpc_runtime::Streaming<HelloRequest>>,
        sink: nrpc_runtime::Sink<HelloReply>,
    ) -> Result<(), Status> {
        use futures::StreamExt;
        let mut names = request.into_inner();
        while let Some(name) = names.next().await {
            sink.send(&HelloReply {
                message: format!("hi {}", name?.name),
            })
            .await?;
        }
        Ok(())
    }

    async fn spell(
        &self,
        request: Request<HelloRequest>,
        sink: nrpc_runtime::Sink<HelloReply>,
    ) -> Result<(), Status> {
        for c in request.into_inner().name.chars() {
            sink.send(&HelloReply {
                message: c.to_string(),
            })
            .await?;
        }
        Ok(())
    }
}

#[tokio::test]
async fn macro_services_broadcast_send_and_publish_events() {
    use futures::StreamExt;
    let server = nats_server();
    let (tx, mut restarts) = tokio::sync::mpsc::unbounded_channel();
    let _a = serve(
        &server,
        rust_fleet::fleet_server::FleetServer::new(Node {
            name: "a",
            restarts: tx.clone(),
        }),
    )
    .await;
    let _b = serve(
        &server,
        rust_fleet::fleet_server::FleetServer::new(Node {
            name: "b",
            restarts: tx,
        }),
    )
    .await;
    let conn = connection(&server).await;
    let client = rust_fleet::fleet_client::FleetClient::new(conn.clone());

    let options = nrpc_runtime::BroadcastOptions::new().idle_gap(Duration::from_secs(3));
    let replies: Vec<_> = within("broadcast", async {
        client
            .health_broadcast(options)
            .await
            .unwrap()
            .collect()
            .await
    })
    .await;
    let mut names: Vec<String> = replies
        .into_iter()
        .map(|r| r.result.unwrap().into_inner().message)
        .collect();
    names.sort();
    assert_eq!(names, ["a ok", "b ok"]);

    within("send", client.restart(&hello("now"))).await.unwrap();
    assert_eq!(
        within("restart", restarts.recv()).await.as_deref(),
        Some("now")
    );

    let letters: Vec<String> = within("stream", async {
        client
            .spell(&hello("abc"))
            .await
            .unwrap()
            .map(|r| r.unwrap().message)
            .collect()
            .await
    })
    .await;
    assert_eq!(letters, ["a", "b", "c"]);
    let names = || futures::stream::iter(["x", "y"].map(hello));
    assert_eq!(
        within("tally", client.tally(names()))
            .await
            .unwrap()
            .message,
        "2"
    );
    let greetings: Vec<String> = within("greet", async {
        client
            .greet_all(names())
            .await
            .unwrap()
            .map(|r| r.unwrap().message)
            .collect()
            .await
    })
    .await;
    assert_eq!(greetings, ["hi x", "hi y"]);

    let mut alerts = client.subscribe_alerts(None).await.unwrap();
    let events = rust_fleet::fleet_server::FleetEvents::new(conn);
    events
        .publish_alerts(&HelloReply {
            message: "disk".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        within("alert", alerts.next())
            .await
            .unwrap()
            .unwrap()
            .message,
        "disk"
    );
}

struct RustGreeter;

impl rust_greeter::greeter_server::Greeter for RustGreeter {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        let left = request
            .deadline()
            .map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
        let name = request.into_inner().name;
        if name.starts_with("forever") {
            std::future::pending::<()>().await;
        }
        let mut reply = Response::new(HelloReply {
            message: format!("Hello, {name}"),
        })
        .with_header("Instance", "rust");
        if let Some(left) = left {
            reply = reply.with_header("Deadline-Left-Ms", &left.as_millis().to_string());
        }
        Ok(reply)
    }

    async fn fail(&self, request: Request<FailRequest>) -> Result<Response<()>, Status> {
        let req = request.into_inner();
        Err(Status::new(
            Code::from_i32(req.code).unwrap_or(Code::Unknown),
            req.message,
        ))
    }

    async fn echo(&self, request: Request<EchoMessage>) -> Result<Response<EchoMessage>, Status> {
        Ok(Response::new(request.into_inner()))
    }
}

#[tokio::test]
async fn macro_client_calls_macro_server() {
    let server = nats_server();
    let _h = serve(
        &server,
        rust_greeter::greeter_server::GreeterServer::new(RustGreeter),
    )
    .await;
    let client = rust_greeter::greeter_client::GreeterClient::new(connection(&server).await);
    let reply = within("call", client.say_hello(&hello("macro")))
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, macro");
    let echo = EchoMessage {
        payload: vec![1, 2, 3],
    };
    assert_eq!(within("echo", client.echo(&echo)).await.unwrap(), echo);
}

#[tokio::test]
async fn codegen_client_calls_macro_server() {
    let server = nats_server();
    let _h = serve(
        &server,
        rust_greeter::greeter_server::GreeterServer::new(RustGreeter),
    )
    .await;
    let client = nrpc_tests::greeter::greeter_client::GreeterClient::new(connection(&server).await);
    let reply = within(
        "call",
        client.say_hello_with(&hello("proto"), CallOptions::new()),
    )
    .await
    .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, proto");
    assert_eq!(
        reply.metadata().get("Instance").map(|v| v.as_str()),
        Some("rust")
    );
}

#[tokio::test]
async fn macro_client_calls_codegen_server() {
    let server = nats_server();
    let (_h, _events, _gate) = serve_greeter(&server, "proto").await;
    let client = rust_greeter::greeter_client::GreeterClient::new(connection(&server).await);
    let reply = within(
        "call",
        client.say_hello_with(&hello("rust"), CallOptions::new()),
    )
    .await
    .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, rust");
    assert_eq!(
        reply.metadata().get("Instance").map(|v| v.as_str()),
        Some("proto")
    );
}

#[tokio::test]
async fn errors_are_identical_on_both_paths() {
    let server = nats_server();
    let proto_server = nats_server();
    let _a = serve(
        &server,
        rust_greeter::greeter_server::GreeterServer::new(RustGreeter),
    )
    .await;
    let (_b, _events, _gate) = serve_greeter(&proto_server, "proto").await;
    for target in [&server, &proto_server] {
        let conn = connection(target).await;
        let macro_client = rust_greeter::greeter_client::GreeterClient::new(conn.clone());
        let proto_client = nrpc_tests::greeter::greeter_client::GreeterClient::new(conn);
        for code in [Code::NotFound, Code::Internal, Code::Unavailable] {
            let req = FailRequest {
                code: code.as_i32(),
                message: "nope".into(),
            };
            let a = within("macro", macro_client.fail(&req)).await.unwrap_err();
            let b = within("proto", proto_client.fail(&req)).await.unwrap_err();
            assert_eq!(a.status(), b.status());
            assert_eq!(a.status().map(Status::code), Some(code));
        }
    }
}

#[tokio::test]
async fn deadlines_are_identical_on_both_paths() {
    let server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "proto").await;
    let client = rust_greeter::greeter_client::GreeterClient::new(connection(&server).await);
    let err = within(
        "slow call",
        client.say_hello_with(
            &hello("forever-m"),
            CallOptions::new().timeout(Duration::from_millis(200)),
        ),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CallError::Timeout(_)), "{err:?}");
    nrpc_tests::cancelled(&mut events, "forever-m").await;

    // And a macro server sees the deadline a codegen client sends.
    let rust_server = nats_server();
    let _r = serve(
        &rust_server,
        rust_greeter::greeter_server::GreeterServer::new(RustGreeter),
    )
    .await;
    let client =
        nrpc_tests::greeter::greeter_client::GreeterClient::new(connection(&rust_server).await);
    let reply = within(
        "call",
        client.say_hello_with(
            &hello("d"),
            CallOptions::new().timeout(Duration::from_secs(7)),
        ),
    )
    .await
    .unwrap();
    let left: u64 = reply
        .metadata()
        .get("Deadline-Left-Ms")
        .unwrap()
        .as_str()
        .parse()
        .unwrap();
    assert!(left > 0 && left <= 7000, "{left}");
}

struct Options;

impl rust_options::all_options_server::AllOptions for Options {
    async fn with_params(&self, request: Request<()>) -> Result<Response<HelloReply>, Status> {
        let p = |n: &str| request.param(n).unwrap_or("?").to_owned();
        Ok(Response::new(HelloReply {
            message: format!(
                "{} {} {} {}",
                p("instance"),
                p("clientid"),
                p("mp1"),
                p("mp2")
            ),
        }))
    }

    async fn simple(&self, _: Request<HelloRequest>) -> Result<Response<()>, Status> {
        Ok(Response::new(()))
    }

    async fn Loud(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(HelloReply {
            message: request.into_inner().name.to_uppercase(),
        }))
    }
}

#[tokio::test]
async fn macro_subject_params_reach_the_handler() {
    let server = nats_server();
    let _h = serve(
        &server,
        rust_options::all_options_server::AllOptionsServer::new(Options),
    )
    .await;
    let client = rust_options::all_options_client::AllOptionsClient::new(
        connection(&server).await,
        "eu",
        "c1",
    )
    .unwrap();
    let reply = within("call", client.with_params("a", "b")).await.unwrap();
    assert_eq!(reply.message, "eu c1 a b");
    within("simple", client.simple(&hello("x"))).await.unwrap();
    assert_eq!(
        within("loud", client.Loud(&hello("x")))
            .await
            .unwrap()
            .message,
        "X"
    );
}

/// Compiles the emitted `.proto` back through nrpc-codegen and compares
/// every subject part with the macro's own spec.
fn round_trip(proto: String, spec: &nrpc_runtime::ServiceSpec) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("from_rust.proto");
    std::fs::write(&file, &proto).unwrap();
    let protos_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let services = nrpc_codegen::configure()
        .read_services(&[&file], &[dir.path(), protos_dir.as_path()])
        .unwrap_or_else(|e| panic!("{e}\n{proto}"));
    let svc = services
        .iter()
        .find(|s| s.spec.name == spec.name)
        .unwrap_or_else(|| panic!("{} not in\n{proto}", spec.name));
    // One spec type on both paths: every subject part, kind and flag.
    assert_eq!(&svc.spec, spec, "{proto}");
}

#[test]
fn emitted_proto_compiles_back_to_the_same_subjects() {
    let proto = rust_greeter::greeter_proto(&["greeter.proto"]);
    assert!(
        proto.contains("rpc SayHello(.greeter.v1.HelloRequest) returns (.greeter.v1.HelloReply)"),
        "{proto}"
    );
    assert!(
        proto.contains("rpc Fail(.greeter.v1.FailRequest) returns (.nrpc.Void)"),
        "{proto}"
    );
    round_trip(proto, &rust_greeter::GREETER_SPEC);
    round_trip(
        rust_options::all_options_proto(&["greeter.proto"]),
        &rust_options::ALL_OPTIONS_SPEC,
    );
    assert_eq!(rust_options::ALL_OPTIONS_SPEC.methods[2].subject, "loud");
    let fleet = rust_fleet::fleet_proto(&["greeter.proto"]);
    assert!(
        fleet.contains("rpc Alerts(.nrpc.NoRequest) returns (.greeter.v1.HelloReply)"),
        "{fleet}"
    );
    assert!(
        fleet.contains("rpc Restart(.greeter.v1.HelloRequest) returns (.nrpc.NoReply)"),
        "{fleet}"
    );
    assert!(
        fleet.contains("option (nrpc.streamedReply) = true;"),
        "{fleet}"
    );
    round_trip(fleet, &rust_fleet::FLEET_SPEC);
}
