//! The `nrpc` binary against real services on a real nats-server: what a
//! user at a terminal sees from `ls`, `info`, `stats`, `describe` and
//! `call`, errors included, and a server without a schema (the Python nRPC
//! peer, subscribed as a Go nRPC server is) called through `--proto`.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use std::process::Stdio;

use nrpc_runtime::{Request, Response, Status};
use nrpc_tests::greeter::greeter_server::GreeterServer;
use nrpc_tests::greeter::{HelloReply, HelloRequest};
use nrpc_tests::python::{line, root, Script};
use nrpc_tests::{connection, nats_server, within, NatsServer, TestGreeter};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Every call kind, defined in Rust.
mod rust_fleet {
    use nrpc_runtime::{nats_service, Status};
    pub use nrpc_tests::greeter::{HelloReply, HelloRequest};

    /// A fleet of nodes.
    #[nats_service(package = "fleet", proto_package = "fleet.v1")]
    pub trait Fleet {
        /// Every node reports.
        #[nrpc(poll)]
        async fn health(&self) -> Result<HelloReply, Status>;
        /// Which node answered, and the caller's `X-Tenant` header.
        async fn whoami(&self) -> Result<HelloReply, Status>;
        /// Restart, no answer.
        #[nrpc(no_reply)]
        async fn restart(&self, request: HelloRequest) -> Result<(), Status>;
        /// Alerts the fleet publishes.
        #[nrpc(event)]
        async fn alerts(&self) -> Result<HelloReply, Status>;
        /// Spells `name` letter by letter.
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

use rust_fleet::fleet_server::{Fleet, FleetEvents, FleetServer};

struct Node {
    name: &'static str,
    restarts: tokio::sync::mpsc::UnboundedSender<String>,
}

fn reply(message: impl Into<String>) -> HelloReply {
    HelloReply {
        message: message.into(),
    }
}

impl Fleet for Node {
    async fn health(&self, _: Request<()>) -> Result<Response<HelloReply>, Status> {
        Ok(Response::new(reply(format!("{} ok", self.name))))
    }

    async fn whoami(&self, request: Request<()>) -> Result<Response<HelloReply>, Status> {
        let tenant = request
            .metadata()
            .get("X-Tenant")
            .map_or("none", |v| v.as_str())
            .to_owned();
        Ok(Response::new(reply(format!("{} for {tenant}", self.name)))
            .with_header("X-Node", self.name))
    }

    async fn restart(&self, request: Request<HelloRequest>) -> Result<(), Status> {
        let _ = self.restarts.send(request.into_inner().name);
        Ok(())
    }

    async fn spell(
        &self,
        request: Request<HelloRequest>,
        sink: nrpc_runtime::Sink<HelloReply>,
    ) -> Result<(), Status> {
        for c in request.into_inner().name.chars() {
            sink.send(&reply(c.to_string())).await?;
        }
        Ok(())
    }

    async fn tally(
        &self,
        request: Request<nrpc_runtime::Streaming<HelloRequest>>,
    ) -> Result<Response<HelloReply>, Status> {
        use futures::StreamExt;
        let names: Vec<_> = request.into_inner().collect().await;
        let names = names.into_iter().collect::<Result<Vec<_>, _>>()?;
        let joined: Vec<String> = names.into_iter().map(|n| n.name).collect();
        Ok(Response::new(reply(format!(
            "{}: {}",
            joined.len(),
            joined.join(",")
        ))))
    }

    async fn greet_all(
        &self,
        request: Request<nrpc_runtime::Streaming<HelloRequest>>,
        sink: nrpc_runtime::Sink<HelloReply>,
    ) -> Result<(), Status> {
        use futures::StreamExt;
        let mut names = request.into_inner();
        while let Some(name) = names.next().await {
            sink.send(&reply(format!("hi {}", name?.name))).await?;
        }
        Ok(())
    }
}

/// What one run of the binary printed.
#[derive(Debug)]
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// The binary with `args`, connected to `server`, with no NATS settings
/// from this machine's environment or contexts.
fn command<S: AsRef<str>>(server: &NatsServer, args: &[S]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_nrpc"));
    for (key, _) in std::env::vars() {
        if key.starts_with("NATS_") || key == "NRPC_PREFIX" {
            cmd.env_remove(key);
        }
    }
    // No `nats` CLI contexts: a config directory that does not exist.
    cmd.env(
        "XDG_CONFIG_HOME",
        root().join("target/nrpc-cli-test-no-config"),
    )
    .args(["--server", &server.url()])
    .args(args.iter().map(AsRef::as_ref))
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    cmd
}

/// Runs the binary to its end, feeding it `stdin`.
async fn nrpc_with<S: AsRef<str>>(server: &NatsServer, args: &[S], stdin: &str) -> Run {
    let shown = strs(args);
    let mut child = command(server, args).spawn().expect("the nrpc binary runs");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("stdin written");
    drop(input);
    let out = within(&format!("nrpc {shown:?}"), child.wait_with_output())
        .await
        .expect("the nrpc binary ends");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn nrpc<S: AsRef<str>>(server: &NatsServer, args: &[S]) -> Run {
    nrpc_with(server, args, "").await
}

/// A run that must succeed.
async fn ok<S: AsRef<str>>(server: &NatsServer, args: &[S]) -> Run {
    let run = nrpc(server, args).await;
    assert!(run.ok, "nrpc {:?} failed: {run:?}", strs(args));
    run
}

/// A run that must fail; returns its error output.
async fn err<S: AsRef<str>>(server: &NatsServer, args: &[S]) -> String {
    let run = nrpc(server, args).await;
    assert!(!run.ok, "nrpc {:?} should fail: {run:?}", strs(args));
    assert!(run.stderr.starts_with("error: "), "{run:?}");
    run.stderr
}

/// A running `nrpc gateway` with `args`: the process, its URL and the
/// lines it prints after the first (which names the URL).
struct GatewayProcess {
    child: tokio::process::Child,
    url: String,
    out: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

async fn start_gateway(server: &NatsServer, args: &[&str]) -> GatewayProcess {
    let mut child = command(server, &[&["gateway"], args].concat())
        .spawn()
        .expect("the nrpc binary runs");
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = within("the gateway starts", out.next_line())
        .await
        .unwrap()
        .unwrap();
    let url = first
        .strip_prefix("nrpc gateway listening on ")
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_owned();
    GatewayProcess { child, url, out }
}

fn strs<S: AsRef<str>>(args: &[S]) -> Vec<&str> {
    args.iter().map(AsRef::as_ref).collect()
}

/// The lines of stdout as JSON documents.
fn json_lines(run: &Run) -> Vec<serde_json::Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{run:?}: {e}"))
}

struct Services {
    greeters: Vec<nrpc_runtime::ServerHandle>,
    fleet: Vec<nrpc_runtime::ServerHandle>,
    restarts: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Two greeter instances (version 1.2.3) and two fleet nodes `a` and `b`.
async fn services(server: &NatsServer) -> Services {
    let mut greeters = Vec::new();
    for name in ["g1", "g2"] {
        let (greeter, _events) = TestGreeter::new(name);
        greeters.push(
            nrpc_runtime::Server::builder(&connection(server).await)
                .version("1.2.3")
                .metadata("team", "greeters")
                .add_service(GreeterServer::new(greeter))
                .serve()
                .await
                .unwrap(),
        );
    }
    let (tx, restarts) = tokio::sync::mpsc::unbounded_channel();
    let mut fleet = Vec::new();
    for name in ["a", "b"] {
        fleet.push(
            nrpc_runtime::Server::builder(&connection(server).await)
                .add_service(FleetServer::new(Node {
                    name,
                    restarts: tx.clone(),
                }))
                .serve()
                .await
                .unwrap(),
        );
    }
    Services {
        greeters,
        fleet,
        restarts,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ls_info_stats_and_describe_show_what_services_publish() {
    let server = nats_server();
    let s = services(&server).await;

    let ls = ok(&server, &["ls"]).await;
    let header = ls.stdout.lines().next().unwrap();
    assert_eq!(
        header,
        "SERVICE             VERSION  INSTANCE                ENDPOINTS  DESCRIPTION"
    );
    for h in s.greeters.iter().chain(&s.fleet) {
        assert!(ls.stdout.contains(h.instance_id()), "{ls:?}");
    }
    assert!(
        ls.stdout
            .lines()
            .any(|l| l.starts_with("greeter.v1.Greeter  1.2.3")
                && l.ends_with("3          Greets people.")),
        "{ls:?}"
    );
    assert!(
        ls.stdout.ends_with("\n2 service(s), 4 instance(s)\n"),
        "{ls:?}"
    );
    let listed = json(&ok(&server, &["ls", "--json"]).await);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[0]["service"], "fleet.v1.Fleet");
    assert_eq!(listed[0]["endpoints"], 6, "events are not endpoints");
    assert_eq!(listed[3]["service"], "greeter.v1.Greeter");
    assert_eq!(listed[3]["version"], "1.2.3");

    // Any of the three names; endpoints with kinds, subjects, queue groups.
    for name in ["greeter.v1.Greeter", "greeter_v1_Greeter", "Greeter"] {
        let info = ok(&server, &["info", name]).await;
        assert!(info.stdout.starts_with("Service:      greeter.v1.Greeter\nNATS name:    greeter_v1_Greeter\nDescription:  Greets people.\n"), "{info:?}");
        assert!(info.stdout.contains("team=greeters"), "{info:?}");
        assert!(
            info.stdout
                .contains("SayHello  unary  demo.Greeter.SayHello  q"),
            "{info:?}"
        );
    }
    let info = ok(&server, &["info", "fleet.v1.Fleet"]).await;
    assert!(
        info.stdout
            .contains("Health    unary, polling    fleet.Fleet.Health    q"),
        "{info:?}"
    );
    assert!(
        info.stdout
            .contains("GreetAll  bidirectional     fleet.Fleet.GreetAll  q"),
        "{info:?}"
    );
    let infos = json(&ok(&server, &["info", "Fleet", "--json"]).await);
    assert_eq!(infos.as_array().unwrap().len(), 2);

    // Stats count what calls did.
    ok(
        &server,
        &["call", "greeter.v1.Greeter.SayHello", r#"{"name":"x"}"#],
    )
    .await;
    ok(
        &server,
        &["call", "greeter.v1.Greeter.SayHello", r#"{"name":"y"}"#],
    )
    .await;
    err(
        &server,
        &[
            "call",
            "greeter.v1.Greeter.Fail",
            r#"{"code":5,"message":"gone"}"#,
        ],
    )
    .await;
    let stats = ok(&server, &["stats", "Greeter"]).await;
    let total = stats.stdout.lines().last().unwrap();
    let cells: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(
        &cells[..5],
        ["2", "instance(s)", "(all)", "3", "1"],
        "3 requests, 1 error: {stats:?}"
    );
    assert!(stats.stdout.contains("NOT_FOUND: gone"), "{stats:?}");
    let stats = json(&ok(&server, &["stats", "Greeter", "--json"]).await);
    let requests: u64 = stats
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["endpoints"].as_array().unwrap())
        .map(|e| e["num_requests"].as_u64().unwrap())
        .sum();
    assert_eq!(requests, 3);

    // The service as .proto text with its messages.
    let text = ok(&server, &["describe", "greeter.v1.Greeter"])
        .await
        .stdout;
    for want in [
        "package greeter.v1;",
        "service Greeter {",
        "    rpc SayHello(HelloRequest) returns (HelloReply);",
        "    rpc Fail(FailRequest) returns (.nrpc.Void);",
        "message HelloRequest {\n    string name = 1;\n}",
        "message FailRequest {\n    int32 code = 1;\n    string message = 2;\n}",
        "message EchoMessage {\n    bytes payload = 1;\n}",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    let one = ok(&server, &["describe", "greeter.v1.Greeter.Fail"])
        .await
        .stdout;
    assert!(one.contains("rpc Fail(FailRequest)"), "{one}");
    assert!(one.contains("message FailRequest {"), "{one}");
    assert!(
        !one.contains("SayHello") && !one.contains("HelloRequest"),
        "{one}"
    );
    // A Rust-defined service: its own text, messages from the descriptors.
    let fleet = ok(&server, &["describe", "Fleet"]).await.stdout;
    for want in [
        "service Fleet {",
        "    rpc GreetAll(stream .greeter.v1.HelloRequest) returns (stream .greeter.v1.HelloReply) {",
        "        option (nrpc.pollingEnabled) = true;",
        "message HelloReply {\n    string message = 1;\n}",
    ] {
        assert!(fleet.contains(want), "{want:?} missing from:\n{fleet}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_of_every_kind() {
    let server = nats_server();
    let mut s = services(&server).await;

    // Unary: the reply as JSON.
    let run = ok(
        &server,
        &["call", "greeter.v1.Greeter.SayHello", r#"{"name":"cli"}"#],
    )
    .await;
    assert_eq!(json(&run), serde_json::json!({"message": "Hello, cli"}));
    assert_eq!(run.stdout, "{\n  \"message\": \"Hello, cli\"\n}\n");
    // The Rust method name works too; bytes are base64 in JSON.
    let run = ok(&server, &["call", "Greeter.echo", r#"{"payload":"AAEC"}"#]).await;
    assert_eq!(json(&run), serde_json::json!({"payload": "AAEC"}));

    // Headers out and in; a direct call reaches the instance asked for.
    let b = s.fleet[1].instance_id().to_owned();
    let run = ok(
        &server,
        &[
            "call",
            "Fleet.Whoami",
            "-H",
            "X-Tenant=acme",
            "--instance",
            &b,
            "-v",
        ],
    )
    .await;
    assert_eq!(json(&run), serde_json::json!({"message": "b for acme"}));
    assert!(run.stderr.contains("< X-Node: b"), "{run:?}");

    // Polling: every instance's reply, one line each.
    let run = ok(&server, &["call", "Fleet.Health"]).await;
    let mut replies: Vec<(String, String)> = json_lines(&run)
        .iter()
        .map(|r| {
            (
                r["instance"].as_str().unwrap().to_owned(),
                r["reply"]["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    replies.sort();
    let mut want = vec![
        (s.fleet[0].instance_id().to_owned(), "a ok".to_owned()),
        (b.clone(), "b ok".to_owned()),
    ];
    want.sort();
    assert_eq!(replies, want);
    assert!(run.stderr.contains("2 instance(s) answered"), "{run:?}");
    let run = ok(&server, &["call", "Fleet.Health", "--one"]).await;
    assert!(json(&run)["message"].as_str().unwrap().ends_with(" ok"));

    // Fire-and-forget reaches a node.
    ok(&server, &["call", "Fleet.Restart", r#"{"name":"now"}"#]).await;
    assert_eq!(
        within("restart", s.restarts.recv()).await.as_deref(),
        Some("now")
    );

    // A streamed reply: one line per item, in order.
    let run = ok(&server, &["call", "Fleet.Spell", r#"{"name":"abc"}"#]).await;
    assert_eq!(
        run.stdout,
        "{\"message\":\"a\"}\n{\"message\":\"b\"}\n{\"message\":\"c\"}\n"
    );
    assert!(run.stderr.contains("3 item(s)"), "{run:?}");

    // Client and bidirectional streams read JSON lines from stdin.
    let names = "{\"name\":\"x\"}\n\n{\"name\":\"y\"}\n{\"name\":\"z\"}\n";
    let run = nrpc_with(&server, &["call", "Fleet.Tally"], names).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(run.stdout, "{\"message\":\"3: x,y,z\"}\n");
    let run = nrpc_with(&server, &["call", "Fleet.GreetAll"], names).await;
    assert!(run.ok, "{run:?}");
    assert_eq!(
        run.stdout,
        "{\"message\":\"hi x\"}\n{\"message\":\"hi y\"}\n{\"message\":\"hi z\"}\n"
    );

    // Events: printed as published.
    let mut child = command(&server, &["call", "Fleet.Alerts", "--count", "1"])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = within("listening", stderr.next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.starts_with("listening on fleet.Fleet.Alerts"),
        "{first}"
    );
    let publisher = connection(&server).await;
    FleetEvents::new(publisher.clone())
        .publish_alerts(&reply("disk full"))
        .await
        .unwrap();
    publisher.flush().await.unwrap();
    let out = within("event", child.wait_with_output()).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"message\":\"disk full\"}\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_a_user_can_act_on() {
    let server = nats_server();
    let s = services(&server).await;

    // A typed error from the service, with its code.
    let e = err(
        &server,
        &[
            "call",
            "greeter.v1.Greeter.Fail",
            r#"{"code":5,"message":"gone"}"#,
        ],
    )
    .await;
    assert_eq!(e, "error: NOT_FOUND (5): gone\n");

    // Bad JSON: where, and what was expected.
    let e = err(&server, &["call", "Greeter.SayHello", r#"{"name": 5}"#]).await;
    assert!(
        e.contains("not a valid greeter.v1.HelloRequest: at name:"),
        "{e}"
    );
    let e = err(&server, &["call", "Greeter.SayHello", r#"{"nmae": "x"}"#]).await;
    assert!(e.contains("unrecognized field name 'nmae'"), "{e}");
    assert!(e.ends_with("(did you mean name?)\n"), "{e}");
    let e = err(&server, &["call", "Greeter.SayHello", "{"]).await;
    assert!(e.contains("not a valid greeter.v1.HelloRequest"), "{e}");
    let e = err(&server, &["call", "Greeter.Fail", "[]"]).await;
    assert!(e.contains("greeter.v1.FailRequest"), "{e}");
    let run = nrpc_with(
        &server,
        &["call", "Fleet.Tally"],
        "{\"name\":\"x\"}\n{\"name\":1}\n",
    )
    .await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.contains("request 2 (stdin line)"), "{run:?}");

    // Unknown names, with the close matches.
    let e = err(&server, &["call", "greeter.v1.Greeter.SayHelo", "{}"]).await;
    assert!(
        e.contains("has no method \"SayHelo\" (did you mean SayHello?)"),
        "{e}"
    );
    let e = err(&server, &["call", "greeter.v1.Greter.SayHello", "{}"]).await;
    assert!(
        e.contains("no service \"greeter.v1.Greter\" (did you mean greeter.v1.Greeter"),
        "{e}"
    );
    let e = err(&server, &["info", "Nothing"]).await;
    assert!(e.contains("no service \"Nothing\""), "{e}");
    let e = err(&server, &["call", "Greeter", "{}"]).await;
    assert!(e.contains("not SERVICE.METHOD"), "{e}");

    // Nobody there, and nobody answering in time.
    let e = err(
        &server,
        &["call", "Greeter.SayHello", "--instance", "nobody", "{}"],
    )
    .await;
    assert!(e.contains("no responders"), "{e}");
    let e = err(
        &server,
        &[
            "--timeout",
            "300ms",
            "call",
            "Greeter.SayHello",
            r#"{"name":"forever"}"#,
        ],
    )
    .await;
    assert!(e.contains("DEADLINE_EXCEEDED"), "{e}");

    // Subject parameters: missing and unknown ones.
    let e = err(
        &server,
        &["call", "Greeter.SayHello", "-p", "region=eu", "{}"],
    )
    .await;
    assert!(
        e.contains("has no subject parameter \"region\" (it takes none)"),
        "{e}"
    );

    // A CORS origin that no browser would send.
    let e = err(&server, &["gateway", "--allow-origin", "app.example"]).await;
    assert!(e.contains("\"app.example\" is not an origin"), "{e}");

    // An exposure pattern that is not one.
    let e = err(
        &server,
        &["gateway", "--expose", "orders.v1.Orders/Get Order"],
    )
    .await;
    assert!(
        e.contains("\"orders.v1.Orders/Get Order\" is not a <package.Service>/<Method> pattern"),
        "{e}"
    );

    // Authentication settings that cannot be used: each named.
    let keys = std::env::temp_dir().join(format!("nrpc-cli-keys-{}", std::process::id()));
    std::fs::write(&keys, "k-0123456789abcdef ada\nshort bob\n").unwrap();
    let e = err(&server, &["gateway", "--api-keys", keys.to_str().unwrap()]).await;
    assert!(
        e.trim_end()
            .ends_with(":2: a key must have at least 16 characters"),
        "{e}"
    );
    std::fs::write(&keys, "{\"keys\": [{\"kty\": \"EC\"}]}").unwrap();
    let e = err(&server, &["gateway", "--jwks", keys.to_str().unwrap()]).await;
    assert!(e.contains("not a usable JSON Web Key Set"), "{e}");
    let _ = std::fs::remove_file(&keys);
    let e = err(&server, &["gateway", "--require", "a.B/*=x"]).await;
    assert!(
        e.contains("--require and --allow-anonymous need --jwks or --api-keys"),
        "{e}"
    );

    // An HTTP route whose host is not served over NATS.
    let e = err(
        &server,
        &["gateway", "--http-route", "/city=weather.example"],
    )
    .await;
    assert!(e.contains("must end in .nats"), "{e}");

    // TLS on the gateway's port: a certificate file that is not there.
    let e = err(
        &server,
        &[
            "gateway",
            "--listen-cert",
            "nope.pem",
            "--listen-key",
            "nope-key.pem",
        ],
    )
    .await;
    assert!(e.starts_with("error: certificate nope.pem: "), "{e}");

    // A server that is not there.
    drop(s);
    let dead = format!("nats://127.0.0.1:{}", free_port());
    let run = nrpc(&server, &["--server", &dead, "ls"]).await;
    assert!(!run.ok, "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{run:?}");
}

/// A loopback port nobody listens on (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_without_schema_is_called_through_its_proto() {
    let server = nats_server();
    // The Python nRPC peer, subscribed as a Go nRPC server: no discovery.
    let mut peer = Script::start("server.py", &[&server.url(), "py", "go"]);
    assert_eq!(line(&mut peer).await, "ready");
    let proto = root().join("proto/interop.proto");
    let include = root().join("proto");
    let (proto, include) = (proto.to_str().unwrap(), include.to_str().unwrap());

    let e = err(&server, &["call", "interop.v1.Lab.Hello", "{}"]).await;
    assert!(e.contains("no service answers discovery"), "{e}");

    let with_proto = |args: &[&'static str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        all.extend(["--proto", proto, "-I", include].map(str::to_owned));
        all
    };
    let run = ok(
        &server,
        &with_proto(&[
            "call",
            "interop.v1.Lab.Hello",
            "-p",
            "region=eu",
            "-p",
            "tenant=t1",
            r#"{"text":"cli"}"#,
        ]),
    )
    .await;
    assert_eq!(
        json(&run),
        serde_json::json!({"text": "hello, cli from py"})
    );
    let run = ok(
        &server,
        &with_proto(&[
            "call",
            "Lab.Tag",
            "-p",
            "region=eu",
            "-p",
            "tenant=t1",
            "-p",
            "label=x",
        ]),
    )
    .await;
    assert_eq!(json(&run), serde_json::json!({"text": "eu/t1/x"}));
    let e = err(
        &server,
        &with_proto(&[
            "call",
            "Lab.Fail",
            "-p",
            "region=eu",
            "-p",
            "tenant=t1",
            r#"{"kind":"CLIENT","message":"bad"}"#,
        ]),
    )
    .await;
    assert!(e.contains("bad"), "{e}");
    let e = err(
        &server,
        &with_proto(&["call", "Lab.Hello", "-p", "region=eu", "{}"]),
    )
    .await;
    assert!(
        e.contains("needs the subject parameter \"tenant\": add -p tenant=VALUE"),
        "{e}"
    );
    // Given twice is refused, as the gateway refuses it (the CLI used to
    // take the first).
    let twice = [
        "call",
        "Lab.Hello",
        "-p",
        "region=eu",
        "-p",
        "tenant=a",
        "-p",
        "tenant=b",
        "{}",
    ];
    let e = err(&server, &with_proto(&twice)).await;
    assert!(e.contains("\"tenant\" is given twice"), "{e}");
    let text = ok(&server, &with_proto(&["describe", "interop.v1.Lab"]))
        .await
        .stdout;
    assert!(text.contains("service Lab {"), "{text}");
    assert!(text.contains("message Greeting {"), "{text}");
    drop(peer);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_binary_serves_json_from_schemas_and_proto_files() {
    let server = nats_server();
    let _services = services(&server).await;
    // The Python nRPC peer, subscribed as a Go nRPC server: no schema.
    let mut peer = Script::start("server.py", &[&server.url(), "py", "go"]);
    assert_eq!(line(&mut peer).await, "ready");
    let proto = root().join("proto/interop.proto");
    let include = root().join("proto");

    let GatewayProcess {
        mut child,
        url,
        mut out,
    } = start_gateway(
        &server,
        &[
            "--listen",
            "127.0.0.1:0",
            "--proto",
            proto.to_str().unwrap(),
            "-I",
            include.to_str().unwrap(),
            "--allow-origin",
            "http://app.example",
            "--metrics",
        ],
    )
    .await;
    // It says what it exposes.
    let second = within("the gateway starts", out.next_line()).await.unwrap();
    assert_eq!(second.as_deref(), Some("exposing every service and method"));
    let http = reqwest::Client::new();

    // A service learned from its published schema.
    let reply: serde_json::Value = http
        .post(format!("{url}/greeter.v1.Greeter/SayHello"))
        .header("content-type", "application/json")
        .body(r#"{"name":"gateway"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply, serde_json::json!({"message": "Hello, gateway"}));

    // That call, counted on /metrics.
    let metrics = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = metrics.lines().find(|l| {
        l.starts_with("nrpc_client_handled_total{")
            && l.contains(r#"method="SayHello""#)
            && l.contains(r#"code="OK""#)
    });
    assert!(counted.is_some_and(|l| l.ends_with(" 1")), "{metrics}");

    // A Go-style server known only from the .proto given at start.
    let response = http
        .post(format!("{url}/interop.v1.Lab/Hello?region=eu&tenant=t1"))
        .header("content-type", "application/json")
        .body(r#"{"text":"gw"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reply: serde_json::Value = response.json().await.unwrap();
    assert_eq!(reply, serde_json::json!({"text": "hello, gw from py"}));

    // The console's page.
    let page = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<title>nrpc console</title>"), "{page}");

    // Browsers on the allowed origin may call; others are not told so.
    for (origin, allowed) in [
        ("http://app.example", true),
        ("http://other.example", false),
    ] {
        let preflight = http
            .request(
                reqwest::Method::OPTIONS,
                format!("{url}/greeter.v1.Greeter/SayHello"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,tenant")
            .send()
            .await
            .unwrap();
        let headers = preflight.headers();
        assert_eq!(
            headers
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap()),
            allowed.then_some(origin),
            "{origin}: {headers:?}"
        );
    }

    child.kill().await.unwrap();
}

#[test]
fn version_and_completions_need_no_nats() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_nrpc"))
            .args(args)
            // Nowhere to connect: these must not try.
            .env("NATS_URL", "nats://127.0.0.1:1")
            .output()
            .expect("the nrpc binary runs");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let version = run(&["--version"]);
    assert_eq!(
        version.trim(),
        format!(
            "nrpc {} (wire protocol: nRPC with nrpc extensions v{})",
            env!("CARGO_PKG_VERSION"),
            nrpc_wire::PROTOCOL_VERSION
        )
    );
    for (shell, marker) in [
        ("bash", "_nrpc()"),
        ("zsh", "#compdef nrpc"),
        ("fish", "complete -c nrpc"),
    ] {
        let script = run(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("gateway"),
            "{shell}: subcommands are completed"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_logs_a_line_per_call_when_asked() {
    let server = nats_server();
    let _services = services(&server).await;
    let keys = std::env::temp_dir().join(format!("nrpc-cli-audit-keys-{}", std::process::id()));
    std::fs::write(&keys, "ops-key-0123456789abcd ops\n").unwrap();
    let GatewayProcess { mut child, url, .. } = start_gateway(
        &server,
        &[
            "--listen",
            "127.0.0.1:0",
            "--audit",
            "--api-keys",
            keys.to_str().unwrap(),
        ],
    )
    .await;
    let mut log = BufReader::new(child.stderr.take().unwrap()).lines();
    let http = reqwest::Client::new();
    let call = |key: Option<&'static str>| {
        let mut request = http
            .post(format!("{url}/greeter.v1.Greeter/SayHello"))
            .header("content-type", "application/json")
            .body(r#"{"name":"audited"}"#);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send()
    };
    assert_eq!(
        call(Some("ops-key-0123456789abcd")).await.unwrap().status(),
        200
    );
    assert_eq!(call(None).await.unwrap().status(), 401);
    // Two lines, in order: who, which method, the outcome.
    let mut lines = Vec::new();
    while lines.len() < 2 {
        let line = within("an audit line", log.next_line())
            .await
            .unwrap()
            .unwrap();
        if line.contains("nrpc_gateway::audit") {
            lines.push(line);
        }
    }
    for (line, caller, status) in [(&lines[0], "ops", "200"), (&lines[1], "-", "401")] {
        assert!(line.contains(&format!("caller={caller}")), "{line}");
        assert!(
            line.contains("method=/greeter.v1.Greeter/SayHello"),
            "{line}"
        );
        assert!(line.contains(&format!("http_status={status}")), "{line}");
        assert!(
            line.contains("peer=127.0.0.1") && line.contains("duration_us="),
            "{line}"
        );
    }
    let _ = std::fs::remove_file(&keys);
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_reads_its_settings_from_a_file_and_names_the_line_of_a_mistake() {
    let server = nats_server();
    let _services = services(&server).await;
    let dir = std::env::temp_dir().join(format!("nrpc-cli-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keys"), "cfg-key-0123456789abcd ops\n").unwrap();
    let config = dir.join("gateway.toml");
    let write = |text: &str| std::fs::write(&config, text).unwrap();
    let path = config.to_str().unwrap().to_owned();

    // Mistakes, each named with its line.
    for (text, error) in [
        (
            "listen = \"127.0.0.1:0\"\ncall_timeout = \"soon\"\n",
            ":2: \"soon\" is not a duration",
        ),
        (
            "audit = true\n\n[expose]\nallow = [\"orders.v1.Orders/Get Order\"]\n",
            ":4: \"orders.v1.Orders/Get Order\" is not a",
        ),
        (
            "audit = true\nlisten_on = \"x\"\n",
            ":2: unknown field `listen_on`",
        ),
        (
            "[auth]\nrequire = [\"a.B/*\"]\n",
            ":2: \"a.B/*\" is not <pattern>=<scope>",
        ),
        (
            "allow_origins = [\"app.example\"]\n",
            ":1: \"app.example\" is not an origin",
        ),
        ("max_body = \"big\"\n", ":1: invalid type"),
    ] {
        write(text);
        let e = err(&server, &["gateway", "--config", &path]).await;
        assert!(e.contains(error), "{text:?}: {e}");
    }

    // A file that works: its settings apply, and a flag wins over it.
    write(
        r#"
listen = "127.0.0.1:1"   # the flag below wins
call_timeout = "2s"
audit = false

[expose]
allow = ["greeter.v1.Greeter/SayHello"]

[auth]
api_keys = "keys"        # relative to this file

[rate_limit]
per_second = 100
"#,
    );
    let GatewayProcess {
        mut child,
        url,
        mut out,
    } = start_gateway(&server, &["--config", &path, "--listen", "127.0.0.1:0"]).await;
    let second = within("the gateway starts", out.next_line()).await.unwrap();
    assert_eq!(
        second.as_deref(),
        Some("exposing greeter.v1.Greeter/SayHello")
    );
    let http = reqwest::Client::new();
    let call = |method: &str, key: Option<&'static str>| {
        let mut request = http
            .post(format!("{url}/greeter.v1.Greeter/{method}"))
            .header("content-type", "application/json")
            .body("{}");
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        request.send()
    };
    let key = Some("cfg-key-0123456789abcd");
    assert_eq!(call("SayHello", key).await.unwrap().status(), 200);
    assert_eq!(call("SayHello", None).await.unwrap().status(), 401);
    assert_eq!(call("Fail", key).await.unwrap().status(), 404);
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_guides_complete_configuration_is_valid() {
    let server = nats_server();
    let guide =
        std::fs::read_to_string(root().join("docs/guides/gateway-in-production.md")).unwrap();
    let start = guide.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let example = &guide[start..start + guide[start..].find("```").unwrap()];
    let dir = std::env::temp_dir().join(format!("nrpc-cli-guide-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    std::fs::write(&config, example).unwrap();
    // Every key and value in it is read and checked first; then the first
    // file it names that is not there (this directory has none) stops
    // the gateway.
    let e = err(&server, &["gateway", "--config", config.to_str().unwrap()]).await;
    assert!(e.contains("jwks.json: No such file"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn nrpc_http_is_curl_over_nats() {
    let server = nats_server();
    let conn = nrpc_tests::connection(&server).await;
    let app = axum::Router::new().route(
        "/echo",
        axum::routing::any(|request: axum::extract::Request| async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let a = parts
                .headers
                .get("x-a")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                axum::http::StatusCode::CREATED,
                [
                    ("x-method", parts.method.to_string()),
                    ("x-a", a.unwrap_or_default()),
                ],
                format!("{} {}", parts.uri, String::from_utf8_lossy(&body)),
            )
        }),
    );
    let handle = nrpc_http::HttpServer::builder(&conn, "echo.nats")
        .unwrap()
        .serve(app)
        .await
        .unwrap();

    let run = ok(
        &server,
        &[
            "http",
            "-i",
            "-X",
            "put",
            "-H",
            "X-A: 1",
            "-d",
            "hello",
            "http://echo.nats/echo?x=1",
        ],
    )
    .await;
    assert!(run.stdout.starts_with("HTTP/1.1 201 Created\n"), "{run:?}");
    assert!(
        run.stdout.contains("x-method: PUT\n") && run.stdout.contains("x-a: 1\n"),
        "{run:?}"
    );
    assert!(run.stdout.ends_with("\n\n/echo?x=1 hello"), "{run:?}");
    // Without -i, the body alone; a body makes it a POST.
    let run = ok(&server, &["http", "-d", "b", "http://echo.nats/echo"]).await;
    assert_eq!(run.stdout, "/echo b");
    // Nobody serves the host: the 503 is printed, as curl prints any status.
    let run = ok(&server, &["http", "-i", "http://nobody.nats/"]).await;
    assert!(
        run.stdout.starts_with("HTTP/1.1 503 Service Unavailable\n"),
        "{run:?}"
    );
    // It is listed with the other services.
    let run = ok(&server, &["ls"]).await;
    assert!(run.stdout.contains("echo.nats"), "{run:?}");
    // A host that is not served over NATS is an error.
    let e = err(&server, &["http", "http://example.com/"]).await;
    assert!(e.contains("must end in .nats"), "{e}");
    handle.shutdown(std::time::Duration::from_secs(5)).await;
}

/// Refuses mail to `bad`; reports what it sends.
struct Mailbox(tokio::sync::mpsc::UnboundedSender<String>);

impl nrpc_tests::jobs::mailer_server::Mailer for Mailbox {
    async fn send(&self, request: Request<nrpc_tests::jobs::Email>) -> Result<(), Status> {
        let email = request.into_inner();
        if email.to == "bad" {
            return Err(Status::invalid_argument("no such mailbox"));
        }
        let _ = self.0.send(format!("{} to {}", email.id, email.to));
        Ok(())
    }

    async fn ping(&self, _: Request<nrpc_tests::jobs::Email>) -> Result<(), Status> {
        Ok(())
    }
}

/// `nrpc dlq` round trip: a refused durable command is listed with its
/// reason, shown as JSON through the schema, redriven with a corrected
/// payload and then handled, and what is left can be purged.
#[tokio::test]
async fn dlq_lists_shows_redrives_and_purges_dead_letters() {
    use nrpc_tests::jobs::mailer_client::MailerClient;
    use nrpc_tests::jobs::mailer_server::MailerServer;
    use nrpc_tests::jobs::Email;
    let server = NatsServer::start_jetstream().unwrap();
    let conn = connection(&server).await;
    let (sent, mut handled) = tokio::sync::mpsc::unbounded_channel();
    let handle = nrpc_runtime::Server::builder(&conn)
        .add_service(MailerServer::new(Mailbox(sent)))
        .serve()
        .await
        .unwrap();
    let client = MailerClient::new(conn.clone());
    let email = |id: &str, to: &str| Email {
        id: id.into(),
        to: to.into(),
        subject: "hi".into(),
    };
    client.send(&email("m-1", "bad")).await.unwrap();
    let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let dead = || async {
        js.get_stream("NRPC_DLQ_jobs_v1_Mailer")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages
    };
    within("the dead letter", async {
        while dead().await == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;

    let stats = ok(&server, &["stats", "Mailer"]).await.stdout;
    assert!(stats.contains("NRPC_jobs_v1_Mailer_Send"), "{stats}");
    assert!(stats.contains("dead letters: 1"), "{stats}");
    let listed = ok(&server, &["dlq", "ls", "jobs.v1.Mailer"]).await.stdout;
    assert!(listed.starts_with("SEQ"), "{listed}");
    assert!(listed.contains("rejected"), "{listed}");
    assert!(listed.contains("INVALID_ARGUMENT"), "{listed}");
    assert!(listed.contains("NRPC_jobs_v1_Mailer_Send:1"), "{listed}");
    let shown = ok(&server, &["dlq", "show", "Mailer", "1"]).await.stdout;
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["reason"], "rejected");
    assert_eq!(shown["message"], "no such mailbox");
    assert_eq!(shown["payload"]["to"], "bad");
    assert_eq!(shown["payload"]["id"], "m-1");

    let payload = r#"{"id":"m-1","to":"ada","subject":"hi"}"#;
    let redriven = ok(
        &server,
        &["dlq", "redrive", "Mailer", "1", "--payload", payload],
    )
    .await
    .stdout;
    assert!(redriven.contains("NRPC_jobs_v1_Mailer_Send"), "{redriven}");
    assert_eq!(
        within("the redriven command", handled.recv())
            .await
            .unwrap(),
        "m-1 to ada"
    );
    let listed = ok(&server, &["dlq", "ls", "Mailer"]).await.stdout;
    assert!(listed.contains("no dead letters"), "{listed}");

    client.send(&email("m-2", "bad")).await.unwrap();
    within("the second dead letter", async {
        while dead().await == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let refused = nrpc(&server, &["dlq", "purge", "Mailer"]).await;
    assert!(
        !refused.ok && refused.stderr.contains("--all"),
        "{refused:?}"
    );
    let purged = ok(&server, &["dlq", "purge", "Mailer", "--all"])
        .await
        .stdout;
    assert!(purged.contains("removed 1"), "{purged}");
    assert_eq!(dead().await, 0);

    // A payload that does not decode is shown as it is, with why.
    let subject = client
        .send_subject(nrpc_runtime::Encoding::Protobuf)
        .unwrap();
    let raw = async_nats::connect(server.url()).await.unwrap();
    raw.publish(subject, vec![0xff, 0xff].into()).await.unwrap();
    raw.flush().await.unwrap();
    within("the undecodable one's dead letter", async {
        while dead().await == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let listed = ok(&server, &["dlq", "ls", "Mailer", "--json"]).await.stdout;
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["reason"], "decode", "{listed}");
    let sequence = listed[0]["sequence"].to_string();
    let shown = ok(&server, &["dlq", "show", "Mailer", &sequence])
        .await
        .stdout;
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["payload"]["base64"], "//8=", "{shown}");
    assert!(shown["payload"]["undecoded"].is_string(), "{shown}");
    // A dead letter that is not there is a clear error.
    let missing = nrpc(&server, &["dlq", "show", "Mailer", "999"]).await;
    assert!(
        !missing.ok && missing.stderr.contains("dead letter 999"),
        "{missing:?}"
    );
    handle
        .shutdown_timeout(std::time::Duration::from_secs(5))
        .await;
}
