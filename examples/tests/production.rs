//! Runs the production example as its operators would: environment only,
//! a client on the same prefix, a Prometheus scrape over HTTP, SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nats_harness::NatsServer;
use nrpc_examples::greeter::greeter_client::GreeterClient;
use nrpc_examples::greeter::HelloRequest;
use nrpc_runtime::{CallError, ConnectOptions};

const PATIENCE: Duration = Duration::from_secs(30);

/// The example's process, killed by its pid if the test fails early.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
async fn serves_on_its_prefix_exports_metrics_and_stops_on_sigterm() {
    let server = NatsServer::start().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_production"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NATS_URL", server.url())
            .env("NRPC_PREFIX", "canary")
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the example"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines
        .recv_timeout(PATIENCE)
        .expect("the example says it is serving");
    assert!(first.contains("subject prefix \"canary\""), "{first}");
    let metrics_url = first
        .rsplit("metrics on ")
        .next()
        .expect("metrics address")
        .to_owned();

    // A client on the same prefix reaches it; one without does not.
    let canary = ConnectOptions::new()
        .ignore_environment()
        .servers(server.url())
        .subject_prefix("canary")
        .connect()
        .await
        .unwrap();
    let client = GreeterClient::new(canary);
    let reply = tokio::time::timeout(
        PATIENCE,
        client.say_hello(&HelloRequest { name: "ops".into() }),
    )
    .await
    .expect("in time")
    .unwrap();
    assert_eq!(reply.message, "Hello, ops!");
    let bad = client
        .say_hello(&HelloRequest {
            name: String::new(),
        })
        .await;
    assert!(matches!(bad, Err(CallError::Status(_))), "{bad:?}");
    let plain = ConnectOptions::new()
        .ignore_environment()
        .servers(server.url())
        .connect()
        .await
        .unwrap();
    let err = GreeterClient::new(plain)
        .say_hello(&HelloRequest { name: "x".into() })
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::NoResponders { .. }), "{err:?}");

    // Prometheus sees the calls by method and code.
    let body = tokio::time::timeout(PATIENCE, async {
        reqwest::get(&metrics_url).await?.text().await
    })
    .await
    .expect("scrape in time")
    .expect("scrape");
    for line in [
        r#"nrpc_server_handled_total{service="greeter.v1.Greeter",method="SayHello",code="OK"} 1"#,
        r#"nrpc_server_handled_total{service="greeter.v1.Greeter",method="SayHello",code="INVALID_ARGUMENT"} 1"#,
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "{line} missing from:\n{body}"
        );
    }
    assert!(
        body.contains("nrpc_server_request_duration_seconds"),
        "{body}"
    );

    // SIGTERM: a graceful stop and exit code 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut said = Vec::new();
    while let Ok(line) = lines.recv_timeout(PATIENCE) {
        said.push(line);
    }
    assert!(said.iter().any(|l| l == "shut down cleanly"), "{said:?}");
    let exit = child.0.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
}
