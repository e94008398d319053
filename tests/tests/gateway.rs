//! The gateway (nrpc-gateway) with real clients: a tonic gRPC client and
//! an HTTP client (reqwest) call NATS services through it — every call
//! kind, statuses, metadata, deadlines, cancellation by a caller that goes
//! away, and an instance killed behind it while calls go on.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use futures::StreamExt;
use nrpc_runtime::{Request, Status};
use nrpc_tests::chat::chat_server::ChatServer;
use nrpc_tests::chat::{Sentence, Word};
use nrpc_tests::greeter::{FailRequest, HelloReply, HelloRequest};
use nrpc_tests::grpcurl::{grpcurl, grpcurl_ok};
use nrpc_tests::{cancelled, connection, nats_server, serve, serve_greeter, within};
use nrpc_tests::{drain, word, Words};
use nrpc_tests::{gateway, gateway_with, Gateway};
use tonic::transport::Channel;

/// A unary service defined in Rust: described to gRPC reflection from the
/// `.proto` text its schema carries.
mod shouts {
    use nrpc_runtime::{nats_service, Request, Response, Sink, Status};
    use nrpc_tests::greeter::{HelloReply, HelloRequest};

    /// Says things louder.
    #[nats_service(package = "shouts", proto_package = "shouts.v1")]
    pub trait Shouts {
        /// The name, in capitals.
        async fn shout(&self, request: HelloRequest) -> Result<HelloReply, Status>;
        /// The name, in capitals, twice.
        #[nrpc(stream)]
        async fn echo(&self, request: HelloRequest) -> Result<HelloReply, Status>;
    }

    pub struct Loud;

    impl shouts_server::Shouts for Loud {
        async fn shout(
            &self,
            request: Request<HelloRequest>,
        ) -> Result<Response<HelloReply>, Status> {
            Ok(Response::new(HelloReply {
                message: request.into_inner().name.to_uppercase(),
            }))
        }

        async fn echo(
            &self,
            request: Request<HelloRequest>,
            sink: Sink<HelloReply>,
        ) -> Result<(), Status> {
            let message = request.into_inner().name.to_uppercase();
            for _ in 0..2 {
                sink.send(&HelloReply {
                    message: message.clone(),
                })
                .await?;
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- gRPC --

/// A tonic client for any method: what generated tonic clients do.
#[derive(Clone)]
struct Grpc(tonic::client::Grpc<Channel>);

impl Grpc {
    async fn connect(gateway: &Gateway) -> Self {
        let channel = Channel::from_shared(gateway.url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        Grpc(tonic::client::Grpc::new(channel))
    }

    async fn unary<Req, Resp>(
        &mut self,
        path: &'static str,
        request: tonic::Request<Req>,
    ) -> Result<tonic::Response<Resp>, tonic::Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        self.0.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        self.0
            .unary(request, http::uri::PathAndQuery::from_static(path), codec)
            .await
    }

    async fn server_streaming<Req, Resp>(
        &mut self,
        path: &'static str,
        request: Req,
    ) -> Result<Vec<Resp>, tonic::Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        self.0.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let stream = self
            .0
            .server_streaming(
                tonic::Request::new(request),
                http::uri::PathAndQuery::from_static(path),
                codec,
            )
            .await?
            .into_inner();
        drain(stream).await
    }

    async fn streaming<Req, Resp>(
        &mut self,
        path: &'static str,
        requests: Vec<Req>,
    ) -> Result<Vec<Resp>, tonic::Status>
    where
        Req: prost::Message + Send + 'static,
        Resp: prost::Message + Default + 'static,
    {
        self.0.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        let stream = self
            .0
            .streaming(
                tonic::Request::new(futures::stream::iter(requests)),
                http::uri::PathAndQuery::from_static(path),
                codec,
            )
            .await?
            .into_inner();
        drain(stream).await
    }

    async fn client_streaming<Req, Resp>(
        &mut self,
        path: &'static str,
        requests: Vec<Req>,
    ) -> Result<Resp, tonic::Status>
    where
        Req: prost::Message + Send + 'static,
        Resp: prost::Message + Default + 'static,
    {
        self.0.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        Ok(self
            .0
            .client_streaming(
                tonic::Request::new(futures::stream::iter(requests)),
                http::uri::PathAndQuery::from_static(path),
                codec,
            )
            .await?
            .into_inner())
    }
}

const SAY_HELLO: &str = "/greeter.v1.Greeter/SayHello";

fn hello(name: &str) -> HelloRequest {
    HelloRequest { name: name.into() }
}

#[tokio::test]
async fn grpc_unary_calls_carry_metadata_and_deadlines_both_ways() {
    let server = nats_server();
    let _a = serve_greeter(&server, "a").await;
    let gateway = gateway(&server).await;
    let mut grpc = Grpc::connect(&gateway).await;

    let mut request = tonic::Request::new(hello("grpc"));
    request
        .metadata_mut()
        .insert("tenant", "acme".parse().unwrap());
    request.set_timeout(Duration::from_secs(3));
    let reply: tonic::Response<HelloReply> = grpc.unary(SAY_HELLO, request).await.unwrap();
    assert_eq!(reply.get_ref().message, "Hello, grpc");
    let metadata = reply.metadata();
    assert_eq!(metadata.get("tenant-echo").unwrap(), "acme");
    assert_eq!(metadata.get("instance").unwrap(), "a");
    // The deadline reached the handler: under 3 s left, not the default.
    let left: u64 = metadata
        .get("deadline-left-ms")
        .expect("the handler saw a deadline")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 0 && left <= 3000, "{left} ms left");

    // Without one, the gateway's own (5 s by default) is the call's.
    let reply: tonic::Response<HelloReply> = grpc
        .unary(SAY_HELLO, tonic::Request::new(hello("plain")))
        .await
        .unwrap();
    let left: u64 = reply
        .metadata()
        .get("deadline-left-ms")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 3000 && left <= 5000, "{left} ms left");
}

#[tokio::test]
async fn grpc_statuses_keep_their_code_and_message() {
    let server = nats_server();
    let _a = serve_greeter(&server, "a").await;
    let gateway = gateway(&server).await;
    let mut grpc = Grpc::connect(&gateway).await;

    for (code, tonic_code) in [
        (5, tonic::Code::NotFound),
        (7, tonic::Code::PermissionDenied),
        (9, tonic::Code::FailedPrecondition),
        (14, tonic::Code::Unavailable),
    ] {
        let request = FailRequest {
            code,
            message: format!("failed with {code}"),
        };
        let status = grpc
            .unary::<_, ()>("/greeter.v1.Greeter/Fail", tonic::Request::new(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic_code);
        assert_eq!(status.message(), format!("failed with {code}"));
    }

    let status = grpc
        .unary::<_, HelloReply>(
            "/greeter.v1.Greeter/SayHelo",
            tonic::Request::new(hello("x")),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert!(
        status.message().contains("did you mean SayHello"),
        "{status:?}"
    );

    let status = grpc
        .unary::<_, HelloReply>("/nope.v1.Nope/SayHello", tonic::Request::new(hello("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);

    // A handler that panics: INTERNAL, as the service reports it.
    let status = grpc
        .unary::<_, HelloReply>(SAY_HELLO, tonic::Request::new(hello("panic")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal, "{status:?}");
}

#[tokio::test]
async fn grpc_deadlines_end_calls_and_cancel_handlers() {
    let server = nats_server();
    let (_a, mut events, _gate) = serve_greeter(&server, "a").await;
    // The gateway cuts deadlines to 300 ms: it ends the call itself.
    let gateway = gateway_with(&server, |b| b.max_timeout(Duration::from_millis(300))).await;
    let mut grpc = Grpc::connect(&gateway).await;

    let mut request = tonic::Request::new(hello("forever-cut"));
    request.set_timeout(Duration::from_secs(60));
    let status = within(
        "a call with a deadline",
        grpc.unary::<_, HelloReply>(SAY_HELLO, request),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}");
    cancelled(&mut events, "forever-cut").await;

    // A tonic client's own deadline: it gives up (tonic says CANCELLED
    // or DEADLINE_EXCEEDED, whichever side ends first) and the stream's
    // reset reaches the handler.
    let gateway = gateway_with(&server, |b| b.default_timeout(Duration::from_secs(60))).await;
    let mut grpc = Grpc::connect(&gateway).await;
    // (Once the gateway knows the service: learning it takes a moment.)
    let _: tonic::Response<HelloReply> = grpc
        .unary(SAY_HELLO, tonic::Request::new(hello("warm")))
        .await
        .unwrap();
    let mut request = tonic::Request::new(hello("forever-client"));
    request.set_timeout(Duration::from_millis(300));
    let status = within(
        "a call with a deadline",
        grpc.unary::<_, HelloReply>(SAY_HELLO, request),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            status.code(),
            tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
        ),
        "{status:?}"
    );
    cancelled(&mut events, "forever-client").await;
}

#[tokio::test]
async fn grpc_streams_of_every_direction_pass_through() {
    let server = nats_server();
    let _chat = serve(&server, ChatServer::new(Words)).await;
    let gateway = gateway(&server).await;
    let mut grpc = Grpc::connect(&gateway).await;

    let letters: Vec<Word> = grpc
        .server_streaming("/chat.v1.Chat/Spell", word("nats"))
        .await
        .unwrap();
    let letters: Vec<String> = letters.into_iter().map(|w| w.text).collect();
    assert_eq!(letters, ["n", "a", "t", "s"]);

    let sentence: Sentence = grpc
        .client_streaming(
            "/chat.v1.Chat/Collect",
            vec![word("one"), word("two"), word("three")],
        )
        .await
        .unwrap();
    assert_eq!(
        (sentence.words, sentence.text.as_str()),
        (3, "one two three")
    );

    let echoes: Vec<Word> = grpc
        .streaming("/chat.v1.Chat/Echo", vec![word("a"), word("b")])
        .await
        .unwrap();
    let echoes: Vec<String> = echoes.into_iter().map(|w| w.text).collect();
    assert_eq!(echoes, ["echo a", "echo b"]);

    // A failing stream ends with the handler's status.
    let status = grpc
        .streaming::<_, Word>("/chat.v1.Chat/Echo", vec![word("a"), word("fail")])
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
}

/// gRPC-Web over HTTP/1.1 (what browsers speak), with tonic-web's client
/// under tonic's generated clients: metadata, deadline, statuses and a
/// streamed reply, the trailers carried in the body.
#[tokio::test]
async fn grpc_web_calls_pass_through_over_http1() {
    use nrpc_tests::chat::grpc::chat_client::ChatClient;
    use nrpc_tests::greeter::grpc::greeter_client::GreeterClient;

    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let _chat = serve(&server, ChatServer::new(Words)).await;
    let gateway = gateway(&server).await;
    let http1 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let web = tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebClientLayer::new())
        .service(http1);
    let origin: http::Uri = gateway.url.parse().unwrap();

    let mut greeter = GreeterClient::with_origin(web.clone(), origin.clone());
    let mut request = tonic::Request::new(hello("web"));
    request
        .metadata_mut()
        .insert("tenant", "acme".parse().unwrap());
    request.set_timeout(Duration::from_secs(3));
    let reply = greeter.say_hello(request).await.unwrap();
    assert_eq!(reply.get_ref().message, "Hello, web");
    assert_eq!(reply.metadata().get("tenant-echo").unwrap(), "acme");
    let left: u64 = reply
        .metadata()
        .get("deadline-left-ms")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(left <= 3000, "{left}");

    let status = greeter
        .fail(FailRequest {
            code: 5,
            message: "gone".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::NotFound, "gone")
    );

    // The text form: frames in base64 (each padded on its own).
    let frame = [0, 0, 0, 0, 5, 0x0a, 3, b't', b'x', b't'];
    let response = http()
        .post(format!("{}{SAY_HELLO}", gateway.url))
        .header("content-type", "application/grpc-web-text")
        .header("accept", "application/grpc-web-text")
        .body(BASE64.encode(frame))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut text = response.text().await.unwrap();
    let mut bytes = Vec::new();
    while !text.is_empty() {
        let padded = text.find('=').map_or(text.len(), |at| {
            at + text[at..].bytes().take_while(|b| *b == b'=').count()
        });
        bytes.extend(BASE64.decode(text.drain(..padded).as_str()).unwrap());
    }
    let bytes = String::from_utf8_lossy(&bytes);
    assert!(bytes.contains("Hello, txt"), "{bytes:?}");
    assert!(bytes.contains("grpc-status:0"), "{bytes:?}");

    let mut chat = ChatClient::with_origin(web, origin);
    let letters = chat.spell(word("web")).await.unwrap().into_inner();
    let letters: Vec<String> = drain(letters)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.text)
        .collect();
    assert_eq!(letters, ["w", "e", "b"]);
}

/// TLS on the gateway's port with our own CA: gRPC (HTTP/2 by ALPN) and
/// HTTPS JSON; a client that connects and never says a word, and one that
/// speaks plain HTTP, hold no one up; with a client CA, a client without a
/// certificate is refused and one with a certificate is served.
#[tokio::test]
async fn tls_on_the_gateway_port_with_and_without_client_certificates() {
    use nrpc_tests::greeter::grpc::greeter_client::GreeterClient;
    use tonic::transport::{Certificate, ClientTlsConfig};

    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let dir = tempfile::tempdir().unwrap();
    let pki = nrpc_tests::pki::pki(dir.path());
    let ca = std::fs::read_to_string(&pki.ca).unwrap();
    let config = nrpc_gateway::tls::server_config(&pki.server_cert, &pki.server_key, None);
    let gateway = gateway_with(&server, |b| b.tls(config.unwrap())).await;
    let url = gateway.url.replace("http://", "https://");
    let address = gateway.url.trim_start_matches("http://").to_owned();
    // Silent clients: each would hold the port for the handshake timeout
    // (10 s) if handshakes were done in turn; three outlast PATIENCE.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }

    let reply = within("a gRPC call over TLS", async {
        let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca));
        let channel = Channel::from_shared(url.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        GreeterClient::new(channel).say_hello(hello("tls")).await
    })
    .await
    .unwrap();
    assert_eq!(reply.get_ref().message, "Hello, tls");

    let root = reqwest::Certificate::from_pem(ca.as_bytes()).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(root.clone())
        .build()
        .unwrap();
    let call = |client: &reqwest::Client, url: &str| {
        client
            .post(format!("{url}{SAY_HELLO}"))
            .header("content-type", "application/json")
            .body(r#"{"name":"https"}"#)
            .send()
    };
    let (status, body) = json(call(&https, &url).await.unwrap()).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"message": "Hello, https"}))
    );

    // Plain HTTP on the TLS port is not served; the port goes on serving.
    assert!(call(&http(), &gateway.url).await.is_err());
    assert_eq!(call(&https, &url).await.unwrap().status(), 200);

    // Mutual TLS.
    let config = nrpc_gateway::tls::server_config(&pki.server_cert, &pki.server_key, Some(&pki.ca));
    let mutual = gateway_with(&server, |b| b.tls(config.unwrap())).await;
    let url = mutual.url.replace("http://", "https://");
    assert!(call(&https, &url).await.is_err());
    let mut identity = std::fs::read(&pki.client_cert).unwrap();
    identity.extend(std::fs::read(&pki.client_key).unwrap());
    let with_certificate = reqwest::Client::builder()
        .add_root_certificate(root)
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();
    let (status, body) = json(call(&with_certificate, &url).await.unwrap()).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"message": "Hello, https"}))
    );

    // Files that are not there are named.
    let missing = dir.path().join("missing.pem");
    let err = nrpc_gateway::tls::server_config(&missing, &pki.server_key, None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("certificate {}", missing.display())),
        "{err}"
    );
    // So are files that hold the wrong thing.
    let err = nrpc_gateway::tls::server_config(&pki.server_cert, &pki.ca, None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("private key {}", pki.ca.display())),
        "{err}"
    );
    let config =
        nrpc_gateway::tls::server_config(&pki.server_cert, &pki.server_key, Some(&pki.server_key));
    let err = config.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("client CA {}", pki.server_key.display())),
        "{err}"
    );
}

/// The gateway's health for probes, with tonic-health's client (Check and
/// Watch) and over HTTP: serving while its NATS connection is up, not while
/// the server is away, serving again once it is back; unknown services
/// are said to be so.
#[tokio::test]
async fn health_follows_the_nats_connection() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::HealthCheckRequest;

    let mut server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let gateway = gateway(&server).await;
    let channel = Channel::from_shared(gateway.url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let asked = |service: &str| HealthCheckRequest {
        service: service.into(),
    };
    let http_status = |query: &'static str| {
        let url = format!("{}/_nrpc/health{query}", gateway.url);
        async move { json(http().get(url).send().await.unwrap()).await }
    };

    for service in ["", "greeter.v1.Greeter"] {
        let reply = health.check(asked(service)).await.unwrap().into_inner();
        assert_eq!(reply.status(), ServingStatus::Serving, "{service:?}");
    }
    let unknown = health.check(asked("nope.v1.Nope")).await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "{unknown:?}");
    assert_eq!(
        http_status("").await,
        (200, serde_json::json!({"status": "SERVING"}))
    );
    assert_eq!(
        http_status("?service=nope.v1.Nope").await,
        (404, serde_json::json!({"status": "SERVICE_UNKNOWN"}))
    );
    let twice = format!("{}/_nrpc/health?service=a&service=b", gateway.url);
    let response = http().get(twice).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.starts_with("bad query: "), "{text}");

    let mut watch = health.watch(asked("")).await.unwrap().into_inner();
    async fn next(watch: &mut tonic::Streaming<tonic_health::pb::HealthCheckResponse>) -> i32 {
        let reply = within("a health change", watch.message()).await;
        reply.unwrap().unwrap().status
    }
    assert_eq!(next(&mut watch).await, ServingStatus::Serving as i32);
    server.stop();
    assert_eq!(next(&mut watch).await, ServingStatus::NotServing as i32);
    assert_eq!(
        http_status("").await,
        (503, serde_json::json!({"status": "NOT_SERVING"}))
    );
    // A call meanwhile still ends, within its deadline, with a status.
    let during = within(
        "a call while NATS is away",
        http()
            .post(format!("{}{SAY_HELLO}", gateway.url))
            .header("grpc-timeout", "500m")
            .body(r#"{"name":"away"}"#)
            .send(),
    )
    .await
    .unwrap();
    assert!([503, 504].contains(&during.status().as_u16()), "{during:?}");
    server.restart().unwrap();
    assert_eq!(next(&mut watch).await, ServingStatus::Serving as i32);
    assert_eq!(http_status("").await.0, 200);
    // And calls are answered again once the instance has reconnected too
    // (until then: 503, no responders; retried as a client would).
    let (status, reply) = within("a call after the restart", async {
        loop {
            let (status, reply) =
                post(format!("{}{SAY_HELLO}", gateway.url), r#"{"name":"back"}"#).await;
            if status != 503 {
                return (status, reply);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(
        (status, reply),
        (200, serde_json::json!({"message": "Hello, back"}))
    );
}

// ----------------------------------------------------------- HTTP/JSON --

/// An HTTP client whose requests say they are JSON, as a JSON call must
/// (the gateway refuses the simple requests any web page can make).
fn http() -> reqwest::Client {
    let json = reqwest::header::HeaderValue::from_static("application/json");
    reqwest::Client::builder()
        .default_headers(
            [(reqwest::header::CONTENT_TYPE, json)]
                .into_iter()
                .collect(),
        )
        .build()
        .unwrap()
}

/// POSTs `body` to `url`: the status and the JSON answer.
async fn post(url: String, body: impl Into<reqwest::Body>) -> (u16, serde_json::Value) {
    json(http().post(url).body(body).send().await.unwrap()).await
}

async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    (status, value)
}

/// Routes of your own beside the gateway's: yours first, even on the
/// console's path; calls and health go on.
#[tokio::test]
async fn routes_of_your_own_come_first() {
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let mine = axum::Router::new()
        .route("/", axum::routing::get(|| async { "mine" }))
        .route("/ready", axum::routing::get(|| async { "ready" }));
    let gateway = gateway_with(&server, |b| b.routes(mine)).await;
    let get = |path: &str| {
        let url = format!("{}{path}", gateway.url);
        async move { http().get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(get("/").await, "mine");
    assert_eq!(get("/ready").await, "ready");
    assert_eq!(get("/_nrpc/health").await, r#"{"status":"SERVING"}"#);
    let (status, reply) = post(format!("{}{SAY_HELLO}", gateway.url), r#"{"name":"x"}"#).await;
    assert_eq!(
        (status, reply),
        (200, serde_json::json!({"message": "Hello, x"}))
    );
}

#[tokio::test]
async fn http_json_calls_map_bodies_headers_and_statuses() {
    let server = nats_server();
    let (a, _events, _gate) = serve_greeter(&server, "a").await;
    let gateway = gateway_with(&server, |b| b.max_body(64 * 1024)).await;
    let url = |path: &str| format!("{}{path}", gateway.url);

    let response = http()
        .post(url("/greeter.v1.Greeter/SayHello"))
        .header("Tenant", "acme")
        .header("grpc-timeout", "2S")
        .body(r#"{"name":"http"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["tenant-echo"], "acme");
    assert_eq!(response.headers()["instance"], "a");
    assert!(response.headers().contains_key("deadline-left-ms"));
    assert_eq!(response.headers()["content-type"], "application/json");
    let (status, body) = json(response).await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"message": "Hello, http"}))
    );

    // The protocol's own headers cannot be forged through the gateway:
    // this call keeps the gateway's 5 s, not a 1 ms `Nrpc-Timeout`.
    let response = http()
        .post(url("/greeter.v1.Greeter/SayHello"))
        .header("Nrpc-Timeout", "1")
        .body(r#"{"name":"forged"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let left: u64 = response.headers()["deadline-left-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 1000, "{left} ms left");

    // An empty body is the empty request.
    let (status, body) = post(url("/greeter.v1.Greeter/SayHello"), "").await;
    assert_eq!((status, body["message"].as_str()), (200, Some("Hello, ")));

    // A service's error: its code's HTTP status and a JSON error.
    let (status, body) = post(
        url("/greeter.v1.Greeter/Fail"),
        r#"{"code":5,"message":"no such thing"}"#,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    assert_eq!(body["error"]["message"], "no such thing");

    for (code, http_status) in [
        (3, 400),
        (7, 403),
        (16, 401),
        (8, 429),
        (14, 503),
        (13, 500),
    ] {
        let response = http()
            .post(url("/greeter.v1.Greeter/Fail"))
            .body(format!(r#"{{"code":{code},"message":"m"}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), http_status, "code {code}");
    }

    // Bad input: the field is named, with the close match.
    let (status, body) = post(url("/greeter.v1.Greeter/SayHello"), r#"{"nmae":"x"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("nmae") && message.contains("did you mean name"),
        "{message}"
    );

    let (status, _) = post(url("/greeter.v1.Greeter/SayHello"), "{not json").await;
    assert_eq!(status, 400);

    // Unknown service or method: 404 with the close matches.
    let (status, body) = post(url("/greeter.v1.Greeter/SayHelo"), "").await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SayHello"),
        "{body}"
    );
    let (status, _) = post(url("/nope.v1.Nope/X"), "").await;
    assert_eq!(status, 404);
    let (status, _) = post(url("/only-one-segment"), "").await;
    assert_eq!(status, 404);

    // Bodies and headers that are not text, and other HTTP methods.
    let (status, body) = post(url("/greeter.v1.Greeter/SayHello"), vec![0xff, 0xfe]).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not UTF-8"),
        "{body}"
    );
    let response = http()
        .post(url("/greeter.v1.Greeter/SayHello"))
        .header("Tenant", http::HeaderValue::from_bytes(b"caf\xe9").unwrap())
        .send()
        .await
        .unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tenant is not ASCII"),
        "{body}"
    );
    let response = http()
        .put(url("/greeter.v1.Greeter/SayHello"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST, GET");

    // Over the body limit: 413, nothing sent.
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(100 * 1024));
    let (status, body) = post(url("/greeter.v1.Greeter/SayHello"), big).await;
    assert_eq!(status, 413, "{body}");

    // A deadline the caller sets that the handler outlives: 504.
    let (status, body) = json(
        http()
            .post(url("/greeter.v1.Greeter/SayHello"))
            .header("grpc-timeout", "200m")
            .body(r#"{"name":"forever-deadline"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (504, Some("DEADLINE_EXCEEDED"))
    );
    let (status, _) = json(
        http()
            .post(url("/greeter.v1.Greeter/SayHello"))
            .header("grpc-timeout", "soon")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);

    // No instance: 503 UNAVAILABLE (the schema is still known).
    a.shutdown().await;
    let response = within("a call with no instance", async {
        loop {
            let response = http()
                .post(url("/greeter.v1.Greeter/SayHello"))
                .send()
                .await
                .unwrap();
            if response.status() != 200 {
                return response;
            }
        }
    })
    .await;
    let (status, body) = json(response).await;
    assert_eq!(
        (status, body["error"]["status"].as_str()),
        (503, Some("UNAVAILABLE")),
        "{body}"
    );
}

async fn lines(response: reqwest::Response) -> Vec<serde_json::Value> {
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn http_streams_as_ndjson_and_server_sent_events() {
    let server = nats_server();
    let _chat = serve(&server, ChatServer::new(Words)).await;
    let gateway = gateway(&server).await;
    let url = |path: &str| format!("{}{path}", gateway.url);

    let response = http()
        .post(url("/chat.v1.Chat/Spell"))
        .body(r#"{"text":"abc"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let texts: Vec<serde_json::Value> = lines(response)
        .await
        .into_iter()
        .map(|l| l["text"].clone())
        .collect();
    assert_eq!(texts, ["a", "b", "c"]);

    let response = http()
        .post(url("/chat.v1.Chat/Spell"))
        .header("accept", "text/event-stream")
        .body(r#"{"text":"hi"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data, [r#"{"text":"h"}"#, r#"{"text":"i"}"#]);

    // Request streams: one JSON document per line.
    let (status, body) = post(
        url("/chat.v1.Chat/Collect"),
        "{\"text\":\"one\"}\n\n{\"text\":\"two\"}\n",
    )
    .await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"text": "one two", "words": 2}))
    );

    let response = http()
        .post(url("/chat.v1.Chat/Echo"))
        .body("{\"text\":\"x\"}\n{\"text\":\"y\"}")
        .send()
        .await
        .unwrap();
    let texts: Vec<serde_json::Value> = lines(response)
        .await
        .into_iter()
        .map(|l| l["text"].clone())
        .collect();
    assert_eq!(texts, ["echo x", "echo y"]);

    // A stream that fails ends with an error document.
    let response = http()
        .post(url("/chat.v1.Chat/Echo"))
        .body("{\"text\":\"x\"}\n{\"text\":\"fail\"}\n")
        .send()
        .await
        .unwrap();
    let docs = lines(response).await;
    assert_eq!(docs[0]["text"], "echo x");
    assert_eq!(
        docs.last().unwrap()["error"]["status"],
        "FAILED_PRECONDITION",
        "{docs:?}"
    );

    // A bad line fails the call rather than cut the input short.
    let (status, body) = post(
        url("/chat.v1.Chat/Collect"),
        "{\"text\":\"one\"}\n{\"txet\":\"two\"}\n{\"text\":\"three\"}\n",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("request 2") && message.contains("txet"),
        "{message}"
    );
}

#[tokio::test]
async fn http_fire_and_forget_events_and_subject_parameters() {
    use nrpc_tests::alarms::alarms_server::{Alarms, AlarmsEvents, AlarmsServer};
    struct Site(tokio::sync::mpsc::UnboundedSender<String>);
    impl Alarms for Site {
        async fn ring(&self, request: Request<HelloRequest>) -> Result<(), Status> {
            let site = request.param("site").unwrap_or_default().to_owned();
            let _ = self.0.send(format!("{site}:{}", request.into_inner().name));
            Ok(())
        }
    }
    let server = nats_server();
    let (tx, mut rings) = tokio::sync::mpsc::unbounded_channel();
    let _alarms = serve(&server, AlarmsServer::new(Site(tx))).await;
    let gateway = gateway(&server).await;
    let url = |path: &str| format!("{}{path}", gateway.url);

    // The parameter as a path segment, in the query, or in a header.
    for (path, header) in [
        ("/alarms.v1.Alarms/Ring/north", None),
        ("/alarms.v1.Alarms/Ring?site=south", None),
        ("/alarms.v1.Alarms/Ring", Some("east")),
    ] {
        let mut request = http().post(url(path)).body(r#"{"name":"fire"}"#);
        if let Some(site) = header {
            request = request.header("nrpc-param-site", site);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 202, "{path}");
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(within("a ring", rings.recv()).await.unwrap());
    }
    got.sort();
    assert_eq!(got, ["east:fire", "north:fire", "south:fire"]);

    let (status, body) = post(url("/alarms.v1.Alarms/Ring"), "").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"site\""),
        "{body}"
    );
    let (status, _) = post(url("/alarms.v1.Alarms/Ring/a/b"), "").await;
    assert_eq!(status, 400);
    let (status, body) = post(url("/alarms.v1.Alarms/Ring/%FF"), "").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not UTF-8"),
        "{body}"
    );
    let (status, _) = post(url("/alarms.v1.Alarms/Ring/a.b"), "").await;
    assert_eq!(status, 400, "a parameter that would change the subject");

    // Events: a stream of what is published, until the client leaves.
    let response = http()
        .get(url("/alarms.v1.Alarms/Rung"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let publisher = connection(&server).await;
    let events = AlarmsEvents::new(publisher.clone());
    let mut body = response.bytes_stream();
    events
        .publish_rung(&HelloReply {
            message: "bell".into(),
        })
        .await
        .unwrap();
    let chunk = within("an event", body.next()).await.unwrap().unwrap();
    assert_eq!(
        std::str::from_utf8(&chunk).unwrap(),
        "{\"message\":\"bell\"}\n"
    );
}

#[tokio::test]
async fn an_http_client_that_goes_away_cancels_its_call() {
    let server = nats_server();
    let (_a, mut events, _gate) = serve_greeter(&server, "a").await;
    let gateway = gateway_with(&server, |b| b.default_timeout(Duration::from_secs(60))).await;

    // An HTTP/1.1 client that sends its request, then closes the
    // connection before the reply.
    use tokio::io::AsyncWriteExt;
    let body = r#"{"name":"forever-http"}"#;
    let address = gateway.url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket
        .write_all(
            format!(
                "POST /greeter.v1.Greeter/SayHello HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    within("the handler starts", async {
        while events.recv().await != Some(nrpc_tests::Event::Started("forever-http".into())) {}
    })
    .await;
    drop(socket);
    // The gateway dropped the call: the handler was told.
    cancelled(&mut events, "forever-http").await;
}

#[tokio::test]
async fn calls_go_on_through_the_other_instance_when_one_is_killed() {
    use tokio::io::AsyncBufReadExt;
    let server = nats_server();
    let mut children = Vec::new();
    for name in ["left", "right"] {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_nrpc-test-stream-server"))
            .arg(name)
            .env("NATS_URL", server.url())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(
            within("the server starts", out.next_line())
                .await
                .unwrap()
                .as_deref(),
            Some("ready")
        );
        children.push(child);
    }
    let gateway = gateway_with(&server, |b| b.default_timeout(Duration::from_secs(2))).await;
    let grpc = Grpc::connect(&gateway).await;
    let call = || {
        let mut grpc = grpc.clone();
        async move {
            grpc.unary::<_, HelloReply>(SAY_HELLO, tonic::Request::new(hello("x")))
                .await
                .map(|r| {
                    r.metadata()
                        .get("instance")
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned()
                })
        }
    };

    // Both instances answer.
    let mut seen = std::collections::BTreeSet::new();
    within("both instances answer", async {
        while seen.len() < 2 {
            seen.insert(call().await.unwrap());
        }
    })
    .await;

    // Kill one (SIGKILL, by pid); every call still ends, and the calls
    // after it are answered by the other.
    let mut left = children.remove(0);
    left.kill().await.unwrap();
    let mut answered = 0;
    within("calls after the kill", async {
        while answered < 50 {
            match call().await {
                Ok(instance) => {
                    assert_eq!(instance, "right");
                    answered += 1;
                }
                // A call the dead instance had taken may time out.
                Err(status) => {
                    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status:?}")
                }
            }
        }
    })
    .await;
    for mut child in children {
        child.kill().await.unwrap();
    }
}

#[tokio::test]
async fn services_defined_by_proto_files_need_no_schema() {
    // A service that publishes no schema: served through async-nats by
    // hand, the way a Go nRPC server answers (no discovery, no schema).
    let server = nats_server();
    let nats = nrpc_tests::nats(&server).await;
    let mut requests = nats.subscribe("demo.Greeter.SayHello").await.unwrap();
    let responder = nats.clone();
    tokio::spawn(async move {
        use prost::Message;
        while let Some(msg) = requests.next().await {
            let request = HelloRequest::decode(msg.payload).unwrap();
            let reply = HelloReply {
                message: format!("hand-made {}", request.name),
            };
            if let Some(to) = msg.reply {
                responder
                    .publish(to, reply.encode_to_vec().into())
                    .await
                    .unwrap();
            }
        }
    });
    nats.flush().await.unwrap();

    let root = nrpc_tests::python::root();
    let gateway = gateway_with(&server, |b| {
        b.protos(
            vec![root.join("proto/greeter.proto")],
            vec![root.join("proto")],
        )
    })
    .await;
    let (status, body) = json(
        http()
            .post(format!("{}/greeter.v1.Greeter/SayHello", gateway.url))
            .body(r#"{"name":"go"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!({"message": "hand-made go"}))
    );
    let mut grpc = Grpc::connect(&gateway).await;
    let reply: tonic::Response<HelloReply> = grpc
        .unary(SAY_HELLO, tonic::Request::new(hello("grpc")))
        .await
        .unwrap();
    assert_eq!(reply.get_ref().message, "hand-made grpc");
}

#[tokio::test]
async fn grpcurl_lists_describes_and_calls_through_server_reflection() {
    let server = nats_server();
    let _a = serve_greeter(&server, "a").await;
    let _chat = serve(&server, ChatServer::new(Words)).await;
    let _shouts = serve(
        &server,
        shouts::shouts_server::ShoutsServer::new(shouts::Loud),
    )
    .await;
    let gateway = gateway(&server).await;
    let address = gateway.url.trim_start_matches("http://").to_owned();
    let at = address.as_str();

    let out = grpcurl_ok(&["-plaintext", at, "list"]).await;
    let listed: Vec<&str> = out.lines().collect();
    for service in [
        "chat.v1.Chat",
        "greeter.v1.Greeter",
        "shouts.v1.Shouts",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(listed.contains(&service), "{service} not in {listed:?}");
    }

    let out = grpcurl_ok(&["-plaintext", at, "describe", "greeter.v1.Greeter"]).await;
    assert!(
        out.contains(
            "rpc SayHello ( .greeter.v1.HelloRequest ) returns ( .greeter.v1.HelloReply )"
        ),
        "{out}"
    );
    let out = grpcurl_ok(&["-plaintext", at, "describe", "greeter.v1.HelloRequest"]).await;
    assert!(out.contains("string name = 1;"), "{out}");

    // A service defined in Rust is described and called like the others.
    let out = grpcurl_ok(&["-plaintext", at, "describe", "shouts.v1.Shouts"]).await;
    assert!(
        out.contains("rpc Shout ( .greeter.v1.HelloRequest ) returns ( .greeter.v1.HelloReply )"),
        "{out}"
    );
    let out = grpcurl_ok(&[
        "-plaintext",
        "-d",
        r#"{"name":"hey"}"#,
        at,
        "shouts.v1.Shouts/Shout",
    ])
    .await;
    assert!(out.contains(r#""message": "HEY""#), "{out}");
    // Its streamed reply is a server stream to gRPC (the text's nRPC
    // option would make it unary, which the gateway does not serve).
    let out = grpcurl_ok(&["-plaintext", at, "describe", "shouts.v1.Shouts.Echo"]).await;
    assert!(
        out.contains("returns ( stream .greeter.v1.HelloReply )"),
        "{out}"
    );
    let out = grpcurl_ok(&[
        "-plaintext",
        "-d",
        r#"{"name":"hey"}"#,
        at,
        "shouts.v1.Shouts/Echo",
    ])
    .await;
    assert_eq!(out.matches(r#""message": "HEY""#).count(), 2, "{out}");

    // A call, with metadata; the reply's headers come back.
    let out = grpcurl_ok(&[
        "-plaintext",
        "-v",
        "-H",
        "tenant: acme",
        "-d",
        r#"{"name":"grpcurl"}"#,
        at,
        "greeter.v1.Greeter/SayHello",
    ])
    .await;
    assert!(out.contains(r#""message": "Hello, grpcurl""#), "{out}");
    assert!(out.contains("tenant-echo: acme"), "{out}");

    // A server stream.
    let out = grpcurl_ok(&[
        "-plaintext",
        "-d",
        r#"{"text":"ab"}"#,
        at,
        "chat.v1.Chat/Spell",
    ])
    .await;
    assert!(
        out.contains(r#""text": "a""#) && out.contains(r#""text": "b""#),
        "{out}"
    );

    // A status, as grpcurl prints it.
    let (ok, _, err) = grpcurl(&[
        "-plaintext",
        "-d",
        r#"{"code":5,"message":"no such thing"}"#,
        at,
        "greeter.v1.Greeter/Fail",
    ])
    .await;
    assert!(!ok);
    assert!(
        err.contains("Code: NotFound") && err.contains("Message: no such thing"),
        "{err}"
    );
}

#[tokio::test]
async fn a_gateway_with_a_subject_prefix_reaches_only_its_environment() {
    use nrpc_tests::greeter::greeter_server::GreeterServer;
    let server = nats_server();
    let _stable = serve_greeter(&server, "stable").await;
    // The canary serves under the prefix `canary` (NRPC_PREFIX).
    let canary_conn = nrpc_runtime::ConnectOptions::new()
        .servers(server.url())
        .subject_prefix("canary")
        .connect()
        .await
        .unwrap();
    let (canary, _events) = nrpc_tests::TestGreeter::new("canary");
    let _canary = nrpc_runtime::Server::builder(&canary_conn)
        .add_service(GreeterServer::new(canary))
        .serve()
        .await
        .unwrap();

    let plain = gateway(&server).await;
    let canary_conn = nrpc_runtime::ConnectOptions::new()
        .servers(server.url())
        .subject_prefix("canary")
        .connect()
        .await
        .unwrap();
    let builder = nrpc_gateway::Gateway::builder(canary_conn);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let canary_url = format!("http://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(builder.build().unwrap().serve(listener));

    // Both learn the same schema (whichever instance answers first); the
    // prefix is the gateway's connection's, not the schema's.
    for _ in 0..10 {
        for (url, instance) in [(&plain.url, "stable"), (&canary_url, "canary")] {
            let response = http()
                .post(format!("{url}/greeter.v1.Greeter/SayHello"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["instance"], instance);
        }
    }
    served.abort();
}

#[tokio::test]
async fn an_http_client_that_leaves_a_stream_cancels_the_handler() {
    use nrpc_tests::alloptions::svc_custom_subject_server::SvcCustomSubjectServer;
    let server = nats_server();
    let (service, mut events) = nrpc_tests::CustomSubject::new();
    let _custom = serve(&server, SvcCustomSubjectServer::new(service)).await;
    let gateway = gateway(&server).await;

    // `wait` streams one item, then waits until cancelled.
    let response = http()
        .post(format!(
            "{}/main.SvcCustomSubject/MtStreamedReply/eu1",
            gateway.url
        ))
        .body(r#"{"arg1":"wait"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let first = within("the first item", body.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(std::str::from_utf8(&first).unwrap(), "{\"reply\":\"0\"}\n");
    // The client leaves: the connection closes, the handler is told.
    drop(body);
    cancelled(&mut events, "wait").await;

    // gRPC calls this rpc unary (the stream is nRPC's streamedReply
    // option): the gateway says so rather than send a stream.
    let mut grpc = Grpc::connect(&gateway).await;
    let mut request = tonic::Request::new(nrpc_tests::alloptions::StringArg {
        arg1: "count:2".into(),
    });
    request
        .metadata_mut()
        .insert("nrpc-param-instance", "eu1".parse().unwrap());
    let status = grpc
        .unary::<_, nrpc_tests::alloptions::SimpleStringReply>(
            "/main.SvcCustomSubject/MtStreamedReply",
            request,
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("over NATS or HTTP"), "{status:?}");

    // Events are subscribed to over NATS or HTTP, not called over gRPC.
    let mut request = tonic::Request::new(());
    request
        .metadata_mut()
        .insert("nrpc-param-instance", "eu1".parse().unwrap());
    let status = grpc
        .unary::<_, nrpc_tests::alloptions::SimpleStringReply>(
            "/main.SvcCustomSubject/MtNoRequest",
            request,
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("is an event"), "{status:?}");
}

#[tokio::test]
async fn concurrent_first_calls_share_one_discovery() {
    let server = nats_server();
    let _a = serve_greeter(&server, "a").await;
    // Sees every INFO request for the greeter, the targeted one and the
    // broad one the gateway falls back to.
    let monitor = nrpc_tests::nats(&server).await;
    let mut infos = monitor.subscribe("$SRV.INFO.>").await.unwrap();
    monitor.flush().await.unwrap();
    let gateway = gateway(&server).await;

    let calls: Vec<_> = (0..20)
        .map(|i| {
            let url = format!("{}/greeter.v1.Greeter/SayHello", gateway.url);
            tokio::spawn(async move {
                http()
                    .post(url)
                    .body(format!(r#"{{"name":"{i}"}}"#))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for call in calls {
        assert_eq!(within("a call", call).await.unwrap(), 200);
    }

    // Everything the gateway asked was processed before its calls ended;
    // a marker sent now arrives after it.
    monitor
        .publish("$SRV.INFO.marker", "end".into())
        .await
        .unwrap();
    let mut asked = 0;
    within("the marker", async {
        while let Some(msg) = infos.next().await {
            if msg.subject.as_str() == "$SRV.INFO.marker" {
                break;
            }
            asked += 1;
        }
    })
    .await;
    assert_eq!(asked, 1, "20 first calls should share one discovery");
}
