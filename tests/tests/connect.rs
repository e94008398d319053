//! `connect()` against nats-servers configured for each kind of
//! authentication, permissions that deny what a service or client needs,
//! and subject prefixes (canaries through a weighted subject mapping).
//! Keys, certificates and JWTs are generated here; nothing secret is
//! checked in.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nrpc_runtime::{CallError, ConnectError, ConnectOptions, Server, ServerHandle};
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::greeter_server::GreeterServer;
use nrpc_tests::pki::pki;
use nrpc_tests::{hello, within, NatsServer, TestGreeter};

fn server(config: &str) -> NatsServer {
    NatsServer::start_with_config(config).unwrap_or_else(|e| panic!("{e}"))
}

/// A directory for this test's generated files, removed at the end.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

/// Serves a greeter on `conn` and says hello through a client on the
/// same settings: what a user checks first.
async fn greet_through(conn: nrpc_runtime::Connection) -> String {
    let (greeter, _events) = TestGreeter::new("auth");
    let handle = Server::builder(&conn)
        .add_service(GreeterServer::new(greeter))
        .serve()
        .await
        .unwrap_or_else(|e| panic!("serve: {e}"));
    let reply = within("hello", GreeterClient::new(conn).say_hello(&hello("auth")))
        .await
        .unwrap_or_else(|e| panic!("call: {e}"));
    handle.shutdown().await;
    reply.message
}

/// Connects with `options`, failing the test with the error's text.
async fn connected(options: ConnectOptions) -> nrpc_runtime::Connection {
    within("connect", options.connect())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn local(server: &NatsServer) -> ConnectOptions {
    ConnectOptions::new()
        .ignore_environment()
        .servers(server.url())
}

fn with_user_info(server: &NatsServer, info: &str) -> String {
    server
        .url()
        .replacen("nats://", &format!("nats://{info}@"), 1)
}

#[tokio::test]
async fn user_and_password_in_the_url_or_in_code() {
    let s = server(r#"authorization { users = [ { user: "orders", password: "p@ss:1" } ] }"#);
    // As in NATS_URL: credentials in the URL, percent-encoded.
    let url = with_user_info(&s, "orders:p%40ss%3A1");
    let conn = connected(ConnectOptions::new().ignore_environment().servers(url)).await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
    let conn = connected(local(&s).user_and_password("orders", "p@ss:1")).await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
    // A wrong password is a connect error that names the servers, without
    // the password.
    let url = with_user_info(&s, "orders:wrong");
    let err = within(
        "connect",
        ConnectOptions::new()
            .ignore_environment()
            .servers(url)
            .max_reconnects(1)
            .connect(),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectError::Connect { .. }), "{text}");
    assert!(!text.contains("wrong"), "{text}");
}

#[tokio::test]
async fn token_in_the_url_or_in_code() {
    let s = server(r#"authorization { token: "t0ken" }"#);
    let url = with_user_info(&s, "t0ken");
    let conn = connected(ConnectOptions::new().ignore_environment().servers(url)).await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
    let conn = connected(local(&s).token("t0ken")).await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
}

#[tokio::test]
async fn nkey_from_a_seed_file_and_from_a_context() {
    let user = nkeys::KeyPair::new_user();
    let s = server(&format!(
        r#"authorization {{ users = [ {{ nkey: "{}" }} ] }}"#,
        user.public_key()
    ));
    let dir = scratch();
    let seed = write(dir.path(), "user.nk", &user.seed().expect("seed"));
    let conn = connected(local(&s).nkey_file(&seed)).await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
    // The same through a `nats` CLI context file.
    let context = write(
        dir.path(),
        "ctx.json",
        &serde_json::json!({ "url": s.url(), "nkey": seed }).to_string(),
    );
    let conn = connected(ConnectOptions::new().context(context.to_str().unwrap())).await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
    // A seed file that holds no seed is named in the error.
    let bad = write(dir.path(), "bad.nk", "not a seed\n");
    let err = local(&s)
        .nkey_file(&bad)
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.nk") && err.contains("no user nkey seed"),
        "{err}"
    );
}

#[tokio::test]
async fn tls_with_a_client_certificate_and_our_own_ca() {
    let dir = scratch();
    let p = pki(dir.path());
    let s = server(&format!(
        "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true }}",
        p.server_cert, p.server_key, p.ca
    ));
    let conn = connected(
        local(&s)
            .root_certificate(&p.ca)
            .client_certificate(&p.client_cert, &p.client_key),
    )
    .await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
    // Without the client certificate the server refuses the connection.
    let err = within(
        "connect",
        local(&s)
            .root_certificate(&p.ca)
            .max_reconnects(1)
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ConnectError::Connect { .. }), "{err}");
    // A missing file is named before anything is tried.
    let err = local(&s)
        .root_certificate(dir.path().join("nope.pem"))
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("ConnectOptions::root_certificate: cannot read"),
        "{err}"
    );
}

/// A NATS JWT (header.claims.signature) signed by `issuer`.
fn jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = serde_json::json!({
        "jti": unique_id(),
        "iat": 1_700_000_000,
        "iss": issuer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let body = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = issuer.sign(body.as_bytes()).expect("sign");
    format!("{body}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("NRPCTEST{}", N.fetch_add(1, Ordering::Relaxed))
}

#[tokio::test]
async fn a_creds_file_against_an_operator_mode_server() {
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "test-operator",
        serde_json::json!({ "type": "operator", "version": 2 }),
    );
    let unlimited = serde_json::json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": true, "conn": -1, "leaf": -1
    });
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "orders",
        serde_json::json!({ "limits": unlimited, "type": "account", "version": 2 }),
    );
    let user_jwt = jwt(
        &account,
        &user.public_key(),
        "orders-svc",
        serde_json::json!({ "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1,
                            "type": "user", "version": 2 }),
    );
    let s = server(&format!(
        "operator: {operator_jwt}\nresolver: MEMORY\nresolver_preload: {{ {}: {account_jwt} }}\n",
        account.public_key()
    ));
    let dir = scratch();
    let creds = write(
        dir.path(),
        "orders.creds",
        &format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().expect("seed")
        ),
    );
    // ANCHOR: options
    // or in code; anything not set comes from the environment
    let options = nrpc_runtime::ConnectOptions::new()
        .name("orders")
        .credentials_file(&creds)
        .servers(s.url());
    // ANCHOR_END: options
    let conn = connected(options.ignore_environment()).await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
    // Without credentials the operator-mode server refuses.
    let err = within("connect", local(&s).max_reconnects(1).connect())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn a_context_file_with_a_custom_inbox_prefix() {
    // The user may not subscribe to the default inboxes: replies must come
    // back on the context's inbox prefix.
    let s = server(
        r#"authorization { users = [ { user: "ctx", password: "pw",
             permissions: { subscribe: { deny: "_INBOX.>" } } } ] }"#,
    );
    let dir = scratch();
    let context = write(
        dir.path(),
        "staging.json",
        &serde_json::json!({
            "url": s.url(), "user": "ctx", "password": "pw", "inbox_prefix": "_I_ORDERS"
        })
        .to_string(),
    );
    let conn = connected(ConnectOptions::new().context(context.to_str().unwrap())).await;
    assert_eq!(greet_through(conn).await, "Hello, auth");
}

#[tokio::test]
async fn denied_subscriptions_fail_serve_and_connect_naming_the_subject() {
    let s = server(
        r#"authorization { users = [
            { user: "narrow", password: "pw",
              permissions: { subscribe: { allow: ["demo.Greeter.>", "_INBOX.>"] } } }
            { user: "service", password: "pw",
              permissions: { subscribe: { allow: ["demo.Greeter.>", "_NRPC.>", "$SRV.>", "_INBOX.>"] } } }
            { user: "noinbox", password: "pw",
              permissions: { subscribe: { deny: ["_INBOX.>"] } } }
        ] }"#,
    );
    let narrow = local(&s)
        .user_and_password("narrow", "pw")
        .connect()
        .await
        .unwrap();
    let (greeter, _events) = TestGreeter::new("narrow");
    let err = Server::builder(&narrow)
        .add_service(GreeterServer::new(greeter))
        .serve()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("denied the subscription to \"_NRPC."), "{err}");
    assert!(err.contains("docs/guides/production.md"), "{err}");
    // Exactly the subjects that guide lists are enough.
    let service = local(&s)
        .user_and_password("service", "pw")
        .connect()
        .await
        .unwrap();
    assert_eq!(greet_through(service).await, "Hello, auth");
    // A client that may not subscribe to its inbox cannot get replies.
    let err = local(&s)
        .user_and_password("noinbox", "pw")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::Inbox(m) if m.contains("_INBOX.")),
        "{err}"
    );
}

async fn serve_prefixed(s: &NatsServer, prefix: &str) -> ServerHandle {
    let conn = local(s).subject_prefix(prefix).connect().await.unwrap();
    let (greeter, _events) = TestGreeter::new(prefix);
    Server::builder(&conn)
        .add_service(GreeterServer::new(greeter))
        .serve()
        .await
        .unwrap_or_else(|e| panic!("serve: {e}"))
}

#[tokio::test]
async fn a_prefix_separates_environments_and_a_weighted_mapping_splits_traffic() {
    // nats-roundtripper's canary recipe: clients call the plain subject,
    // the broker sends 80 % to v1 and 20 % to v2.
    let s = server(
        r#"mappings = { "demo.Greeter.>": [
            { destination: "v1.demo.Greeter.>", weight: 80% },
            { destination: "v2.demo.Greeter.>", weight: 20% } ] }"#,
    );
    let v1 = serve_prefixed(&s, "v1").await;
    let v2 = serve_prefixed(&s, "v2").await;
    let plain = GreeterClient::new(local(&s).connect().await.unwrap());
    let (mut to_v1, mut to_v2) = (0, 0);
    for i in 0..200 {
        let reply = within(
            "call",
            plain.say_hello_with(&hello(&i.to_string()), Default::default()),
        )
        .await
        .unwrap_or_else(|e| panic!("call {i}: {e}"));
        match reply.metadata().get("Instance").map(|v| v.as_str()) {
            Some("v1") => to_v1 += 1,
            Some("v2") => to_v2 += 1,
            other => panic!("reply from {other:?}"),
        }
    }
    assert!(to_v2 > 0 && to_v1 > to_v2, "v1 {to_v1}, v2 {to_v2}");
    // A client with a prefix reaches only its environment.
    let canary = GreeterClient::new(local(&s).subject_prefix("v2").connect().await.unwrap());
    for _ in 0..10 {
        let reply = canary
            .say_hello_with(&hello("c"), Default::default())
            .await
            .unwrap();
        assert_eq!(
            reply.metadata().get("Instance").map(|v| v.as_str()),
            Some("v2")
        );
    }
    let nobody = GreeterClient::new(local(&s).subject_prefix("v3").connect().await.unwrap());
    let err = within("call", nobody.say_hello(&hello("x")))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::NoResponders { .. }), "{err:?}");
    // A bad prefix is refused, naming the setting.
    let err = local(&s)
        .subject_prefix("a b")
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("ConnectOptions::subject_prefix:"), "{err}");
    v1.shutdown().await;
    v2.shutdown().await;
}
