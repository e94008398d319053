//! The wire format of HTTP over NATS as nats-roundtripper ("nrt") speaks it
//! (feature `http`; nrpc-http is built on it),
//! so Go and Rust peers mix: where a request goes (subjects, the `.nats`
//! host rule, the queue group) and the request and reply payloads (whole
//! HTTP/1.1 messages), with the quirks of Go peers read correctly. Pure:
//! no I/O, every rule here and only here.

use bytes::{BufMut, Bytes, BytesMut};

pub mod stream;

/// The subject prefix when none is configured (`NATS_PREFIX` sets one).
pub const DEFAULT_PREFIX: &str = "nrt";
/// The queue group every server of a host joins, whatever host or prefix.
pub const QUEUE_GROUP: &str = "nrt";
/// What a host served over NATS ends in.
pub const HOST_SUFFIX: &str = ".nats";

/// HTTP header of a request from an nrpc-http client: the milliseconds it
/// waits for the reply (Go servers pass it to the handler as any header).
pub const TIMEOUT_HEADER: &str = "nrpc-timeout";

/// HTTP header of a request from an nrpc-http client, value `1`: it takes
/// a reply whose body is streamed ([`stream`]) and cancels requests it
/// gives up on. An nrt client does not send it, so it always gets whole
/// replies.
pub const STREAM_HEADER: &str = "nrpc-stream";
/// The value of [`STREAM_HEADER`]: the version of the streaming extension.
pub const STREAM_VERSION: &str = "1";

/// Most headers a request or reply may have.
const MAX_HEADERS: usize = 128;

/// What an nrpc-http client says of itself in a request's HTTP headers
/// ([`TIMEOUT_HEADER`], [`STREAM_HEADER`]): written by
/// [`encode_request`], taken out by [`decode_request`], so the service's
/// handler never sees them. A request from an nrt client has none
/// (`Hints::default()`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hints {
    /// How long the caller waits for the reply, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The caller takes a streamed reply and cancels what it gives up on.
    pub takes_stream: bool,
}

impl Hints {
    fn put(&self, out: &mut BytesMut) {
        if let Some(ms) = self.timeout_ms {
            put_fmt(out, format_args!("{TIMEOUT_HEADER}: {ms}\r\n"));
        }
        if self.takes_stream {
            put_fmt(out, format_args!("{STREAM_HEADER}: {STREAM_VERSION}\r\n"));
        }
    }

    /// Reads `header` into these hints if it is one of theirs.
    fn take(&mut self, header: &httparse::Header<'_>) -> bool {
        if header.name.eq_ignore_ascii_case(TIMEOUT_HEADER) {
            self.timeout_ms = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
            true
        } else if header.name.eq_ignore_ascii_case(STREAM_HEADER) {
            self.takes_stream = true;
            true
        } else {
            false
        }
    }

    /// Whether `name` is a header these hints are written as.
    fn is_hint(name: &http::HeaderName) -> bool {
        name == TIMEOUT_HEADER || name == STREAM_HEADER
    }
}

/// The instance that answers, as an nrt server names itself in every
/// reply's HTTP headers: `Nrt-Id` (unique per reply), `Nrt-Connected-Server`
/// (the broker's name), `Nrt-Client` (its client id on that broker) and,
/// on a clustered broker only, `Nrt-Connected-Cluster`. The default names
/// nobody (replies get none of them). What the broker said is written only
/// if it is a valid header value (a name with a line break would forge
/// headers): a line whose value is not is left out.
#[derive(Debug, Default)]
pub struct Answerer {
    /// The fixed lines, written after each reply's `Nrt-Id`.
    lines: Bytes,
    /// Each reply's id: this prefix, then a count.
    prefix: String,
    count: std::sync::atomic::AtomicU64,
}

impl Answerer {
    /// The instance connected to the broker `server_name` as client
    /// `client_id` (in `cluster`, if it is clustered); its replies' ids
    /// start with `id_prefix` (unique to this instance and connection).
    pub fn new(server_name: &str, client_id: u64, cluster: Option<&str>, id_prefix: &str) -> Self {
        let valid = |v: &str| !v.is_empty() && http::HeaderValue::from_str(v).is_ok();
        let mut lines = BytesMut::new();
        if valid(server_name) {
            put_fmt(
                &mut lines,
                format_args!("Nrt-Connected-Server: {server_name}\r\n"),
            );
        }
        put_fmt(&mut lines, format_args!("Nrt-Client: {client_id}\r\n"));
        if let Some(cluster) = cluster.filter(|c| valid(c)) {
            put_fmt(
                &mut lines,
                format_args!("Nrt-Connected-Cluster: {cluster}\r\n"),
            );
        }
        // The prefix is ours (a nuid); one that is not a header value
        // gives ids that are only the count.
        let prefix = if valid(id_prefix) { id_prefix } else { "" };
        Answerer {
            lines: lines.freeze(),
            prefix: prefix.to_owned(),
            count: Default::default(),
        }
    }

    /// Whether `(server_name, client_id, cluster)` is what this answerer
    /// says.
    pub fn says(&self, server_name: &str, client_id: u64, cluster: Option<&str>) -> bool {
        self.lines == Answerer::new(server_name, client_id, cluster, "").lines
    }

    fn put(&self, out: &mut BytesMut) {
        if self.lines.is_empty() {
            return;
        }
        let n = self
            .count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        put_fmt(out, format_args!("Nrt-Id: {}{n}\r\n", self.prefix));
        out.put_slice(&self.lines);
    }
}

/// Writes formatted text into `out` (no temporary string).
fn put_fmt(out: &mut BytesMut, args: std::fmt::Arguments<'_>) {
    // Writing into a BytesMut cannot fail: it grows.
    let _ = std::fmt::Write::write_fmt(out, args);
}

/// Why something cannot go over NATS, or what arrived is not HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The URL names no host.
    NoHost(String),
    /// The host does not end in `.nats`.
    NotNatsHost(String),
    /// The prefix, host or method cannot be subject tokens.
    Subject(String),
    /// A payload that is not an HTTP/1.x request.
    Request(String),
    /// A payload that is not an HTTP/1.x response.
    Response(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::NoHost(url) => write!(f, "the URL {url:?} names no host"),
            WireError::NotNatsHost(host) => write!(
                f,
                "{host:?} is not a host served over NATS: its name must end in .nats (weather.nats)"
            ),
            WireError::Subject(why) => f.write_str(why),
            WireError::Request(why) => write!(f, "not an HTTP request: {why}"),
            WireError::Response(why) => write!(f, "not an HTTP response: {why}"),
        }
    }
}

impl std::error::Error for WireError {}

/// The host as subjects carry it: the name lowercased, without port; it
/// must end in `.nats`.
pub fn check_host(host: &str) -> Result<String, WireError> {
    let host = host.to_ascii_lowercase();
    if !host.ends_with(HOST_SUFFIX) || host.len() == HOST_SUFFIX.len() {
        return Err(WireError::NotNatsHost(host));
    }
    crate::subject::validate_literal("host", &host)
        .map_err(|e| WireError::Subject(e.to_string()))?;
    Ok(host)
}

/// The NATS host a URL names (`http://weather.nats:8080/x` →
/// `weather.nats`).
pub fn nats_host(uri: &http::Uri) -> Result<String, WireError> {
    let host = uri
        .host()
        .ok_or_else(|| WireError::NoHost(uri.to_string()))?;
    check_host(host)
}

/// `<prefix>.<kind>.<host>.<last>`, the prefix and `last` checked.
fn subject(prefix: &str, kind: &str, host: &str, last: &str) -> Result<String, WireError> {
    let bad = |e: crate::InvalidToken| WireError::Subject(e.to_string());
    crate::subject::validate_literal("prefix", prefix).map_err(bad)?;
    if last != "*" {
        crate::subject::validate_token("method", last).map_err(bad)?;
    }
    // One allocation of the exact size.
    Ok([prefix, kind, host, last].join("."))
}

/// A method as a subject's last token: lowercased.
fn method_token(method: &http::Method) -> std::borrow::Cow<'static, str> {
    let known = match *method {
        http::Method::GET => "get",
        http::Method::POST => "post",
        http::Method::PUT => "put",
        http::Method::DELETE => "delete",
        http::Method::HEAD => "head",
        http::Method::PATCH => "patch",
        http::Method::OPTIONS => "options",
        ref other => return other.as_str().to_ascii_lowercase().into(),
    };
    known.into()
}

/// The subject a request for `host` (already checked) goes to:
/// `<prefix>.requests.<host>.<method>`, the method lowercased.
pub fn request_subject(
    prefix: &str,
    host: &str,
    method: &http::Method,
) -> Result<String, WireError> {
    subject(prefix, "requests", host, &method_token(method))
}

/// The subject a server of `host` (already checked) subscribes to, in
/// [`QUEUE_GROUP`]: `<prefix>.requests.<host>.*` (the method token is not
/// read; the payload says the method).
pub fn serve_subject(prefix: &str, host: &str) -> Result<String, WireError> {
    subject(prefix, "requests", host, "*")
}

/// The subject a request whose body is streamed goes to (nrpc-http peers
/// only): `<prefix>.streams.<host>.<method>`. Only nrpc-http servers
/// subscribe to it, so an nrt server never gets part of a body; the caller
/// hears "no responders" instead.
pub fn stream_subject(
    prefix: &str,
    host: &str,
    method: &http::Method,
) -> Result<String, WireError> {
    subject(prefix, "streams", host, &method_token(method))
}

/// The subject an nrpc-http server of `host` takes streamed requests on,
/// in [`QUEUE_GROUP`]: `<prefix>.streams.<host>.*`.
pub fn serve_stream_subject(prefix: &str, host: &str) -> Result<String, WireError> {
    subject(prefix, "streams", host, "*")
}

/// The subject an nrpc-http server of `host` hears cancellations on:
/// `_NRPC.cancel.<prefix>.*.<host>.*`. A client that gives up on a request
/// sends the request's reply subject to `_NRPC.cancel.` + the request's
/// subject, as nrpc's own clients do
/// ([`cancel_subject`](crate::route::cancel_subject)).
pub fn serve_cancel_subject(prefix: &str, host: &str) -> Result<String, WireError> {
    let requests = subject(prefix, "*", host, "*")?;
    Ok(format!("{}{requests}", crate::route::CANCEL_PREFIX))
}

/// Headers a message carries as its framing (and nrpc-http's [`Hints`]),
/// which the encoder writes itself.
fn is_framing(name: &http::HeaderName) -> bool {
    name == http::header::HOST
        || name == http::header::CONTENT_LENGTH
        || name == http::header::TRANSFER_ENCODING
        || Hints::is_hint(name)
}

fn put_headers(out: &mut BytesMut, headers: &http::HeaderMap) {
    for (name, value) in headers {
        if is_framing(name) {
            continue;
        }
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
}

fn put_body(out: &mut BytesMut, body: &[u8], length_even_if_empty: bool) {
    if !body.is_empty() || length_even_if_empty {
        put_fmt(out, format_args!("Content-Length: {}\r\n", body.len()));
    }
    out.put_slice(b"\r\n");
    out.put_slice(body);
}

fn put_request_head(out: &mut BytesMut, parts: &http::request::Parts, host: &str, hints: &Hints) {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let target = if target.is_empty() { "/" } else { target };
    out.put_slice(parts.method.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(target.as_bytes());
    out.put_slice(b" HTTP/1.1\r\nHost: ");
    out.put_slice(host.as_bytes());
    out.put_slice(b"\r\n");
    hints.put(out);
    put_headers(out, &parts.headers);
}

fn put_response_head(out: &mut BytesMut, parts: &http::response::Parts, by: &Answerer) {
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(parts.status.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    out.put_slice(b"\r\n");
    by.put(out);
    put_headers(out, &parts.headers);
}

fn capacity(headers: &http::HeaderMap, body: usize) -> usize {
    128 + body + 32 * headers.len()
}

/// A request's payload: the whole HTTP/1.1 request as on a socket, its
/// target in origin form, `Host:` exactly the lowercase host (a Go server
/// ignores any other), the caller's `hints` (none from an nrt client;
/// headers of their names in `parts` are never written), `Content-Length`
/// for a body.
pub fn encode_request(
    parts: &http::request::Parts,
    host: &str,
    hints: &Hints,
    body: &[u8],
) -> Bytes {
    let mut out = BytesMut::with_capacity(capacity(&parts.headers, body.len()));
    put_request_head(&mut out, parts, host, hints);
    put_body(&mut out, body, false);
    out.freeze()
}

/// The head of a request whose body follows in chunks (nrpc-http peers
/// only): the request as [`encode_request`] writes it without a body or
/// its length, so [`decode_request`] reads it with an empty body.
pub fn encode_request_head(parts: &http::request::Parts, host: &str, hints: &Hints) -> Bytes {
    let mut out = BytesMut::with_capacity(capacity(&parts.headers, 0));
    put_request_head(&mut out, parts, host, hints);
    out.put_slice(b"\r\n");
    out.freeze()
}

/// A reply's payload: the whole HTTP/1.1 response as on a socket, naming
/// the instance that answers `by`, with `Content-Length`.
pub fn encode_response(parts: &http::response::Parts, by: &Answerer, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(capacity(&parts.headers, body.len()));
    put_response_head(&mut out, parts, by);
    put_body(&mut out, body, true);
    out.freeze()
}

/// The head of a reply whose body follows in chunks (nrpc-http peers
/// only): status and headers, without a length.
pub fn encode_response_head(parts: &http::response::Parts, by: &Answerer) -> Bytes {
    let mut out = BytesMut::with_capacity(capacity(&parts.headers, 0));
    put_response_head(&mut out, parts, by);
    out.put_slice(b"\r\n");
    out.freeze()
}

/// The body after a header block of `head` bytes: chunked, sized by
/// `Content-Length`, or else `rest` (`Some`: a reply, read to the end) or
/// empty (a request).
fn body(
    payload: &Bytes,
    head: usize,
    headers: &http::HeaderMap,
    rest_if_unsized: bool,
) -> Result<Bytes, String> {
    let after = payload.slice(head..);
    let chunked = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
        });
    if chunked {
        return dechunk(&after);
    }
    match headers.get(http::header::CONTENT_LENGTH) {
        Some(length) => {
            let length: usize = length
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or("a Content-Length that is not a number")?;
            if after.len() < length {
                return Err(format!(
                    "the body has {} of its {length} bytes",
                    after.len()
                ));
            }
            Ok(after.slice(..length))
        }
        None if rest_if_unsized => Ok(after),
        None => Ok(Bytes::new()),
    }
}

/// A chunked body, decoded (chunk extensions and trailers ignored; LF-only
/// lines accepted).
fn dechunk(mut data: &[u8]) -> Result<Bytes, String> {
    let mut out = BytesMut::new();
    loop {
        let line_end = data
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("a chunk size line without an end")?;
        let line =
            std::str::from_utf8(&data[..line_end]).map_err(|_| "a chunk size that is not text")?;
        let size = line.trim_end_matches('\r');
        let size = size.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| format!("a chunk size {size:?}"))?;
        data = &data[line_end + 1..];
        if size == 0 {
            return Ok(out.freeze());
        }
        if data.len() < size {
            return Err("a chunk shorter than its size".into());
        }
        out.put_slice(&data[..size]);
        data = &data[size..];
        data = data
            .strip_prefix(b"\r\n")
            .or_else(|| data.strip_prefix(b"\n"))
            .ok_or("a chunk without its line end")?;
    }
}

/// The headers of `payload` httparse found, their values sharing its
/// bytes; `hints` (a request's) takes its own out.
fn header_map(
    payload: &Bytes,
    raw: &[httparse::Header<'_>],
    mut hints: Option<&mut Hints>,
) -> Result<http::HeaderMap, String> {
    let mut headers = http::HeaderMap::with_capacity(raw.len());
    for h in raw {
        if let Some(hints) = hints.as_deref_mut() {
            if hints.take(h) {
                continue;
            }
        }
        let name = http::HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("a header name {:?}", h.name))?;
        let value = http::HeaderValue::from_maybe_shared(payload.slice_ref(h.value))
            .map_err(|_| format!("the value of header {}", h.name))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// A request payload, read as a Go server reads it: origin- or
/// absolute-form targets, HTTP/1.0 or 1.1, LF-only lines, chunked or sized
/// bodies (none if neither); with the caller's [`Hints`], taken out of its
/// headers.
pub fn decode_request(payload: &Bytes) -> Result<(http::Request<Bytes>, Hints), WireError> {
    let bad = WireError::Request;
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut raw);
    let head = match request.parse(payload) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(bad("the header block does not end".into())),
        Err(e) => return Err(bad(e.to_string())),
    };
    let method = http::Method::from_bytes(request.method.unwrap_or("").as_bytes())
        .map_err(|_| bad("its method".into()))?;
    let target = request.path.unwrap_or("/");
    let uri = http::Uri::from_maybe_shared(payload.slice_ref(target.as_bytes()))
        .map_err(|_| bad(format!("its target {target:?}")))?;
    // Absolute form: the path and query are the target.
    let uri = match uri.path_and_query() {
        Some(pq) if uri.scheme().is_some() => pq.as_str().parse().unwrap_or(uri),
        _ => uri,
    };
    let version = match request.version {
        Some(0) => http::Version::HTTP_10,
        _ => http::Version::HTTP_11,
    };
    let mut hints = Hints::default();
    let headers = header_map(payload, request.headers, Some(&mut hints)).map_err(bad)?;
    let body = body(payload, head, &headers, false).map_err(bad)?;
    let mut out = http::Request::new(body);
    *out.method_mut() = method;
    *out.uri_mut() = uri;
    *out.version_mut() = version;
    *out.headers_mut() = headers;
    Ok((out, hints))
}

/// A reply payload, read as a Go client reads it, and then some: a Go
/// server's `HTTP/0.0` status line and status `000` (nothing written: 200),
/// no `Content-Length` (the rest is the body), chunked bodies, LF-only
/// lines, trailing bytes after a sized body.
pub fn decode_response(payload: &Bytes) -> Result<http::Response<Bytes>, WireError> {
    let bad = WireError::Response;
    if payload.is_empty() {
        return Err(bad("an empty reply".into()));
    }
    // httparse knows HTTP/1.x only: a Go server's HTTP/0.0 is read as 1.1.
    let payload = match payload.strip_prefix(b"HTTP/0.0 ") {
        Some(rest) => {
            let mut fixed = BytesMut::with_capacity(payload.len());
            fixed.put_slice(b"HTTP/1.1 ");
            fixed.put_slice(rest);
            fixed.freeze()
        }
        None => payload.clone(),
    };
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut raw);
    let head = match response.parse(&payload) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err(bad("the header block does not end".into())),
        Err(e) => return Err(bad(e.to_string())),
    };
    let status = match response.code.unwrap_or(0) {
        // Go writes 000 when the handler wrote nothing: that is a 200.
        0 => http::StatusCode::OK,
        code => http::StatusCode::from_u16(code).map_err(|_| bad(format!("its status {code}")))?,
    };
    let headers = header_map(&payload, response.headers, None).map_err(bad)?;
    let body = body(&payload, head, &headers, true).map_err(bad)?;
    let mut out = http::Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn hosts_and_subjects_follow_nrt() {
        let uri: http::Uri = "http://Weather.NATS:8080/city?q=1"
            .parse()
            .unwrap_or_default();
        assert_eq!(nats_host(&uri).as_deref(), Ok("weather.nats"));
        let host = "weather.nats";
        assert_eq!(
            request_subject(DEFAULT_PREFIX, host, &http::Method::POST).as_deref(),
            Ok("nrt.requests.weather.nats.post")
        );
        assert_eq!(
            serve_subject("v2", host).as_deref(),
            Ok("v2.requests.weather.nats.*")
        );
        assert_eq!(
            stream_subject("v2", host, &http::Method::PUT).as_deref(),
            Ok("v2.streams.weather.nats.put")
        );
        assert_eq!(
            serve_stream_subject("nrt", host).as_deref(),
            Ok("nrt.streams.weather.nats.*")
        );
        assert_eq!(
            serve_cancel_subject("nrt", host).as_deref(),
            Ok("_NRPC.cancel.nrt.*.weather.nats.*")
        );
        // What a client cancels is what that server hears.
        assert_eq!(
            crate::route::cancel_subject("nrt.streams.weather.nats.put").as_deref(),
            Ok("_NRPC.cancel.nrt.streams.weather.nats.put")
        );
        for bad in ["example.com", ".nats", "nats"] {
            assert!(
                matches!(check_host(bad), Err(WireError::NotNatsHost(_))),
                "{bad}"
            );
        }
        assert!(matches!(check_host("a b.nats"), Err(WireError::Subject(_))));
        assert!(matches!(check_host("a*.nats"), Err(WireError::Subject(_))));
        let no_host: http::Uri = "/path".parse().unwrap_or_default();
        assert!(matches!(nats_host(&no_host), Err(WireError::NoHost(_))));
        assert!(request_subject("bad prefix", host, &http::Method::GET).is_err());
    }

    #[test]
    fn a_request_is_written_as_nrt_writes_it() {
        let request = http::Request::post("http://echo.nats:8080/some/path?q=1&q=2")
            .header("X-Test", "yes")
            .header("Host", "ignored.example")
            .body(())
            .unwrap_or_default();
        let (parts, ()) = request.into_parts();
        assert_eq!(
            encode_request(&parts, "echo.nats", &Hints::default(), br#"{"a":1}"#),
            bytes("POST /some/path?q=1&q=2 HTTP/1.1\r\nHost: echo.nats\r\nx-test: yes\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
        );
        let get = http::Request::get("http://echo.nats")
            .body(())
            .unwrap_or_default();
        assert_eq!(
            encode_request(&get.into_parts().0, "echo.nats", &Hints::default(), b""),
            bytes("GET / HTTP/1.1\r\nHost: echo.nats\r\n\r\n")
        );
    }

    #[test]
    fn hints_travel_as_headers_the_handler_never_sees() {
        let request = http::Request::get("http://echo.nats/x")
            .header(TIMEOUT_HEADER, "1")
            .header(STREAM_HEADER, "9")
            .header("X-Test", "yes")
            .body(())
            .unwrap_or_default();
        let hints = Hints {
            timeout_ms: Some(2500),
            takes_stream: true,
        };
        // The caller's own headers of those names are replaced, not repeated.
        let wire = encode_request(&request.into_parts().0, "echo.nats", &hints, b"");
        assert_eq!(
            wire,
            bytes("GET /x HTTP/1.1\r\nHost: echo.nats\r\nnrpc-timeout: 2500\r\nnrpc-stream: 1\r\nx-test: yes\r\n\r\n")
        );
        let (request, read) = decode_request(&wire).unwrap_or_default();
        assert_eq!(read, hints);
        assert_eq!(request.headers().len(), 2, "{:?}", request.headers());
        assert_eq!(request.headers()["x-test"], "yes");
        // Any case; a timeout that is not a number is none; an nrt
        // client's request has no hints.
        let odd = bytes(
            "GET / HTTP/1.1\r\nHost: echo.nats\r\nNrpc-Timeout: soon\r\nNRPC-STREAM: 1\r\n\r\n",
        );
        let (request, read) = decode_request(&odd).unwrap_or_default();
        assert_eq!(
            read,
            Hints {
                timeout_ms: None,
                takes_stream: true
            }
        );
        assert_eq!(request.headers().len(), 1);
        let plain = bytes("GET / HTTP/1.1\r\nHost: echo.nats\r\n\r\n");
        assert_eq!(
            decode_request(&plain).map(|(_, hints)| hints),
            Ok(Hints::default())
        );
    }

    #[test]
    fn requests_are_read_as_a_go_server_reads_them() {
        // Captured from nrt's Go client.
        let go = bytes("POST /some/path?q=1&q=2 HTTP/1.1\r\nHost: echo.nats\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 7\r\nX-Test: yes\r\n\r\n{\"a\":1}");
        let request = decode_request(&go).unwrap_or_default().0;
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "/some/path?q=1&q=2");
        assert_eq!(request.headers()["x-test"], "yes");
        assert_eq!(request.body(), &bytes("{\"a\":1}"));
        let chunked = bytes("POST /c HTTP/1.1\r\nHost: echo.nats\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nchunky body\r\n0\r\n\r\n");
        assert_eq!(
            decode_request(&chunked).unwrap_or_default().0.body(),
            &bytes("chunky body")
        );
        // Absolute form, HTTP/1.0, LF-only lines, repeated headers, no length.
        let loose =
            bytes("GET http://echo.nats/x?y=1 HTTP/1.0\nHost: echo.nats\nA: 1\nA: 2\n\nignored");
        let request = decode_request(&loose).unwrap_or_default().0;
        assert_eq!(request.uri(), "/x?y=1");
        assert_eq!(request.version(), http::Version::HTTP_10);
        assert_eq!(request.headers().get_all("a").iter().count(), 2);
        assert!(request.body().is_empty());
        for bad in [
            "",
            "GET",
            "not http\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nshort",
        ] {
            assert!(decode_request(&bytes(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replies_are_read_with_the_go_servers_quirks() {
        // Captured from nrt's Go server.
        let go = bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\nNrt-Client: 5\r\nNrt-Connected-Server: nrt-demo\r\nNrt-Id: J7wg1NHhxHzywdwYEdp8bE\r\n\r\n{}");
        let reply = decode_response(&go).unwrap_or_default();
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["nrt-id"], "J7wg1NHhxHzywdwYEdp8bE");
        assert_eq!(reply.body(), &bytes("{}"));
        // WriteHeader before Write: HTTP/0.0.
        let zero = bytes("HTTP/0.0 404 Not Found\r\nContent-Length: 3\r\n\r\nnop");
        let reply = decode_response(&zero).unwrap_or_default();
        assert_eq!(
            (reply.status().as_u16(), reply.body().as_ref()),
            (404, &b"nop"[..])
        );
        // Nothing written: status 000, a 200 with no body.
        let nothing = bytes("HTTP/0.0 000 status code 0\r\nContent-Length: 0\r\n\r\n");
        let reply = decode_response(&nothing).unwrap_or_default();
        assert_eq!((reply.status().as_u16(), reply.body().len()), (200, 0));
        // No length: the rest; chunked; trailing bytes after a sized body.
        let no_length = bytes("HTTP/1.1 200 OK\r\n\r\nall of it");
        assert_eq!(
            decode_response(&no_length).unwrap_or_default().body(),
            &bytes("all of it")
        );
        let chunked = bytes("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n");
        assert_eq!(
            decode_response(&chunked).unwrap_or_default().body(),
            &bytes("abc")
        );
        let trailing = bytes("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokEXTRA");
        assert_eq!(
            decode_response(&trailing).unwrap_or_default().body(),
            &bytes("ok")
        );
        for bad in [
            "",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
            "garbage",
            "HTTP/1.1 99 X\r\n\r\n",
        ] {
            assert!(decode_response(&bytes(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_reply_names_its_answerer_as_nrt_does() {
        let (parts, ()) = http::Response::new(()).into_parts();
        let by = Answerer::new("broker-a", 7, None, "ID");
        let first = encode_response(&parts, &by, b"");
        assert_eq!(
            first,
            bytes("HTTP/1.1 200 OK\r\nNrt-Id: ID0\r\nNrt-Connected-Server: broker-a\r\nNrt-Client: 7\r\nContent-Length: 0\r\n\r\n")
        );
        // Each reply its own id; a clustered broker's cluster named.
        let second = decode_response(&encode_response(&parts, &by, b"")).unwrap_or_default();
        assert_eq!(second.headers()["nrt-id"], "ID1");
        let clustered = Answerer::new("broker-b", 9, Some("east"), "X");
        let head = decode_response(&encode_response_head(&parts, &clustered)).unwrap_or_default();
        assert_eq!(head.headers()["nrt-connected-cluster"], "east");
        assert_eq!(head.headers()["nrt-client"], "9");
        assert!(by.says("broker-a", 7, None) && by.says("broker-a", 7, Some("")));
        // What a broker says cannot forge headers: such a line is left out.
        let hostile = Answerer::new("a\r\nX-Forged: 1", 3, Some("c\nX-Also: 2"), "P\r\n");
        let reply = decode_response(&encode_response(&parts, &hostile, b"")).unwrap_or_default();
        assert!(reply.headers().get("x-forged").is_none());
        assert!(reply.headers().get("x-also").is_none());
        assert!(reply.headers().get("nrt-connected-server").is_none());
        assert!(reply.headers().get("nrt-connected-cluster").is_none());
        assert_eq!(reply.headers()["nrt-id"], "0");
        assert_eq!(reply.headers()["nrt-client"], "3");
        assert!(!by.says("broker-a", 8, None) && !clustered.says("broker-b", 9, None));
    }

    #[test]
    fn replies_round_trip() {
        let reply = http::Response::builder()
            .status(418)
            .header("X-A", "1")
            .header("X-A", "2")
            .body(())
            .unwrap_or_default();
        let (parts, ()) = reply.into_parts();
        let wire = encode_response(&parts, &Answerer::default(), b"teapot");
        assert_eq!(
            wire,
            bytes(
                "HTTP/1.1 418 I'm a teapot\r\nx-a: 1\r\nx-a: 2\r\nContent-Length: 6\r\n\r\nteapot"
            )
        );
        let back = decode_response(&wire).unwrap_or_default();
        assert_eq!(back.status(), 418);
        assert_eq!(back.headers().get_all("x-a").iter().count(), 2);
        assert_eq!(back.body(), &bytes("teapot"));
        // An empty body still says its length (a Go client reads to the end
        // otherwise, which is the same, but explicit is cheaper to read).
        let (empty, ()) = http::Response::new(()).into_parts();
        assert_eq!(
            encode_response(&empty, &Answerer::default(), b""),
            bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        );
    }
}
