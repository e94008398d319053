//! The gateway in front of users: what it exposes, who may call, how
//! often, and what browsers on other sites can make it do — with a real
//! gateway, NATS, services, grpcurl, tonic and an HTTP client.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use nrpc_gateway::Exposure;
use nrpc_tests::chat::chat_server::ChatServer;
use nrpc_tests::grpcurl::{grpcurl, grpcurl_ok};
use nrpc_tests::{
    gateway_with, hello, nats_server, serve, serve_alarms, serve_greeter, within, Words,
};
use tonic::transport::Channel;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs JSON `body` to `url`: the status and the answer's text.
async fn post(url: String, body: &str) -> (u16, String) {
    let response = http()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get_json(url: String) -> (u16, serde_json::Value) {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}")),
    )
}

#[tokio::test]
async fn what_is_not_exposed_is_not_there_on_any_face() {
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let _chat = serve(&server, ChatServer::new(Words)).await;
    let exposure = Exposure::only(["greeter.v1.Greeter/*"])
        .and_then(|e| e.deny(["*/Fail"]))
        .unwrap();
    let gateway = gateway_with(&server, |b| b.expose(exposure)).await;
    let url = &gateway.url;

    // HTTP/JSON: the exposed method answers, the others are 404 — the
    // denied method of an exposed service as the unexposed service.
    let (status, body) = post(
        format!("{url}/greeter.v1.Greeter/SayHello"),
        r#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for path in ["greeter.v1.Greeter/Fail", "chat.v1.Chat/Spell"] {
        let (status, body) = post(format!("{url}/{path}"), "{}").await;
        assert_eq!(status, 404, "{path}: {body}");
        assert!(
            !body.contains("chat.v1.Chat") || path.starts_with("chat"),
            "{body}"
        );
    }
    // An unknown name's error does not list the services there are.
    let (status, body) = post(format!("{url}/nope.v1.Nope/X"), "{}").await;
    assert_eq!(status, 404);
    assert!(!body.contains("chat"), "{body}");

    // gRPC: UNIMPLEMENTED, as for a method that does not exist.
    use nrpc_tests::greeter::grpc::greeter_client::GreeterClient;
    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = GreeterClient::new(channel);
    assert_eq!(
        grpc.say_hello(hello("grpc"))
            .await
            .unwrap()
            .get_ref()
            .message,
        "Hello, grpc"
    );
    let err = grpc
        .fail(nrpc_tests::greeter::FailRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented, "{err:?}");

    // Reflection: listed and described without what is hidden.
    let at = url.trim_start_matches("http://");
    let out = grpcurl_ok(&["-plaintext", at, "list"]).await;
    assert!(out.contains("greeter.v1.Greeter"), "{out}");
    assert!(!out.contains("chat.v1.Chat"), "{out}");
    let out = grpcurl_ok(&["-plaintext", at, "describe", "greeter.v1.Greeter"]).await;
    assert!(out.contains("rpc SayHello"), "{out}");
    assert!(!out.contains("rpc Fail"), "{out}");
    for hidden in ["chat.v1.Chat", "greeter.v1.Greeter.Fail"] {
        let (ok, out, err) = grpcurl(&["-plaintext", at, "describe", hidden]).await;
        assert!(!ok, "{hidden} described: {out}");
        assert!(
            err.contains("not found") || err.contains("NotFound"),
            "{err}"
        );
    }

    // The console's resources.
    let (status, listed) = get_json(format!("{url}/_nrpc/services")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["greeter.v1.Greeter"]);
    let (status, service) = get_json(format!("{url}/_nrpc/services/greeter.v1.Greeter")).await;
    assert_eq!(status, 200);
    let methods: Vec<&str> = service["methods"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(
        methods.contains(&"SayHello") && !methods.contains(&"Fail"),
        "{methods:?}"
    );
    let (status, _) = get_json(format!("{url}/_nrpc/services/chat.v1.Chat")).await;
    assert_eq!(status, 404);
}

/// The names of the calls the greeter has started so far, up to and
/// including one named `last` (which the test makes last).
async fn calls_until(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<nrpc_tests::Event>,
    last: &str,
) -> Vec<String> {
    let mut seen = Vec::new();
    within("the last call", async {
        while let Some(event) = events.recv().await {
            if let nrpc_tests::Event::Started(name) = event {
                let done = name == last;
                seen.push(name);
                if done {
                    return;
                }
            }
        }
    })
    .await;
    seen
}

#[tokio::test]
async fn what_a_page_of_another_site_makes_a_browser_send_is_refused() {
    let server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "a").await;
    let app = "https://app.example";
    let gateway = gateway_with(&server, |b| b.allow_origins([app.parse().unwrap()])).await;
    let say_hello = format!("{}/greeter.v1.Greeter/SayHello", gateway.url);
    let fail = format!("{}/greeter.v1.Greeter/Fail", gateway.url);
    let status = |r: reqwest::Response| r.status().as_u16();

    // A form or `text/plain` fetch (no preflight) from any page: 415.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let r = http()
            .post(&say_hello)
            .header("content-type", content_type)
            .body(r#"{"name":"simple"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(status(r), 415, "{content_type}");
    }
    // JSON from a page of another origin: 403 (the browser would not
    // have sent it after its preflight; a script outside one can).
    let r = http()
        .post(&say_hello)
        .header("content-type", "application/json")
        .header("origin", "https://evil.example")
        .body(r#"{"name":"evil"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 403);
    // An <img>'s GET: marked cross-site by the browser, no Origin.
    let r = http()
        .get(&fail)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 403);
    // GET calls only what has no side effects (SayHello is declared so).
    let r = http().get(&fail).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(status(r), 405);
    let r = http().get(&say_hello).send().await.unwrap();
    assert_eq!(status(r), 200);
    // A Host that is not the gateway's (DNS rebinding): 421, whatever the path.
    for path in ["/greeter.v1.Greeter/SayHello", "/", "/_nrpc/services"] {
        let r = http()
            .get(format!("{}{path}", gateway.url))
            .header("host", "attacker.example")
            .send()
            .await
            .unwrap();
        assert_eq!(status(r), 421, "{path}");
    }
    // The allowed origin, and plain JSON, are served.
    let r = http()
        .post(&say_hello)
        .header("content-type", "application/json")
        .header("origin", app)
        .body(r#"{"name":"app"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 200);
    let (code, _) = post(say_hello.clone(), r#"{"name":"last"}"#).await;
    assert_eq!(code, 200);

    // None of the refused calls reached the service.
    assert_eq!(calls_until(&mut events, "last").await, ["", "app", "last"]);
}

#[tokio::test]
async fn the_console_page_allows_its_own_script_only_and_no_framing() {
    let server = nats_server();
    let gateway = gateway_with(&server, |b| b).await;
    let page = http().get(&gateway.url).send().await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<style>"),
        "inline script or style"
    );
    let script = http()
        .get(format!("{}/_nrpc/console.js", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}

/// Signing keys and the JWKS file that holds their public halves.
struct Issuer {
    es256: jsonwebtoken::EncodingKey,
    eddsa: jsonwebtoken::EncodingKey,
    /// Same kid as `es256`, another key: a forger's.
    forged: jsonwebtoken::EncodingKey,
    jwks: tempfile::NamedTempFile,
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn issuer() -> Issuer {
    let ec = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = ec.public_key_raw(); // 0x04 || x || y
    let jwks = serde_json::json!({"keys": [
        {"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig",
         "x": b64(&point[1..33]), "y": b64(&point[33..65])},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "alg": "EdDSA", "use": "sig",
         "x": b64(ed.public_key_raw())},
    ]});
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, jwks.to_string().as_bytes()).unwrap();
    Issuer {
        es256: jsonwebtoken::EncodingKey::from_ec_pem(ec.serialize_pem().as_bytes()).unwrap(),
        eddsa: jsonwebtoken::EncodingKey::from_ed_pem(ed.serialize_pem().as_bytes()).unwrap(),
        forged: jsonwebtoken::EncodingKey::from_ec_pem(other.serialize_pem().as_bytes()).unwrap(),
        jwks: file,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn token(
    key: &jsonwebtoken::EncodingKey,
    alg: jsonwebtoken::Algorithm,
    kid: &str,
    claims: serde_json::Value,
) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

#[tokio::test]
async fn callers_prove_who_they_are_and_services_learn_it() {
    use jsonwebtoken::Algorithm::{EdDSA, ES256};
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let issuer = issuer();
    let mut keys = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut keys, b"partner-key-0123456789 partner-7 reports\n").unwrap();
    let auth = nrpc_gateway::Auth::new()
        .jwks_file(
            issuer.jwks.path(),
            Some("https://id.example".into()),
            Some("nrpc-gateway".into()),
            std::time::Duration::from_secs(5),
        )
        .and_then(|a| a.api_keys_file(keys.path()))
        .and_then(|a| a.require("greeter.v1.Greeter/Echo=admin"))
        .unwrap();
    let gateway = gateway_with(&server, |b| b.auth(auth)).await;
    // SayHello named "whoami" answers who called; Echo needs scope admin.
    let who = format!("{}/greeter.v1.Greeter/SayHello", gateway.url);
    let admin = format!("{}/greeter.v1.Greeter/Echo", gateway.url);
    let claims = |sub: &str, scope: &str, exp: i64, aud: &str| serde_json::json!({"sub": sub, "scope": scope, "exp": exp, "iss": "https://id.example", "aud": aud});
    let call = |url: String, credential: Option<(&'static str, String)>| async move {
        let mut request = http()
            .post(&url)
            .header("content-type", "application/json")
            // Forged: only the gateway says who the caller is.
            .header("nrpc-caller", "jwt root admin")
            .header("cookie", "session=secret")
            .body(if url.ends_with("/Echo") {
                "{}"
            } else {
                r#"{"name":"whoami"}"#
            });
        if let Some((name, value)) = credential {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let bearer = |t: String| Some(("authorization", format!("Bearer {t}")));
    let hour = now() + 3600;

    // A valid ES256 token: the service learns the verified caller, not the
    // forged header, and no credential reaches it.
    let ada = token(
        &issuer.es256,
        ES256,
        "ec-1",
        claims("ada", "orders:read admin", hour, "nrpc-gateway"),
    );
    let (status, body) = call(who.clone(), bearer(ada.clone())).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"message":"ada [orders:read,admin] via jwt"}"#)
    );
    let (status, _) = call(admin.clone(), bearer(ada)).await;
    assert_eq!(status, 200);
    // EdDSA, scopes as `scp`, and no `admin` scope: Who yes, Admin 403.
    let bob = token(
        &issuer.eddsa,
        EdDSA,
        "ed-1",
        serde_json::json!({
        "sub": "bob", "scp": ["orders:read"], "exp": hour, "iss": "https://id.example", "aud": "nrpc-gateway"}),
    );
    let (status, body) = call(who.clone(), bearer(bob.clone())).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"message":"bob [orders:read] via jwt"}"#)
    );
    let (status, body) = call(admin.clone(), bearer(bob)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("PERMISSION_DENIED") && !body.contains("admin"),
        "{body}"
    );
    // An API key.
    let (status, body) = call(
        who.clone(),
        Some(("x-api-key", "partner-key-0123456789".into())),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"message":"partner-7 [reports] via api-key"}"#)
    );

    // Refused, all alike (401, no reason given): expired beyond the
    // leeway, signed by another key, for another audience, from another
    // issuer, no token, a malformed one, an unknown API key.
    let refused = [
        bearer(token(
            &issuer.es256,
            ES256,
            "ec-1",
            claims("ada", "admin", now() - 60, "nrpc-gateway"),
        )),
        bearer(token(
            &issuer.forged,
            ES256,
            "ec-1",
            claims("ada", "admin", hour, "nrpc-gateway"),
        )),
        bearer(token(
            &issuer.es256,
            ES256,
            "ec-1",
            claims("ada", "admin", hour, "another-api"),
        )),
        bearer(token(
            &issuer.es256,
            ES256,
            "ec-1",
            serde_json::json!({
            "sub": "ada", "exp": hour, "iss": "https://evil.example", "aud": "nrpc-gateway"}),
        )),
        bearer(token(
            &issuer.es256,
            ES256,
            "nope",
            claims("ada", "admin", hour, "nrpc-gateway"),
        )),
        None,
        bearer("not.a.token".into()),
        bearer("x".repeat(10_000)),
        Some(("authorization", "Basic YWRhOnB3".into())),
        Some(("x-api-key", "partner-key-0123456780".into())),
    ];
    for (i, credential) in refused.into_iter().enumerate() {
        let (status, body) = call(who.clone(), credential).await;
        assert_eq!(status, 401, "case {i}: {body}");
        assert!(
            body.contains("missing or invalid credentials"),
            "case {i}: {body}"
        );
    }

    // gRPC callers: UNAUTHENTICATED without a token; reflection too.
    let at = gateway.url.trim_start_matches("http://");
    let whoami = r#"{"name":"whoami"}"#;
    let (ok, _, err) = grpcurl(&[
        "-plaintext",
        "-d",
        whoami,
        at,
        "greeter.v1.Greeter/SayHello",
    ])
    .await;
    assert!(!ok && err.contains("Unauthenticated"), "{err}");
    let (ok, _, err) = grpcurl(&["-plaintext", at, "list"]).await;
    assert!(!ok && err.contains("Unauthenticated"), "{err}");
    let token = token(
        &issuer.es256,
        ES256,
        "ec-1",
        claims("grpc", "", hour, "nrpc-gateway"),
    );
    let auth = format!("authorization: Bearer {token}");
    let out = grpcurl_ok(&[
        "-plaintext",
        "-H",
        &auth,
        "-d",
        whoami,
        at,
        "greeter.v1.Greeter/SayHello",
    ])
    .await;
    assert!(out.contains(r#""message": "grpc [] via jwt""#), "{out}");
    // The console's resources need the same.
    let r = http()
        .get(format!("{}/_nrpc/services", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn without_authentication_a_forged_identity_still_does_not_pass() {
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let gateway = gateway_with(&server, |b| b).await;
    let response = http()
        .post(format!("{}/greeter.v1.Greeter/SayHello", gateway.url))
        .header("content-type", "application/json")
        .header("Nrpc-Caller", "jwt root admin")
        .header("NRPC-CALLER-SCOPES", "admin")
        .header("authorization", "Bearer whatever")
        .body(r#"{"name":"whoami"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), r#"{"message":"anonymous"}"#);
    // Credentials travel on only when asked to.
    let forwarding = gateway_with(&server, |b| b.forward_credentials(true)).await;
    let response = http()
        .post(format!("{}/greeter.v1.Greeter/SayHello", forwarding.url))
        .header("content-type", "application/json")
        .header("authorization", "Bearer whatever")
        .body(r#"{"name":"whoami"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"message":"anonymous +credentials"}"#
    );
}

#[tokio::test]
async fn a_caller_over_its_rate_is_told_to_wait_and_others_are_not_slowed() {
    use futures::StreamExt;
    use std::num::NonZeroU32;
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let mut keys = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(
        &mut keys,
        b"greedy-key-0123456789 greedy\npolite-key-0123456789 polite\n",
    )
    .unwrap();
    let auth = nrpc_gateway::Auth::new()
        .api_keys_file(keys.path())
        .unwrap();
    let (rate, burst) = (20u32, 10u32);
    let gateway = gateway_with(&server, |b| {
        b.auth(auth).rate_limit(
            NonZeroU32::new(rate).unwrap(),
            NonZeroU32::new(burst).unwrap(),
        )
    })
    .await;
    let url = format!("{}/greeter.v1.Greeter/SayHello", gateway.url);
    let call = |key: &'static str| {
        let url = url.clone();
        async move {
            let r = http()
                .post(url)
                .header("content-type", "application/json")
                .header("x-api-key", key)
                .body(r#"{"name":"rate"}"#)
                .send()
                .await
                .unwrap();
            let retry_after = r.headers().get("retry-after").cloned();
            let status = r.status().as_u16();
            (status, retry_after)
        }
    };

    // 1,000 calls from one caller, 50 at a time; meanwhile another
    // caller makes as many calls as its burst.
    let started = std::time::Instant::now();
    let greedy = futures::stream::iter(0..1000)
        .map(|_| call("greedy-key-0123456789"))
        .buffer_unordered(50)
        .collect::<Vec<_>>();
    let polite = futures::future::join_all((0..burst).map(|_| call("polite-key-0123456789")));
    let (answers, polite) = tokio::join!(greedy, polite);
    let elapsed = started.elapsed().as_secs_f64();
    let served = answers.iter().filter(|(s, _)| *s == 200).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(served + limited.len(), 1000, "only 200s and 429s");
    // The burst, then the rate: never more than the bucket allows.
    let allowed = burst as f64 + rate as f64 * elapsed + 1.0;
    assert!(served >= burst as usize, "{served} served");
    assert!(
        served as f64 <= allowed,
        "{served} served in {elapsed:.2} s, at most {allowed:.0} allowed"
    );
    assert!(
        limited.iter().all(|(_, after)| after.is_some()),
        "429 without Retry-After"
    );

    // The other caller was not slowed.
    assert!(polite.iter().all(|(s, _)| *s == 200), "{polite:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_connections_are_closed_and_a_flood_is_refused_not_stalled() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Both ends of 2,000 connections live in this process.
    let _ = rlimit::increase_nofile_limit(8192);
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let gateway = gateway_with(&server, |b| {
        b.max_connections(1000)
            .idle_timeout(std::time::Duration::from_secs(1))
            .header_read_timeout(std::time::Duration::from_secs(1))
    })
    .await;
    let address = gateway.url.trim_start_matches("http://").to_owned();
    let say_hello = format!("{}/greeter.v1.Greeter/SayHello", gateway.url);
    assert_eq!(post(say_hello.clone(), "{}").await.0, 200);

    // 2,000 connections that send nothing.
    let mut flood = Vec::new();
    for _ in 0..2000 {
        flood.push(tokio::net::TcpStream::connect(&address).await.unwrap());
    }
    // A call meanwhile is answered at once (refused), not left waiting.
    let during = within(
        "a call during the flood",
        http().post(&say_hello).body("{}").send(),
    )
    .await;
    assert!(
        during.as_ref().map_or(true, |r| r.status() == 503),
        "{during:?}"
    );
    // Every flood connection ends: a 503 for those over the limit, the
    // idle timeout for the others.
    let ends = futures::future::join_all(flood.into_iter().map(|mut socket| async move {
        let mut seen = Vec::new();
        let _ = socket.read_to_end(&mut seen).await;
        seen.starts_with(b"HTTP/1.1 503")
    }));
    let refused = within("the flood's end", ends)
        .await
        .into_iter()
        .filter(|r| *r)
        .count();
    // (Up to 1,000 were refused: fewer when idle ones timed out, and freed
    // their slots, before the flood was all open on a loaded machine.)
    assert!(refused > 0, "{refused} refused");
    // And calls go through again.
    let (status, body) = post(say_hello.clone(), r#"{"name":"after"}"#).await;
    assert_eq!(status, 200, "{body}");

    // A header sent a byte at a time (slowloris) is cut off.
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let header = format!(
        "POST /greeter.v1.Greeter/SayHello HTTP/1.1\r\nhost: {address}\r\nx-pad: {}\r\n\r\n",
        "p".repeat(200)
    );
    let mut pace = tokio::time::interval(std::time::Duration::from_millis(50));
    let mut sent = 0;
    let cut = within("the slow header's end", async {
        for byte in header.bytes() {
            pace.tick().await;
            if slow.write_all(&[byte]).await.is_err() {
                return true;
            }
            sent += 1;
            let mut probe = [0u8; 64];
            // Closed by the gateway (EOF or an error answer)?
            if let Ok(Ok(n)) =
                tokio::time::timeout(std::time::Duration::ZERO, slow.read(&mut probe)).await
            {
                return n == 0 || probe.starts_with(b"HTTP/1.1 408");
            }
        }
        false
    })
    .await;
    assert!(cut, "the whole header ({sent} bytes at 20/s) was taken");
    assert!(sent < header.len());
}

#[tokio::test]
async fn a_body_that_trickles_in_fails_at_the_calls_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "a").await;
    let gateway = gateway_with(&server, |b| {
        b.default_timeout(std::time::Duration::from_secs(1))
    })
    .await;
    let address = gateway.url.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /greeter.v1.Greeter/SayHello HTTP/1.1\r\nhost: {address}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n1\r\n{{\r\n"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    // A space every 100 ms, forever, unless the gateway answers.
    let mut pace = tokio::time::interval(std::time::Duration::from_millis(100));
    let answer = within("an answer to the endless body", async {
        let mut answer = [0u8; 64];
        loop {
            tokio::select! {
                n = socket.read(&mut answer) => {
                    return String::from_utf8_lossy(&answer[..n.unwrap_or(0)]).into_owned();
                }
                _ = pace.tick() => { let _ = socket.write_all(b"1\r\n \r\n").await; }
            }
        }
    })
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    // The service never saw it.
    let (status, _) = post(
        format!("{}/greeter.v1.Greeter/SayHello", gateway.url),
        r#"{"name":"next"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(calls_until(&mut events, "next").await, ["next"]);
}

/// Another service that claims `greeter.v1.Greeter`, on its own subjects.
mod rogue {
    use nrpc_runtime::{nats_service, Request, Response, Status};
    use nrpc_tests::greeter::{HelloReply, HelloRequest};

    /// Not the greeter.
    #[nats_service(package = "evil", proto_package = "greeter.v1")]
    pub trait Greeter {
        /// Captures the call.
        async fn say_hello(&self, request: HelloRequest) -> Result<HelloReply, Status>;
    }

    /// Counts what reaches it.
    pub struct Capture(pub tokio::sync::mpsc::UnboundedSender<String>);

    impl greeter_server::Greeter for Capture {
        async fn say_hello(
            &self,
            request: Request<HelloRequest>,
        ) -> Result<Response<HelloReply>, Status> {
            let _ = self.0.send(request.into_inner().name);
            Ok(Response::new(HelloReply {
                message: "captured".into(),
            }))
        }
    }
}

#[tokio::test]
async fn a_responder_claiming_a_known_services_name_never_gets_its_calls() {
    use futures::StreamExt;
    let server = nats_server();
    let (captured_tx, mut captured) = tokio::sync::mpsc::unbounded_channel();
    let say_hello =
        |gateway: &nrpc_tests::Gateway| format!("{}/greeter.v1.Greeter/SayHello", gateway.url);

    // The real service and the claimant both answer: the gateway uses
    // neither, and says why.
    let (real, _events, _gate) = serve_greeter(&server, "a").await;
    let rogue = serve(
        &server,
        rogue::greeter_server::GreeterServer::new(rogue::Capture(captured_tx.clone())),
    )
    .await;
    let fresh = gateway_with(&server, |b| b).await;
    let (status, body) = post(say_hello(&fresh), r#"{"name":"both"}"#).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("different subjects"), "{body}");
    rogue.shutdown().await;

    // A gateway that learned the real service, asked again at every call:
    // with the real one gone and the claimant answering discovery, calls
    // still go where the real one listens (nobody: 503), never to it.
    let watcher = nrpc_tests::nats(&server).await;
    let mut asked = watcher.subscribe("$SRV.INFO.>").await.unwrap();
    watcher.flush().await.unwrap();
    let gateway = gateway_with(&server, |b| b.refresh_after(std::time::Duration::ZERO)).await;
    let (status, body) = post(say_hello(&gateway), r#"{"name":"first"}"#).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"message":"Hello, first"}"#)
    );
    real.shutdown().await;
    let _rogue = serve(
        &server,
        rogue::greeter_server::GreeterServer::new(rogue::Capture(captured_tx)),
    )
    .await;
    // Calls until the gateway has asked discovery three more times (so
    // at least two refreshes found the claimant and finished).
    let mut asked_since = 0;
    within("refreshes", async {
        while asked_since < 3 {
            let (status, body) = post(say_hello(&gateway), r#"{"name":"meanwhile"}"#).await;
            assert_eq!(status, 503, "{body}");
            assert!(!body.contains("captured"), "{body}");
            while let Ok(Some(_)) =
                tokio::time::timeout(std::time::Duration::ZERO, asked.next()).await
            {
                asked_since += 1;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    // The real service comes back: calls reach it (and, until they do,
    // still nobody else).
    let _real = serve_greeter(&server, "b").await;
    let body = within("calls reach the real service", async {
        loop {
            let (status, body) = post(say_hello(&gateway), r#"{"name":"back"}"#).await;
            if status == 200 {
                return body;
            }
            assert!(body.contains("no responders"), "{status}: {body}");
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(body, r#"{"message":"Hello, back"}"#);
    assert!(captured.try_recv().is_err(), "the claimant got a call");
}

#[tokio::test]
async fn the_console_is_served_off_loopback_only_when_asked() {
    let server = nats_server();
    let status_of_console = |console: Option<bool>| {
        let server = &server;
        async move {
            let mut builder = nrpc_gateway::Gateway::builder(nrpc_tests::connection(server).await);
            if let Some(on) = console {
                builder = builder.console(on);
            }
            let gateway = builder.build().unwrap();
            // Every address, not loopback alone.
            let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let task = tokio::spawn(gateway.serve(listener));
            let status = http()
                .get(format!("http://127.0.0.1:{port}/"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            task.abort();
            status
        }
    };
    assert_eq!(status_of_console(None).await, 404);
    assert_eq!(status_of_console(Some(true)).await, 200);
    assert_eq!(status_of_console(Some(false)).await, 404);
}

#[tokio::test]
async fn oversized_bodies_huge_field_names_and_encoded_paths_get_clear_answers() {
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let gateway = gateway_with(&server, |b| b.max_body(8 << 20)).await;
    let url = format!("{}/greeter.v1.Greeter/SayHello", gateway.url);

    // Within the gateway's limit, over the broker's max_payload (1 MiB):
    // 413 naming both sizes, not a 429 that invites retries.
    let big = format!(r#"{{"name":"{}"}}"#, "n".repeat(2 << 20));
    let (status, body) = post(url.clone(), &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("max_payload"), "{body}");

    // An unknown field with a 3 MB name: refused, without echoing it.
    let huge = format!(r#"{{"{}":1}}"#, "f".repeat(3 << 20));
    let (status, body) = post(url.clone(), &huge).await;
    assert_eq!(status, 400);
    assert!(body.len() < 2048, "a {}-byte error", body.len());

    // Percent-encoded names, as a browser encodes them.
    let encoded = format!("{}/greeter%2Ev1%2EGreeter/Say%48ello", gateway.url);
    let (status, body) = post(encoded, r#"{"name":"encoded"}"#).await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"message":"Hello, encoded"}"#)
    );
}

#[tokio::test]
async fn a_caller_has_as_many_calls_in_progress_as_allowed_streams_included() {
    let server = nats_server();
    let _alarms = serve_alarms(&server).await;
    let _greeter = serve_greeter(&server, "a").await;
    let mut keys = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(
        &mut keys,
        b"busy-key-0123456789ab busy\nidle-key-0123456789ab idle\n",
    )
    .unwrap();
    let auth = nrpc_gateway::Auth::new()
        .api_keys_file(keys.path())
        .unwrap();
    let gateway = gateway_with(&server, |b| {
        b.auth(auth)
            .max_calls_per_caller(std::num::NonZeroU32::new(2).unwrap())
    })
    .await;
    let events = format!("{}/alarms.v1.Alarms/Rung", gateway.url);
    let say_hello = format!("{}/greeter.v1.Greeter/SayHello", gateway.url);
    let subscribe = || {
        http()
            .get(&events)
            .header("x-api-key", "busy-key-0123456789ab")
            .send()
    };
    let call = |key: &'static str| {
        http()
            .post(&say_hello)
            .header("content-type", "application/json")
            .header("x-api-key", key)
            .body("{}")
            .send()
    };

    // Two event subscriptions stay open: the caller's third call is refused
    // at once; another caller is not affected.
    let first = subscribe().await.unwrap();
    let second = subscribe().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = call("busy-key-0123456789ab").await.unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    assert!(third.text().await.unwrap().contains("2 calls in progress"));
    assert_eq!(call("idle-key-0123456789ab").await.unwrap().status(), 200);

    // A subscription that ends gives its slot back.
    drop(first);
    let status = within("the slot back", async {
        loop {
            let status = call("busy-key-0123456789ab").await.unwrap().status();
            if status != 429 {
                return status;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(status, 200);
    drop(second);
}

#[tokio::test]
async fn a_client_certificate_says_who_calls() {
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let dir = tempfile::tempdir().unwrap();
    let pki = nrpc_tests::pki::pki(dir.path());
    let config =
        nrpc_gateway::tls::server_config(&pki.server_cert, &pki.server_key, Some(&pki.ca)).unwrap();
    let gateway = gateway_with(&server, |b| b.tls(config)).await;
    let url = gateway.url.replace("http://127.0.0.1", "https://localhost");
    let mut identity = std::fs::read(&pki.client_cert).unwrap();
    identity.extend(std::fs::read(&pki.client_key).unwrap());
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&pki.ca).unwrap()).unwrap(),
        )
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();
    // The certificate's name reaches the service as the caller; a forged
    // caller header does not.
    let reply = client
        .post(format!("{url}/greeter.v1.Greeter/SayHello"))
        .header("content-type", "application/json")
        .header("nrpc-caller", "jwt root admin")
        .body(r#"{"name":"whoami"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.text().await.unwrap(),
        r#"{"message":"client.nrpc.test [] via mtls"}"#
    );
}

#[tokio::test]
async fn huge_or_countless_headers_are_refused_and_the_gateway_goes_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    let gateway = gateway_with(&server, |b| b).await;
    let address = gateway.url.trim_start_matches("http://").to_owned();
    let huge = format!("x-huge: {}\r\n", "h".repeat(1 << 20));
    let countless: String = (0..500).map(|i| format!("x-h{i}: {i}\r\n")).collect();
    for headers in [huge, countless] {
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let request = format!(
            "POST /greeter.v1.Greeter/SayHello HTTP/1.1\r\nhost: {address}\r\n\
             content-type: application/json\r\n{headers}content-length: 2\r\n\r\n{{}}"
        );
        // The gateway may stop reading before all of it is written.
        let _ = socket.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = within("an answer", socket.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 431"),
            "{:?}",
            &answer[..answer.len().min(80)]
        );
    }
    let (status, _) = post(format!("{}/greeter.v1.Greeter/SayHello", gateway.url), "{}").await;
    assert_eq!(status, 200);
}
