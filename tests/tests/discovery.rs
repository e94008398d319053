//! NATS services discovery: `$SRV.PING|INFO|STATS` replies that validate
//! against the published schemas, and counts that match the calls made.

use std::time::Duration;

use nrpc_runtime::discovery::Discovery;
use nrpc_runtime::{Code, Server, Status};
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::greeter_server::GreeterServer;
use nrpc_tests::greeter::FailRequest;
use nrpc_tests::{connection, hello, nats, nats_server, within, NatsServer, TestGreeter};

const NAME: &str = "greeter_v1_Greeter";

fn validator(file: &str) -> jsonschema::Validator {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(file);
    let schema: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

async fn serve_instance(server: &NatsServer) -> nrpc_runtime::ServerHandle {
    let (greeter, _events) = TestGreeter::new("a");
    Server::builder(&connection(server).await)
        .version("1.2.3")
        .metadata("team", "greeters")
        .add_service(GreeterServer::new(greeter))
        .serve()
        .await
        .unwrap()
}

/// The replies to `subject`, as JSON: up to `expected` of them, then
/// whatever else arrives within a second (to catch extra replies).
async fn ask(raw: &async_nats::Client, subject: &str, expected: usize) -> Vec<serde_json::Value> {
    let inbox = raw.new_inbox();
    let mut sub = raw.subscribe(inbox.clone()).await.unwrap();
    raw.publish_with_reply(subject.to_owned(), inbox, "".into())
        .await
        .unwrap();
    let mut out = Vec::new();
    while out.len() < expected {
        let msg = within("discovery reply", futures::StreamExt::next(&mut sub))
            .await
            .unwrap();
        out.push(serde_json::from_slice(&msg.payload).unwrap());
    }
    while let Ok(Some(msg)) =
        tokio::time::timeout(Duration::from_secs(1), futures::StreamExt::next(&mut sub)).await
    {
        out.push(serde_json::from_slice(&msg.payload).unwrap());
    }
    out
}

#[tokio::test]
async fn srv_replies_validate_against_the_published_schemas() {
    let server = nats_server();
    let a = serve_instance(&server).await;
    let b = serve_instance(&server).await;
    let raw = nats(&server).await;
    for (verb, schema) in [
        ("PING", "ping_response.json"),
        ("INFO", "info_response.json"),
        ("STATS", "stats_response.json"),
    ] {
        let validator = validator(schema);
        for subject in [format!("$SRV.{verb}"), format!("$SRV.{verb}.{NAME}")] {
            let replies = ask(&raw, &subject, 2).await;
            assert_eq!(replies.len(), 2, "{subject}: both instances answer");
            for reply in &replies {
                let errors: Vec<String> = validator
                    .iter_errors(reply)
                    .map(|e| e.to_string())
                    .collect();
                assert!(errors.is_empty(), "{subject}: {errors:?}\n{reply:#}");
            }
        }
        let one = format!("$SRV.{verb}.{NAME}.{}", a.instance_id());
        let replies = ask(&raw, &one, 1).await;
        assert_eq!(replies.len(), 1, "{one}: only that instance");
        assert_eq!(replies[0]["id"], a.instance_id());
        assert!(validator.is_valid(&replies[0]));
    }
    drop(b);
}

#[tokio::test]
async fn info_lists_every_method_with_subject_queue_group_and_description() {
    let server = nats_server();
    let handle = serve_instance(&server).await;
    let discovery = Discovery::new(connection(&server).await);
    let infos = within("info", discovery.info(Some(NAME))).await.unwrap();
    assert_eq!(infos.len(), 1);
    let info = &infos[0];
    assert_eq!(info.id, handle.instance_id());
    assert_eq!(info.version, "1.2.3");
    assert_eq!(info.description, "Greets people.");
    let metadata = info.metadata.as_ref().unwrap();
    assert_eq!(metadata.get("team").map(String::as_str), Some("greeters"));
    assert_eq!(
        metadata.get("nrpc.service").map(String::as_str),
        Some("greeter.v1.Greeter")
    );
    let endpoints: Vec<(&str, &str, Option<&str>)> = info
        .endpoints
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.subject.as_str(),
                e.queue_group.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        [
            ("SayHello", "demo.Greeter.SayHello", Some("q")),
            ("Fail", "demo.Greeter.Fail", Some("q")),
            ("Echo", "demo.Greeter.Echo", Some("q")),
        ]
    );
    let pings = within("ping", discovery.ping(None)).await.unwrap();
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0].name, NAME);
}

#[tokio::test]
async fn stats_count_the_calls_made_errors_included() {
    let server = nats_server();
    let handle = serve_instance(&server).await;
    let conn = connection(&server).await;
    let client = GreeterClient::new(conn.clone());
    for i in 0..3 {
        within("ok call", client.say_hello(&hello(&format!("n{i}"))))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        let req = FailRequest {
            code: Code::NotFound.as_i32(),
            message: "missing".into(),
        };
        within("failing call", client.fail(&req)).await.unwrap_err();
    }
    within("panicking call", client.say_hello(&hello("panic")))
        .await
        .unwrap_err();

    let discovery = Discovery::new(conn);
    let stats = within(
        "stats",
        discovery.instance_stats(NAME, handle.instance_id()),
    )
    .await
    .unwrap()
    .expect("stats of the instance");
    let by_name = |n: &str| stats.endpoints.iter().find(|e| e.name == n).unwrap();
    let hello_stats = by_name("SayHello");
    assert_eq!((hello_stats.num_requests, hello_stats.num_errors), (4, 1));
    assert!(
        hello_stats.last_error.contains("panicked"),
        "{}",
        hello_stats.last_error
    );
    assert!(hello_stats.processing_time > 0);
    assert_eq!(
        hello_stats.average_processing_time,
        hello_stats.processing_time / 4
    );
    let fail = by_name("Fail");
    assert_eq!((fail.num_requests, fail.num_errors), (2, 2));
    assert_eq!(fail.last_error, "NOT_FOUND: missing");
    let echo = by_name("Echo");
    assert_eq!(
        (echo.num_requests, echo.num_errors, echo.last_error.as_str()),
        (0, 0, "")
    );
}

#[tokio::test]
async fn the_services_of_a_server_share_its_instance_id_and_each_is_reached_through_it() {
    use nrpc_tests::chat::chat_client::ChatClient;
    use nrpc_tests::chat::chat_server::ChatServer;
    let server = nats_server();
    let (greeter, _events) = TestGreeter::new("multi");
    let handle = Server::builder(&connection(&server).await)
        .add_service(GreeterServer::new(greeter))
        .add_service(ChatServer::new(nrpc_tests::ChatCounter))
        .serve()
        .await
        .unwrap();
    let id = handle.instance_id().to_owned();
    // As the NATS services tools see it: one instance of each service, both
    // with the server's id.
    let raw = nats(&server).await;
    for verb in ["PING", "INFO", "STATS"] {
        let replies = ask(&raw, &format!("$SRV.{verb}"), 2).await;
        let mut seen: Vec<(&str, &str)> = replies
            .iter()
            .filter_map(|r| Some((r["name"].as_str()?, r["id"].as_str()?)))
            .collect();
        seen.sort_unstable();
        let want = [("chat_v1_Chat", id.as_str()), ("greeter_v1_Greeter", &id)];
        assert_eq!(seen, want, "{verb}: {replies:?}");
    }
    // Before, the id was the first service's only: a direct call to the
    // second service through it found nobody.
    let greeter = GreeterClient::new(connection(&server).await)
        .with_instance(&id)
        .unwrap();
    let reply = within("direct greeter", greeter.say_hello(&hello("direct")))
        .await
        .unwrap();
    assert_eq!(reply.message, "Hello, direct");
    let chat = ChatClient::new(connection(&server).await)
        .with_instance(&id)
        .unwrap();
    let words = futures::stream::iter([nrpc_tests::word("0"), nrpc_tests::word("1")]);
    let sentence = within("direct chat", chat.collect(words)).await.unwrap();
    assert_eq!(sentence.words, 2);
    let other = GreeterClient::new(connection(&server).await)
        .with_instance("not-this-one")
        .unwrap();
    let err = within("wrong id", other.say_hello(&hello("x")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, nrpc_runtime::CallError::NoResponders { .. }),
        "{err:?}"
    );
}

/// A service defined in Rust, whose message descriptors nobody registered.
mod rust_defined {
    use nrpc_runtime::{nats_service, Status};
    pub use nrpc_tests::greeter::{HelloReply, HelloRequest};

    /// Counts in Rust.
    #[nats_service(package = "rs", proto_package = "counter.v1")]
    pub trait Counter {
        /// Adds one.
        async fn bump(&self, request: HelloRequest) -> Result<HelloReply, Status>;
        /// Streams the count.
        #[nrpc(stream)]
        async fn watch(&self) -> Result<HelloReply, Status>;
    }
}

struct Counting;

impl rust_defined::counter_server::Counter for Counting {
    async fn bump(
        &self,
        request: nrpc_runtime::Request<rust_defined::HelloRequest>,
    ) -> Result<nrpc_runtime::Response<rust_defined::HelloReply>, Status> {
        Ok(nrpc_runtime::Response::new(rust_defined::HelloReply {
            message: request.into_inner().name,
        }))
    }

    async fn watch(
        &self,
        _request: nrpc_runtime::Request<()>,
        _sink: nrpc_runtime::Sink<rust_defined::HelloReply>,
    ) -> Result<(), Status> {
        Ok(())
    }
}

#[tokio::test]
async fn every_instance_publishes_its_schema_where_info_says() {
    use nrpc_runtime::schema::SCHEMA_METADATA;
    let server = nats_server();
    let (greeter, _events) = TestGreeter::new("schema");
    let handle = Server::builder(&connection(&server).await)
        .package_subject("override")
        .add_service(GreeterServer::new(greeter))
        .add_service(rust_defined::counter_server::CounterServer::new(Counting))
        .serve()
        .await
        .unwrap();
    let discovery = Discovery::new(connection(&server).await);

    // A `.proto` service: spec as served, message names, descriptors.
    let info = within("info", discovery.info(Some(NAME))).await.unwrap();
    let subject = info[0].metadata.as_ref().unwrap()[SCHEMA_METADATA].clone();
    assert_eq!(
        subject,
        format!("_NRPC.schema.{NAME}.{}", handle.instance_id())
    );
    let schema = within("schema", discovery.schema(&info[0]))
        .await
        .unwrap()
        .expect("a schema");
    assert_eq!(schema.kind, "io.nrpc.v1.schema_response");
    assert_eq!(
        (schema.name.as_str(), schema.id.as_str()),
        (NAME, handle.instance_id())
    );
    assert_eq!(schema.service, "greeter.v1.Greeter");
    assert_eq!(schema.package_subject, "override");
    let spec = schema.spec().unwrap();
    assert_eq!(spec.methods.len(), 3);
    assert_eq!(&*spec.methods[0].name, "SayHello");
    assert_eq!(
        schema.methods[0].input.as_deref(),
        Some("greeter.v1.HelloRequest")
    );
    assert_eq!(schema.methods[1].output, None, "Fail returns nrpc.Void");
    assert!(
        schema.proto.is_none(),
        "the descriptors describe the service"
    );
    let pool = schema.descriptor_pool().unwrap();
    let service = pool.get_service_by_name("greeter.v1.Greeter").unwrap();
    assert_eq!(service.methods().count(), 3);
    let request = pool.get_message_by_name("greeter.v1.HelloRequest").unwrap();
    assert!(request.get_field_by_name("name").is_some());

    // A `#[nats_service]`: the spec and the `.proto` text; the messages'
    // descriptors are there because the greeter above registered them.
    let info = within("info", discovery.info(Some("counter_v1_Counter")))
        .await
        .unwrap();
    let schema = within("schema", discovery.schema(&info[0]))
        .await
        .unwrap()
        .expect("a schema");
    assert_eq!(schema.service, "counter.v1.Counter");
    assert_eq!(schema.description, "Counts in Rust.");
    let kinds: Vec<&str> = schema.methods.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["unary", "streamed_reply"]);
    assert_eq!(schema.methods[1].input, None);
    let proto = schema.proto.as_deref().unwrap();
    assert!(proto.contains("service Counter {"), "{proto}");
    assert!(
        proto.contains("rpc Bump(.greeter.v1.HelloRequest) returns (.greeter.v1.HelloReply)"),
        "{proto}"
    );
    assert!(proto.contains("import \"greeter.proto\";"), "{proto}");
    let pool = schema.descriptor_pool().unwrap();
    assert!(pool.get_message_by_name("greeter.v1.HelloReply").is_some());
    assert!(pool.get_service_by_name("counter.v1.Counter").is_none());
    // The text compiles against the descriptors (each import once, as
    // protoc requires), and then describes the service.
    let compiled =
        nrpc_codegen::compile_with_descriptors("counter.v1.Counter.proto", proto, &pool).unwrap();
    let counter = compiled.get_service_by_name("counter.v1.Counter").unwrap();
    let bump = counter.methods().next().unwrap();
    assert_eq!(
        (bump.name(), bump.input().full_name()),
        ("Bump", "greeter.v1.HelloRequest")
    );
    assert_eq!(counter.methods().count(), 2);

    // Instances without a schema entry (other NATS services) give `None`.
    let mut bare = info[0].clone();
    bare.metadata = None;
    assert!(within("no schema", discovery.schema(&bare))
        .await
        .unwrap()
        .is_none());
}
