//! `nrpc http`: curl over NATS, for services served over NATS as
//! `<host>.nats` (nrpc-http, or nats-roundtripper's Go servers).

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use http_body_util::BodyExt;

use crate::{Failure, Result};

/// `nrpc http`.
#[derive(Debug, Args)]
pub(crate) struct HttpArgs {
    /// The URL, its host ending in `.nats` (`http://weather.nats/city`).
    url: String,
    /// The method (GET, or POST when there is a body).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// A header, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// The body; `@file` reads a file, `@-` stdin.
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    data: Option<String>,
    /// Print the status line and the headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// The subject prefix (else `NATS_PREFIX`, else `nrt`).
    #[arg(long)]
    prefix: Option<String>,
}

/// Sends the request and prints the answer; a `.nats` URL that cannot be
/// asked is an error, any HTTP answer (503 and 504 included) is printed.
pub(crate) async fn run(
    conn: &nrpc_runtime::Connection,
    timeout: Duration,
    args: HttpArgs,
) -> Result<()> {
    let body = match args.data.as_deref() {
        None => Bytes::new(),
        Some("@-") => {
            let mut all = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut all)?;
            Bytes::from(all)
        }
        Some(data) => match data.strip_prefix('@') {
            Some(file) => {
                Bytes::from(std::fs::read(file).map_err(|e| Failure(format!("{file}: {e}")))?)
            }
            None => Bytes::from(data.to_owned()),
        },
    };
    let method = match (&args.method, args.data.is_some()) {
        (Some(m), _) => http::Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| Failure(format!("{m:?} is not an HTTP method")))?,
        (None, true) => http::Method::POST,
        (None, false) => http::Method::GET,
    };
    let mut request = http::Request::builder().method(method).uri(&args.url);
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| Failure(format!("{header:?} is not `Name: value`")))?;
        request = request.header(name.trim(), value.trim());
    }
    let request = request
        .body(http_body_util::Full::new(body))
        .map_err(|e| Failure(format!("the request: {e}")))?;
    let mut client = nrpc_http::HttpClient::new(conn).with_timeout(timeout);
    if let Some(prefix) = args.prefix {
        client = client.with_prefix(prefix);
    }
    // The body is printed as it arrives (server-sent events, large files).
    let response = client
        .stream(request)
        .await
        .map_err(|e| Failure(e.to_string()))?;
    let mut out = std::io::stdout().lock();
    if args.include {
        let status = response.status();
        writeln!(
            out,
            "HTTP/1.1 {} {}",
            status.as_str(),
            status.canonical_reason().unwrap_or("")
        )?;
        for (name, value) in response.headers() {
            writeln!(out, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
        }
        writeln!(out)?;
    }
    out.flush()?;
    drop(out);
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Failure(format!("the response body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            let mut out = std::io::stdout().lock();
            out.write_all(&data)?;
            out.flush()?;
        }
    }
    Ok(())
}
