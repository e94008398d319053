//! What web pages can make the gateway do. A page on another site can make
//! a browser send "simple" requests anywhere — a form's POST, an `<img>`'s
//! GET — without asking (no CORS preflight), and DNS rebinding can point a
//! name it controls at a gateway on 127.0.0.1. So:
//!
//! * a call whose `Origin` is neither the gateway's own nor an allowed one
//!   is refused (`403`), as is one a browser marks cross-site
//!   (`Sec-Fetch-Site`) without an `Origin`;
//! * a JSON call by `POST` needs a JSON content type, which no simple
//!   request has (`415` otherwise);
//! * `GET` calls only what has no side effects: event subscriptions and
//!   methods declared `idempotency_level = NO_SIDE_EFFECTS` (`405`
//!   otherwise);
//! * with allowed host names set (by default those of a loopback listener),
//!   a request for any other `Host` is refused (`421`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode};
use nrpc_runtime::Code;

use crate::call::Failure;

/// The origins whose pages may call.
#[derive(Debug, Clone, Default)]
pub(crate) enum Origins {
    /// Only the gateway's own pages (the console).
    #[default]
    Own,
    /// Any page (CORS `*`).
    Any,
    /// These, and the gateway's own pages.
    List(Vec<HeaderValue>),
}

impl Origins {
    fn allows(&self, origin: &HeaderValue) -> bool {
        match self {
            Origins::Own => false,
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o == origin),
        }
    }
}

/// The authority (`host[:port]`) a request was sent to.
fn authority(request: &http::Request<Body>) -> Option<&str> {
    request
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| request.headers().get(http::header::HOST)?.to_str().ok())
}

/// Whether `origin` (`scheme://host[:port]`) is the page of the gateway
/// this request reached.
fn same_origin(origin: &HeaderValue, authority: Option<&str>) -> bool {
    let origin = origin.to_str().unwrap_or_default();
    let host = origin.split_once("://").map_or("", |(_, host)| host);
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

/// Refuses a call a page of another site made a browser send (any face),
/// and, with `own_pages_call` false (a read-only console), one the
/// gateway's own pages made.
pub(crate) fn check_origin(
    origins: &Origins,
    own_pages_call: bool,
    request: &http::Request<Body>,
) -> Result<(), Failure> {
    let headers = request.headers();
    match headers.get(http::header::ORIGIN) {
        Some(origin) if same_origin(origin, authority(request)) => {
            if !own_pages_call {
                return Err(Failure::new(
                    Code::PermissionDenied,
                    "the console is read-only",
                ));
            }
        }
        Some(origin) if !origins.allows(origin) => {
            return Err(Failure::new(
                Code::PermissionDenied,
                "calls from pages of this origin are not allowed (see the gateway's allowed origins)",
            ));
        }
        Some(_) => {}
        None => {
            let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
            if matches!(site, Some("cross-site" | "same-site")) && !matches!(origins, Origins::Any)
            {
                return Err(Failure::new(
                    Code::PermissionDenied,
                    "calls from pages of other sites are not allowed",
                ));
            }
        }
    }
    Ok(())
}

/// Refuses a JSON call a simple request (a form, a `text/plain` fetch)
/// could make: one by `POST` without a JSON content type.
pub(crate) fn check_json_post(request: &http::Request<Body>) -> Result<(), Failure> {
    if request.method() == http::Method::POST && !json_content(request.headers()) {
        return Err(Failure::new(
            Code::InvalidArgument,
            "a JSON call needs `Content-Type: application/json` (or application/x-ndjson for a request stream)",
        )
        .with_http(415));
    }
    Ok(())
}

/// Whether the body is declared JSON: `application/json`,
/// `application/x-ndjson`, or `application/<anything>+json`.
fn json_content(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "application/json" | "application/x-ndjson"
    ) || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The host names requests may be sent to; any if `None`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hosts(pub(crate) Option<Arc<Vec<String>>>);

impl Hosts {
    /// Those of a listener on `address`: its loopback names when it is a
    /// loopback address (what DNS rebinding reaches), else any.
    pub(crate) fn of_listener(address: std::net::SocketAddr) -> Hosts {
        if address.ip().is_loopback() {
            let names = ["localhost", "127.0.0.1", "[::1]"].map(str::to_owned);
            Hosts(Some(Arc::new(names.to_vec())))
        } else {
            Hosts(None)
        }
    }

    fn allows(&self, authority: Option<&str>) -> bool {
        let Some(names) = &self.0 else {
            return true;
        };
        let Some(authority) = authority else {
            return false;
        };
        // Without the port: `[::1]:8080` → `[::1]`, `name:80` → `name`.
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => host,
            _ => authority,
        };
        names.iter().any(|n| n.eq_ignore_ascii_case(host))
    }
}

/// Middleware: requests for a host name that is not allowed are refused;
/// every reply says not to sniff its content type or send referrers on.
pub(crate) async fn guard(
    State(hosts): State<Hosts>,
    request: http::Request<Body>,
    next: Next,
) -> Response {
    if !hosts.allows(authority(&request)) {
        return (StatusCode::MISDIRECTED_REQUEST, "unknown host\n").into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_call(origins: &Origins, request: &http::Request<Body>) -> Result<(), Failure> {
        check_origin(origins, true, request)?;
        check_json_post(request)
    }

    fn request(headers: &[(&str, &str)], method: http::Method) -> http::Request<Body> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri("/greeter.v1.Greeter/SayHello");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).unwrap_or_default()
    }

    #[test]
    fn origins_and_content_types() {
        let json = ("content-type", "application/json; charset=utf-8");
        let host = ("host", "127.0.0.1:8080");
        let own = ("origin", "http://127.0.0.1:8080");
        let other = ("origin", "https://evil.example");
        let post = http::Method::POST;
        let allowed = Origins::List(vec![HeaderValue::from_static("https://app.example")]);
        // Not from a browser, or from the gateway's own page.
        assert!(check_call(&allowed, &request(&[json, host], post.clone())).is_ok());
        assert!(check_call(&allowed, &request(&[json, host, own], post.clone())).is_ok());
        // From another site's page.
        let e = check_call(&allowed, &request(&[json, host, other], post.clone()));
        assert_eq!(e.map_err(|f| f.code), Err(Code::PermissionDenied));
        let app = ("origin", "https://app.example");
        assert!(check_call(&allowed, &request(&[json, host, app], post.clone())).is_ok());
        assert!(check_call(&Origins::Any, &request(&[json, host, other], post.clone())).is_ok());
        // An <img> GET: no Origin, but marked cross-site.
        let img = ("sec-fetch-site", "cross-site");
        let e = check_call(&allowed, &request(&[host, img], http::Method::GET));
        assert_eq!(e.map_err(|f| f.code), Err(Code::PermissionDenied));
        // Simple content types (and none) are not JSON calls.
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            let e = check_call(
                &allowed,
                &request(&[("content-type", ct), host], post.clone()),
            );
            assert_eq!(e.map_err(|f| f.http), Err(Some(415)), "{ct}");
        }
        assert!(check_call(&allowed, &request(&[host], post.clone())).is_err());
        for ct in [
            "application/x-ndjson",
            "application/problem+json",
            "Application/JSON",
        ] {
            assert!(check_call(
                &allowed,
                &request(&[("content-type", ct), host], post.clone())
            )
            .is_ok());
        }
    }

    #[test]
    fn hosts() {
        let local = Hosts::of_listener("127.0.0.1:8080".parse().unwrap_or_else(|e| panic!("{e}")));
        for ok in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:8080"] {
            assert!(local.allows(Some(ok)), "{ok}");
        }
        for bad in [
            "attacker.example",
            "attacker.example:8080",
            "127.0.0.1.nip.io",
        ] {
            assert!(!local.allows(Some(bad)), "{bad}");
        }
        assert!(!local.allows(None));
        let any = Hosts::of_listener("0.0.0.0:8080".parse().unwrap_or_else(|e| panic!("{e}")));
        assert!(any.allows(Some("attacker.example")));
    }
}
