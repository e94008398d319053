//! The gateway's web console in a real headless browser (Chromium driven
//! through chromedriver, from Debian's packages): the page lists the
//! services that answer discovery with their instances, and a call made
//! through its form shows the reply, its headers and its status.

// A test fails loudly on what it did not expect.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use nrpc_tests::chat::chat_server::ChatServer;
use nrpc_tests::{gateway, gateway_with, nats_server, serve, serve_greeter, within};
use nrpc_tests::{ChatCounter, PATIENCE};

/// A chromedriver process, stopped by pid when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Set (to `1`) where the browser must be there: CI sets it, so a missing
/// browser fails there instead of skipping.
const REQUIRE: &str = "NRPC_REQUIRE_BROWSER";

fn find(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|p| p.is_file())
}

/// chromedriver and Chromium, if this machine has them. Without them the
/// test says loudly that it did not run (and how to run it), unless
/// [`REQUIRE`] is set: then it fails.
fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let driver = find("CHROMEDRIVER", &["chromedriver"]);
    let chromium = find(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    if let (Some(driver), Some(chromium)) = (driver.clone(), chromium.clone()) {
        return Some((driver, chromium));
    }
    let missing = [
        ("chromedriver", driver.is_none()),
        ("chromium", chromium.is_none()),
    ]
    .iter()
    .filter(|(_, missing)| *missing)
    .map(|(name, _)| *name)
    .collect::<Vec<_>>()
    .join(" and ");
    let how = "`apt-get install chromium chromium-driver` (or set CHROMIUM and CHROMEDRIVER)";
    if std::env::var_os(REQUIRE).is_some_and(|v| v == "1") {
        panic!("the console test needs a browser: {missing} not found; {how}");
    }
    // Written past the test harness's capture, so it shows in a passing run.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** NOT RUN: the console test needs a headless browser ({missing} not found).\n\
         *** Install one with {how} and run the tests again;\n\
         *** CI sets {REQUIRE}=1, so there it fails instead.\n"
    );
    None
}

async fn driver(binary: PathBuf) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    // Ready once it accepts connections.
    within("chromedriver listens", async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    driver
}

async fn browser(driver: &Driver, chromium: PathBuf) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,860"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    within(
        "a browser session",
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url),
    )
    .await
    .unwrap()
}

/// Waits until the element's text satisfies `ok`; returns it.
async fn text_until(client: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let wait = async {
        loop {
            if let Ok(e) = client.find(Locator::Css(css)).await {
                if let Ok(text) = e.text().await {
                    if ok(&text) {
                        return text;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    match tokio::time::timeout(PATIENCE, wait).await {
        Ok(text) => text,
        Err(_) => {
            let page = client.source().await.unwrap_or_default();
            panic!("{css}: not as expected within {PATIENCE:?}; the page:\n{page}")
        }
    }
}

async fn element(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
}

/// An app of another origin (served beside a gateway, on a port of its
/// own) with a page at `/app`. Not the console, whose content security
/// policy lets it talk to its own gateway only.
async fn app_page(server: &nats_harness::NatsServer) -> nrpc_tests::Gateway {
    let app = axum::Router::new().route(
        "/app",
        axum::routing::get(|| async {
            axum::response::Html("<!doctype html><title>app</title><body></body>")
        }),
    );
    gateway_with(server, |b| b.routes(app)).await
}

#[tokio::test]
async fn the_console_lists_services_and_calls_a_method_from_its_form() {
    let Some((chromedriver, chromium)) = browser_binaries() else {
        return;
    };
    let server = nats_server();
    let _a = serve_greeter(&server, "a").await;
    let _b = serve_greeter(&server, "b").await;
    let _chat = serve(&server, ChatServer::new(ChatCounter)).await;
    let gateway = gateway(&server).await;
    let url = &gateway.url;

    let driver = driver(chromedriver).await;
    let client = browser(&driver, chromium).await;
    client.goto(url).await.unwrap();

    // The services, with both greeter instances.
    let summary = text_until(&client, "#summary", |t| t.contains("instance(s)")).await;
    assert!(summary.contains("3 instance(s)"), "{summary}");
    let greeter = r#".service[data-name="greeter.v1.Greeter"]"#;
    let listed = text_until(&client, greeter, |t| t.matches("instance ").count() == 2).await;
    assert!(listed.contains("Greets people."), "{listed}");
    assert!(listed.contains("SayHello"), "{listed}");
    text_until(&client, r#".service[data-name="chat.v1.Chat"]"#, |_| true).await;

    // Pick the greeter and its method; fill the form; call.
    element(&client, greeter).await.click().await.unwrap();
    element(&client, r#"button.method[data-method="SayHello"]"#)
        .await
        .click()
        .await
        .unwrap();
    element(&client, "#field-name")
        .await
        .send_keys("browser")
        .await
        .unwrap();
    let request = element(&client, "#request")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(request.as_deref(), Some(r#"{"name":"browser"}"#));
    element(&client, "#call").await.click().await.unwrap();

    let reply = text_until(&client, "#reply", |t| !t.is_empty()).await;
    assert!(reply.contains(r#""message": "Hello, browser""#), "{reply}");
    let status = text_until(&client, "#status", |t| t != "…").await;
    assert!(status.starts_with("200"), "{status}");
    let headers = text_until(&client, "#headers", |t| !t.is_empty()).await;
    assert!(
        headers.contains("instance: a") || headers.contains("instance: b"),
        "{headers}"
    );
    let timing = text_until(&client, "#timing", |t| t.ends_with("ms")).await;
    assert!(!timing.is_empty());
    // What the page looks like, for the docs (docs/console.png).
    let png = client.screenshot().await.unwrap();
    let out = nrpc_tests::python::root().join("target/console.png");
    std::fs::write(&out, png).unwrap();

    // A failing call shows its status.
    element(&client, r#"button.method[data-method="Fail"]"#)
        .await
        .click()
        .await
        .unwrap();
    let code = element(&client, "#field-code").await;
    code.send_keys("5").await.unwrap();
    element(&client, "#field-message")
        .await
        .send_keys("gone")
        .await
        .unwrap();
    element(&client, "#call").await.click().await.unwrap();
    let status = text_until(&client, "#status", |t| t.starts_with("404")).await;
    assert!(status.contains("Not Found"), "{status}");
    let reply = text_until(&client, "#reply", |t| t.contains("NOT_FOUND")).await;
    assert!(reply.contains("gone"), "{reply}");

    client.close().await.unwrap();
}

/// From a page of one origin, the browser calls gateways on others:
/// JSON and gRPC-Web (framed by hand, as a grpc-web library does) with a
/// custom header (so the browser asks first: a CORS preflight), reading a
/// reply header. Returns what each call gave, or the browser's error.
const CROSS_ORIGIN_CALLS: &str = r#"
const [allowed, denied, done] = arguments;
const path = '/greeter.v1.Greeter/SayHello';
async function json(base) {
    const r = await fetch(base + path, {
        method: 'POST',
        headers: {'content-type': 'application/json', 'tenant': 'acme'},
        body: JSON.stringify({name: 'page'}),
    });
    return {status: r.status, tenant: r.headers.get('tenant-echo'), body: await r.json()};
}
async function grpcWeb(base) {
    const name = new TextEncoder().encode('web');
    const message = new Uint8Array([0x0a, name.length, ...name]);
    const frame = new Uint8Array(5 + message.length);
    new DataView(frame.buffer).setUint32(1, message.length);
    frame.set(message, 5);
    const r = await fetch(base + path, {
        method: 'POST',
        headers: {'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', 'tenant': 'acme'},
        body: frame,
    });
    const bytes = new Uint8Array(await r.arrayBuffer());
    const out = {status: r.status, tenant: r.headers.get('tenant-echo'), message: null, trailers: ''};
    for (let i = 0; i + 5 <= bytes.length;) {
        const length = new DataView(bytes.buffer, bytes.byteOffset + i + 1, 4).getUint32(0);
        const body = bytes.subarray(i + 5, i + 5 + length);
        if (bytes[i] & 0x80) {
            out.trailers += new TextDecoder().decode(body);
        } else {
            out.message = new TextDecoder().decode(body.subarray(2, 2 + body[1]));
        }
        i += 5 + length;
    }
    return out;
}
async function attempt(call) {
    try { return await call(); } catch (e) { return {error: String(e)}; }
}
Promise.all([
    attempt(() => json(allowed)),
    attempt(() => grpcWeb(allowed)),
    attempt(() => json(denied)),
    attempt(() => grpcWeb(denied)),
]).then(done);
"#;

#[tokio::test]
async fn pages_of_allowed_origins_call_from_the_browser() {
    let Some((chromedriver, chromium)) = browser_binaries() else {
        return;
    };
    let server = nats_server();
    let _greeter = serve_greeter(&server, "a").await;
    // The page's origin: an app served beside a gateway, on a different
    // port from the gateways it calls (so a different origin). Not the
    // console, whose content security policy lets it talk to its own
    // gateway only.
    let page = app_page(&server).await;
    let origin = page.url.parse().unwrap();
    let allowed = gateway_with(&server, |b| b.allow_origins([origin])).await;
    let elsewhere = "http://app.example".parse().unwrap();
    let denied = gateway_with(&server, |b| b.allow_origins([elsewhere])).await;

    let driver = driver(chromedriver).await;
    let client = browser(&driver, chromium).await;
    client.goto(&format!("{}/app", page.url)).await.unwrap();
    let results = within(
        "the page's cross-origin calls",
        client.execute_async(
            CROSS_ORIGIN_CALLS,
            vec![allowed.url.clone().into(), denied.url.clone().into()],
        ),
    )
    .await
    .unwrap();
    let [json, grpc_web, json_denied, grpc_web_denied] = &results.as_array().unwrap()[..] else {
        panic!("{results}");
    };

    assert_eq!(json["status"], 200, "{json}");
    assert_eq!(json["body"]["message"], "Hello, page", "{json}");
    assert_eq!(json["tenant"], "acme", "{json}");
    assert_eq!(grpc_web["status"], 200, "{grpc_web}");
    assert_eq!(grpc_web["message"], "Hello, web", "{grpc_web}");
    assert!(
        grpc_web["trailers"]
            .as_str()
            .unwrap()
            .contains("grpc-status:0"),
        "{grpc_web}"
    );
    assert_eq!(grpc_web["tenant"], "acme", "{grpc_web}");
    // The browser refuses what the gateway does not allow for this origin.
    for refused in [json_denied, grpc_web_denied] {
        assert!(
            refused["error"]
                .as_str()
                .is_some_and(|e| e.contains("fetch")),
            "{refused}"
        );
    }

    client.close().await.unwrap();
}

/// From a page of another site, what needs no permission: a `text/plain`
/// POST (`no-cors`, so no preflight), an `<img>` GET of a method, and a
/// form posted into a hidden frame. Resolves once each has finished.
const HOSTILE_CALLS: &str = r#"
const [gw, done] = arguments;
const path = '/greeter.v1.Greeter/SayHello';
const img = () => new Promise((resolve) => {
    const i = new Image();
    i.onload = () => resolve('loaded');
    i.onerror = () => resolve('error');
    i.src = gw + path;
});
const form = () => new Promise((resolve) => {
    const frame = document.createElement('iframe');
    frame.name = 'sink';
    frame.onload = () => resolve('posted');
    document.body.append(frame);
    const f = document.createElement('form');
    f.method = 'POST';
    f.action = gw + path;
    f.target = 'sink';
    f.enctype = 'text/plain';
    const field = document.createElement('input');
    field.name = '{"name":"form","x":"';
    field.value = '"}';
    f.append(field);
    document.body.append(f);
    f.submit();
});
fetch(gw + path, {method: 'POST', mode: 'no-cors', headers: {'content-type': 'text/plain'},
                  body: JSON.stringify({name: 'plain'})})
    .then(() => 'sent', (e) => String(e))
    .then(async (plain) => done({plain, img: await img(), form: await form()}));
"#;

#[tokio::test]
async fn pages_of_other_sites_cannot_make_the_browser_call() {
    let Some((chromedriver, chromium)) = browser_binaries() else {
        return;
    };
    let server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "a").await;
    let page = app_page(&server).await;
    let target = gateway(&server).await;

    let driver = driver(chromedriver).await;
    let client = browser(&driver, chromium).await;
    client.goto(&format!("{}/app", page.url)).await.unwrap();
    let results = within(
        "the page's hostile calls",
        client.execute_async(HOSTILE_CALLS, vec![target.url.clone().into()]),
    )
    .await
    .unwrap();
    assert_eq!(results["plain"], "sent", "{results}");
    assert_eq!(results["img"], "error", "{results}");
    assert_eq!(results["form"], "posted", "{results}");
    client.close().await.unwrap();

    // Then a call of the test's own: the first the service sees.
    let reply = reqwest::Client::new()
        .post(format!("{}/greeter.v1.Greeter/SayHello", target.url))
        .header("content-type", "application/json")
        .body(r#"{"name":"mine"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let first = within("the test's call", async {
        loop {
            match events.recv().await {
                Some(nrpc_tests::Event::Started(name)) => return name,
                Some(_) => continue,
                None => panic!("the service is gone"),
            }
        }
    })
    .await;
    assert_eq!(first, "mine");
}

/// Calls SayHello from the page (as the console's own script would).
const CALL_FROM_PAGE: &str = r#"
const [done] = arguments;
fetch('/greeter.v1.Greeter/SayHello', {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"name":"page"}'})
    .then((r) => done(r.status), (e) => done(String(e)));
"#;

#[tokio::test]
async fn a_read_only_console_lists_and_cannot_call_and_credentials_open_a_guarded_one() {
    let Some((chromedriver, chromium)) = browser_binaries() else {
        return;
    };
    let server = nats_server();
    let _a = serve_greeter(&server, "a").await;
    let read_only = gateway_with(&server, |b| b.console_read_only(true)).await;
    let driver = driver(chromedriver).await;
    let client = browser(&driver, chromium).await;

    client.goto(&read_only.url).await.unwrap();
    let summary = text_until(&client, "#summary", |t| t.contains("instance(s)")).await;
    assert!(summary.contains("read-only"), "{summary}");
    let greeter = r#".service[data-name="greeter.v1.Greeter"]"#;
    element(&client, greeter).await.click().await.unwrap();
    element(&client, r#"button.method[data-method="SayHello"]"#)
        .await
        .click()
        .await
        .unwrap();
    // No form to call with, and a call from the page is refused.
    let form = element(&client, "#call-form").await;
    assert_eq!(form.attr("hidden").await.unwrap().as_deref(), Some("true"));
    let status = within(
        "a call from the page",
        client.execute_async(CALL_FROM_PAGE, vec![]),
    )
    .await
    .unwrap();
    assert_eq!(status, 403);
    // Other callers are not the console: they may.
    let r = reqwest::Client::new()
        .post(format!("{}/greeter.v1.Greeter/SayHello", read_only.url))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A console behind authentication asks for credentials, then lists.
    let mut keys = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut keys, b"console-key-0123456789 operator\n").unwrap();
    let auth = nrpc_gateway::Auth::new()
        .api_keys_file(keys.path())
        .unwrap();
    let guarded = gateway_with(&server, |b| b.auth(auth)).await;
    client.goto(&guarded.url).await.unwrap();
    text_until(&client, "#summary", |t| {
        t.contains("missing or invalid credentials")
    })
    .await;
    element(&client, "#credential")
        .await
        .send_keys("console-key-0123456789")
        .await
        .unwrap();
    element(&client, r#"#credentials button"#)
        .await
        .click()
        .await
        .unwrap();
    let summary = text_until(&client, "#summary", |t| t.contains("instance(s)")).await;
    assert!(summary.contains("1 service(s)"), "{summary}");
    let status = within(
        "a call from the page",
        client.execute_async(CALL_FROM_PAGE, vec![]),
    )
    .await
    .unwrap();
    assert_eq!(status, 401, "the page's own fetch sends no credentials");
    client.close().await.unwrap();
}

/// Refuses every e-mail, so each one ends in the dead letters.
struct Refusing;

impl nrpc_tests::jobs::mailer_server::Mailer for Refusing {
    async fn send(
        &self,
        _: nrpc_runtime::Request<nrpc_tests::jobs::Email>,
    ) -> Result<(), nrpc_runtime::Status> {
        Err(nrpc_runtime::Status::invalid_argument("no such mailbox"))
    }

    async fn ping(
        &self,
        _: nrpc_runtime::Request<nrpc_tests::jobs::Email>,
    ) -> Result<(), nrpc_runtime::Status> {
        Ok(())
    }
}

/// A service with durable methods shows each durable stream's consumers
/// with their lag, and its dead letters.
#[tokio::test]
async fn the_console_shows_durable_backlogs_and_dead_letters() {
    let Some((chromedriver, chromium)) = browser_binaries() else {
        return;
    };
    let server = nats_harness::NatsServer::start_jetstream().unwrap();
    let _mailer = serve(
        &server,
        nrpc_tests::jobs::mailer_server::MailerServer::new(Refusing),
    )
    .await;
    let client =
        nrpc_tests::jobs::mailer_client::MailerClient::new(nrpc_tests::connection(&server).await);
    let email = nrpc_tests::jobs::Email {
        id: "m-1".into(),
        to: "nobody".into(),
        subject: "hi".into(),
    };
    client.send(&email).await.unwrap();
    let gateway = gateway(&server).await;
    let driver = driver(chromedriver).await;
    let browser = browser(&driver, chromium).await;
    browser.goto(&gateway.url).await.unwrap();
    let mailer = r#".service[data-name="jobs.v1.Mailer"] .durable"#;
    let shown = text_until(&browser, mailer, |t| t.contains("dead letters: 1")).await;
    assert!(shown.contains("NRPC_jobs_v1_Mailer_Send"), "{shown}");
    assert!(shown.contains("nrpc"), "the command consumer: {shown}");
    browser.close().await.unwrap();
}
