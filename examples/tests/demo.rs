//! The README's demo command against a broker that wants credentials in
//! `NATS_URL`, as a user would run it: the examples connect the one way
//! (`ConnectOptions`, which reads credentials from the URL and the
//! environment), so `nats://token@host` and `nats://user:pass@host` work.

use std::process::Command;

use nats_harness::NatsServer;

fn greeter_with(nats_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_greeter"))
        .env("NATS_URL", nats_url)
        .output()
        .expect("run the greeter example")
}

fn assert_greets(out: std::process::Output) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("Hello, world!"), "{stdout}\n{stderr}");
    assert!(stdout.contains("Fail answered NOT_FOUND"), "{stdout}");
}

#[test]
fn the_demo_takes_a_token_from_nats_url() {
    let server = NatsServer::start_with_config(r#"authorization { token: "s3cret" }"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("nats://s3cret@127.0.0.1:{}", server.port());
    assert_greets(greeter_with(&url));
    // Without it the broker refuses, and the demo says so.
    let out = greeter_with(&server.url());
    assert!(!out.status.success());
}

#[test]
fn the_demo_takes_a_user_and_password_from_nats_url() {
    let server = NatsServer::start_with_config(
        r#"authorization { users = [ { user: "demo", password: "p@ss" } ] }"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let url = format!("nats://demo:p%40ss@127.0.0.1:{}", server.port());
    assert_greets(greeter_with(&url));
}

/// Runs the example `binary` against a nats-server of its own (through
/// `NATS_URL`); it must succeed: its output.
fn run_against_a_server(binary: &str) -> String {
    run_against(
        binary,
        NatsServer::start().unwrap_or_else(|e| panic!("{e}")),
    )
}

/// Runs the example `binary` against `server`; it must succeed: its output.
fn run_against(binary: &str, server: NatsServer) -> String {
    let out = Command::new(binary)
        .env("NATS_URL", server.url())
        .output()
        .unwrap_or_else(|e| panic!("run {binary}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The README's first service, as the README shows it (its blocks are
/// checked against this program by `tests/tests/guides.rs`).
#[test]
fn the_readmes_first_service_serves_and_calls() {
    let stdout = run_against_a_server(env!("CARGO_BIN_EXE_first_service"));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "Hello, world!",
            "Hello, world! (again, as tenant acme)",
            "NOT_FOUND: no such greeting"
        ]
    );
}

/// The HTTP-over-NATS example: the same app over NATS and over HTTP.
#[test]
fn the_http_over_nats_example_answers_over_both_transports() {
    let stdout = run_against_a_server(env!("CARGO_BIN_EXE_http_over_nats"));
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[1].starts_with("over NATS: 200 OK {\"body\":\"hello\""),
        "{stdout}"
    );
    assert!(lines[1].contains("\"query\":\"from=nats\""), "{stdout}");
    let city = r#"{"celsius":21,"city":"lisbon","sky":"clear"}"#;
    assert_eq!(lines[2], format!("over NATS: 200 OK {city}"));
    assert_eq!(lines[3], format!("over HTTP: 200 {city}"));
}

/// The durable example: commands kept while no mailer runs, each sent
/// once, a duplicate id stored once, the events replayed to a new group,
/// the e-mail without a recipient dead-lettered with its reason.
#[test]
fn the_durable_example_sends_each_once_and_dead_letters_the_bad_one() {
    let server = NatsServer::start_jetstream().unwrap_or_else(|e| panic!("{e}"));
    let stdout = run_against(env!("CARGO_BIN_EXE_durable"), server);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "audit: ada@example.com (delivery 1)",
            "audit: bob@example.com (delivery 1)",
            "dead letter #1: rejected INVALID_ARGUMENT (the e-mail has no recipient)",
            "order-2 again: duplicate = true",
            "sent order-1 to ada@example.com (attempt 1)",
            "sent order-2 to bob@example.com (attempt 1)",
            "stored in NRPC_jobs_v1_Mailer_Send as #1",
        ],
        "{stdout}"
    );
}
