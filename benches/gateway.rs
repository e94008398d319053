//! What the migration paths cost: a unary echo (16 B) called
//!
//! * `nrpc` — directly, the generated nrpc client over NATS (the floor);
//! * `gateway grpc` — a tonic client through the gateway to the same
//!   NATS service (one more HTTP/2 hop and the gateway's process);
//! * `gateway tls` — the tonic client through the gateway's TLS port
//!   (HTTP/2 by ALPN; a test CA made at start);
//! * `gateway web` — tonic's generated client over tonic-web's gRPC-Web
//!   client on HTTP/1.1 (hyper's pool), what a browser library speaks;
//! * `gateway json` — an HTTP/1.1 client (reqwest) posting JSON through
//!   the gateway (JSON ↔ protobuf in the gateway);
//! * `… +key`, `… +jwt` — the same through a gateway that authenticates
//!   (an API key; an ES256 JWT verified against a JWKS file) and rate
//!   limits every caller and method (a limit no row reaches): what
//!   putting the gateway in front of users costs per call;
//! * `dual grpc` — a tonic client straight to the implementation served
//!   over gRPC by the generated glue (`GreeterGrpc`), no NATS;
//! * `tonic` — the same tonic client against a plain tonic implementation
//!   of the same trait: what the glue adds.
//!
//! ```text
//! cargo bench -p nrpc-examples --bench gateway
//! ```
//!
//! Everything runs in one process on one machine (with nats-server beside
//! it), so rows compare costs, not a deployment. Prints calls/s, p50, p99.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use nrpc_examples::bench::Echo;
use nrpc_examples::greeter::greeter_client::GreeterClient;
use nrpc_examples::greeter::greeter_server::GreeterServer;
use nrpc_examples::greeter::grpc::greeter_client::GreeterClient as TonicClient;
use nrpc_examples::greeter::grpc::greeter_server::{
    Greeter as TonicGreeter, GreeterServer as TonicServer,
};
use nrpc_examples::greeter::grpc::GreeterGrpc;
use nrpc_examples::greeter::{EchoMessage, FailRequest, HelloReply, HelloRequest};
use nrpc_examples::Nats;
use nrpc_runtime::{async_nats, Connection, Server};
use tonic::transport::Channel;

const PAYLOAD: usize = 16;
const RUN: Duration = Duration::from_secs(3);
const WARMUP: Duration = Duration::from_millis(500);

/// The same echo written for tonic alone.
struct PlainTonic;

#[tonic::async_trait]
impl TonicGreeter for PlainTonic {
    async fn say_hello(
        &self,
        _: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        Err(tonic::Status::unimplemented("bench serves Echo only"))
    }
    async fn fail(
        &self,
        _: tonic::Request<FailRequest>,
    ) -> Result<tonic::Response<nrpc_runtime::proto::Void>, tonic::Status> {
        Err(tonic::Status::unimplemented("bench serves Echo only"))
    }
    async fn echo(
        &self,
        request: tonic::Request<EchoMessage>,
    ) -> Result<tonic::Response<EchoMessage>, tonic::Status> {
        Ok(tonic::Response::new(request.into_inner()))
    }
}

/// Serves a tonic service on a free port; a channel to it.
async fn grpc<S>(service: S) -> Result<Channel, Box<dyn Error>>
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            ),
    );
    Ok(Channel::from_shared(url)?.connect().await?)
}

/// A second gateway, on a TLS port with a certificate from a CA made here;
/// a channel to it that trusts that CA.
async fn tls_gateway(nats_url: &str) -> Result<Channel, Box<dyn Error>> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])?.signed_by(&key, &issuer)?;
    let dir = tempfile::tempdir()?;
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem())?;
    std::fs::write(&key_path, key.serialize_pem())?;

    let config = nrpc_gateway::tls::server_config(&cert_path, &key_path, None)?;
    let gateway = nrpc_gateway::Gateway::builder(
        Connection::new(async_nats::connect(nats_url).await?).await?,
    )
    .tls(config)
    .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("https://{}", listener.local_addr()?);
    tokio::spawn(gateway.serve(listener));
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(ca_pem));
    Ok(Channel::from_shared(url)?
        .tls_config(tls)?
        .connect()
        .await?)
}

fn row(mode: &str, in_flight: usize, rate: f64, p50: Duration, p99: Duration) {
    println!("{mode:<14} {in_flight:>9} {rate:>12.0} {p50:>10.1?} {p99:>10.1?}");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let msg = EchoMessage {
        payload: Bytes::from(vec![0x5a; PAYLOAD]),
    };
    let json = format!(
        "{{\"payload\":\"{}\"}}",
        "Wlpa".repeat(PAYLOAD / 3) + "Wg=="
    );

    let _server = Server::builder(&Connection::new(async_nats::connect(&nats.url).await?).await?)
        .max_concurrent_requests(4096)
        .add_service(GreeterServer::new(Echo))
        .serve()
        .await?;
    let nrpc = GreeterClient::new(Connection::new(async_nats::connect(&nats.url).await?).await?);

    let gateway = nrpc_gateway::Gateway::builder(
        Connection::new(async_nats::connect(&nats.url).await?).await?,
    )
    .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let gateway_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(gateway.serve(listener));
    let through_gateway =
        TonicClient::new(Channel::from_shared(gateway_url.clone())?.connect().await?);
    let http = reqwest::Client::new();
    let echo_url = format!("{gateway_url}/greeter.v1.Greeter/Echo");

    let guarded_url = guarded_gateway(&nats.url).await?;
    let guarded_channel = Channel::from_shared(guarded_url.clone())?.connect().await?;
    let with_key =
        TonicClient::with_interceptor(guarded_channel.clone(), |mut r: tonic::Request<()>| {
            r.metadata_mut().insert(
                "x-api-key",
                tonic::metadata::MetadataValue::from_static(API_KEY),
            );
            Ok(r)
        });
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", jwt()?).parse()?;
    let with_jwt =
        TonicClient::with_interceptor(guarded_channel, move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", bearer.clone());
            Ok(r)
        });
    let guarded_echo_url = format!("{guarded_url}/greeter.v1.Greeter/Echo");

    let through_tls = TonicClient::new(tls_gateway(&nats.url).await?);
    let http1 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let web = tower::ServiceBuilder::new()
        .layer(tonic_web::GrpcWebClientLayer::new())
        .service(http1);
    let through_web = TonicClient::with_origin(web, gateway_url.parse()?);

    let dual = TonicClient::new(grpc(GreeterGrpc::server(Echo)).await?);
    let plain = TonicClient::new(grpc(TonicServer::new(PlainTonic)).await?);

    println!("unary echo, {PAYLOAD} B payload, {RUN:?} per row, one process");
    println!(
        "{:<14} {:>9} {:>12} {:>10} {:>10}",
        "mode", "in-flight", "calls/s", "p50", "p99"
    );
    for in_flight in [1, 16, 64] {
        let (c, m) = (Arc::new(nrpc.clone()), Arc::new(msg.clone()));
        let (rate, p50, p99) = measure(in_flight, move || {
            let (c, m) = (c.clone(), m.clone());
            async move {
                c.echo(&m).await.expect("nrpc echo");
            }
        })
        .await;
        row("nrpc", in_flight, rate, p50, p99);

        for (mode, client) in [
            ("gateway grpc", &through_gateway),
            ("gateway tls", &through_tls),
            ("dual grpc", &dual),
            ("tonic", &plain),
        ] {
            let (c, m) = (client.clone(), msg.clone());
            let (rate, p50, p99) = measure(in_flight, move || {
                let (mut c, m) = (c.clone(), m.clone());
                async move {
                    c.echo(m).await.expect("gRPC echo");
                }
            })
            .await;
            row(mode, in_flight, rate, p50, p99);
        }

        let (c, m) = (through_web.clone(), msg.clone());
        let (rate, p50, p99) = measure(in_flight, move || {
            let (mut c, m) = (c.clone(), m.clone());
            async move {
                c.echo(m).await.expect("gRPC-Web echo");
            }
        })
        .await;
        row("gateway web", in_flight, rate, p50, p99);

        let (h, url, body) = (http.clone(), echo_url.clone(), json.clone());
        let (rate, p50, p99) = measure(in_flight, move || {
            let (h, url, body) = (h.clone(), url.clone(), body.clone());
            async move {
                let r = h
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("JSON echo");
                assert!(r.status().is_success(), "{:?}", r.text().await);
            }
        })
        .await;
        row("gateway json", in_flight, rate, p50, p99);
    }

    // What authentication and rate limits cost per call: the same call
    // through the plain and the guarded gateway, in alternating rounds
    // (on a loaded 2-core machine one round's noise is larger than the
    // difference; medians of alternating rounds are not).
    println!(
        "\nauthenticated + rate-limited vs plain, 64 in flight, {ROUNDS} alternating rounds of {ROUND:?}, median calls/s"
    );
    let grpc_echo = |client: TonicClient<_>| {
        let m = msg.clone();
        move || {
            let (mut c, m) = (client.clone(), m.clone());
            async move {
                c.echo(m).await.expect("gRPC echo");
            }
        }
    };
    paired("grpc, API key", grpc_echo(through_gateway.clone()), {
        let (c, m) = (with_key.clone(), msg.clone());
        move || {
            let (mut c, m) = (c.clone(), m.clone());
            async move {
                c.echo(m).await.expect("gRPC echo with an API key");
            }
        }
    })
    .await;
    paired("grpc, JWT", grpc_echo(through_gateway.clone()), {
        let (c, m) = (with_jwt.clone(), msg.clone());
        move || {
            let (mut c, m) = (c.clone(), m.clone());
            async move {
                c.echo(m).await.expect("gRPC echo with a JWT");
            }
        }
    })
    .await;
    let json_echo = |url: String, key: Option<&'static str>| {
        let (h, body) = (http.clone(), json.clone());
        move || {
            let (h, url, body) = (h.clone(), url.clone(), body.clone());
            async move {
                let mut request = h.post(url).header("content-type", "application/json");
                if let Some(key) = key {
                    request = request.header("x-api-key", key);
                }
                let r = request.body(body).send().await.expect("JSON echo");
                assert!(r.status().is_success(), "{:?}", r.text().await);
            }
        }
    };
    paired(
        "json, API key",
        json_echo(echo_url.clone(), None),
        json_echo(guarded_echo_url.clone(), Some(API_KEY)),
    )
    .await;
    Ok(())
}

const ROUNDS: usize = 7;
const ROUND: Duration = Duration::from_secs(1);

/// Calls/s of `plain` and `guarded`, in alternating rounds at 64 in
/// flight; prints both medians and the difference.
async fn paired<A, FA, B, FB>(name: &str, plain: A, guarded: B)
where
    A: Fn() -> FA + Clone + Send + 'static,
    FA: std::future::Future<Output = ()> + Send,
    B: Fn() -> FB + Clone + Send + 'static,
    FB: std::future::Future<Output = ()> + Send,
{
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(
            nrpc_examples::bench::measure(64, WARMUP / 5, ROUND, plain.clone())
                .await
                .0,
        );
        b.push(
            nrpc_examples::bench::measure(64, WARMUP / 5, ROUND, guarded.clone())
                .await
                .0,
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut a), median(&mut b));
    println!(
        "{name:<16} plain {a:>9.0}  guarded {b:>9.0}  cost {:>5.1} %",
        (a - b) / a * 100.0
    );
}

const API_KEY: &str = "bench-key-0123456789abcdef";

/// The ES256 key pair of the JWT rows: its JWKS and its signing key.
fn key_pair() -> &'static (String, jsonwebtoken::EncodingKey) {
    static PAIR: std::sync::OnceLock<(String, jsonwebtoken::EncodingKey)> =
        std::sync::OnceLock::new();
    PAIR.get_or_init(|| {
        use base64::Engine;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a key");
        let point = key.public_key_raw();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let jwks = format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"bench","alg":"ES256","x":"{}","y":"{}"}}]}}"#,
            b64(&point[1..33]),
            b64(&point[33..65])
        );
        let signing = jsonwebtoken::EncodingKey::from_ec_pem(key.serialize_pem().as_bytes())
            .expect("an ES256 key");
        (jwks, signing)
    })
}

/// A token for the JWT rows, valid for an hour.
fn jwt() -> Result<String, Box<dyn Error>> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("bench".into());
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + 3600;
    let claims = serde_json::json!({"sub": "bench", "scope": "echo", "exp": exp});
    Ok(jsonwebtoken::encode(&header, &claims, &key_pair().1)?)
}

/// A gateway that authenticates (API keys, JWTs) and rate limits every
/// caller and method; its URL.
async fn guarded_gateway(nats_url: &str) -> Result<String, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("keys"), format!("{API_KEY} bench echo\n"))?;
    std::fs::write(dir.path().join("jwks.json"), &key_pair().0)?;
    let auth = nrpc_gateway::Auth::new()
        .api_keys_file(dir.path().join("keys"))?
        .jwks_file(
            dir.path().join("jwks.json"),
            None,
            None,
            Duration::from_secs(60),
        )?;
    let unlimited = std::num::NonZeroU32::new(10_000_000).expect("non-zero");
    let gateway = nrpc_gateway::Gateway::builder(
        Connection::new(async_nats::connect(nats_url).await?).await?,
    )
    .auth(auth)
    .rate_limit(unlimited, unlimited)
    .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(gateway.serve(listener));
    Ok(url)
}

async fn measure<F, Fut>(in_flight: usize, call: F) -> (f64, Duration, Duration)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    nrpc_examples::bench::measure(in_flight, WARMUP, RUN, call).await
}
