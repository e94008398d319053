//! How gRPC and HTTP calls map onto nrpc calls, for everything that bridges
//! the two (the gateway, a service served over both): the `grpc-timeout`
//! header, which request headers travel on as NATS headers, and the
//! headers that name subject parameters and an instance.
//!
//! Status codes need no mapping: [`Code`](crate::Code) *is* gRPC's code
//! set, and its [`service_error_code`](crate::Code::service_error_code) is
//! the HTTP status.

use std::time::Duration;

use crate::ServiceSpec;

/// The gRPC deadline header.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Request header (gRPC metadata or HTTP) naming one subject parameter:
/// `nrpc-param-<name>: <value>`.
pub const PARAM_PREFIX: &str = "nrpc-param-";

/// Request header (gRPC metadata or HTTP) that sends the call to one
/// instance (its NATS services id) instead of the queue group.
pub const INSTANCE: &str = "nrpc-instance";

/// The longest `grpc-timeout` value: at most 8 digits (gRPC's rule).
const MAX_DIGITS: usize = 8;

/// The timeout a `grpc-timeout` value gives (`<digits><unit>`, units
/// `H M S m u n`, at most 8 digits); `None` if it is not one.
///
/// ```
/// use std::time::Duration;
/// use nrpc_wire::grpc::parse_grpc_timeout;
/// assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
/// assert_eq!(parse_grpc_timeout("1.5S"), None);
/// ```
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let unit = value.chars().last()?;
    let digits = &value[..value.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        'H' => Duration::from_secs(n * 3600),
        'M' => Duration::from_secs(n * 60),
        'S' => Duration::from_secs(n),
        'm' => Duration::from_millis(n),
        'u' => Duration::from_micros(n),
        'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Whether a request header (lower-case name) belongs to the transport —
/// HTTP/2 or HTTP/1 framing, gRPC's own headers, content negotiation — to
/// this mapping (parameters, instance) or to nrpc and NATS themselves
/// (`nrpc-*`, `nats-*`: a caller may not forge a stream's credit or a
/// timeout behind the bridge's back), and so does not travel on as a NATS
/// header. Everything else (authorization, tenant ids, trace context)
/// does.
pub fn is_transport_header(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-type"
            | "content-length"
            | "content-encoding"
            | "accept"
            | "accept-encoding"
            | "accept-language"
            | "user-agent"
            | "origin"
            | "referer"
            | "x-grpc-web"
            | "x-user-agent"
            | INSTANCE
    ) || name.starts_with("grpc-")
        || name.starts_with("proxy-")
        || name.starts_with("sec-")
        || name.starts_with(':')
        || name.starts_with("nrpc-")
        || name.starts_with("nats-")
}

/// The NATS header name for an HTTP header or gRPC metadata name (lower
/// case on HTTP/2): canonical MIME case, as Go's `net/http` presents
/// headers and as NATS services usually name them (`x-tenant` →
/// `X-Tenant`). Names that are not plain tokens pass unchanged.
///
/// ```
/// assert_eq!(nrpc_wire::grpc::canonical_header_name("x-tenant"), "X-Tenant");
/// assert_eq!(nrpc_wire::grpc::canonical_header_name("traceparent"), "Traceparent");
/// ```
pub fn canonical_header_name(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// The subject parameter values of method `method` of `spec`, in
/// [`ServiceSpec::param_names`] order (package, service, method): the
/// `positional` values first (an HTTP path's segments after the method),
/// then the `named` ones (query parameters, `nrpc-param-*` headers). Each
/// must be given exactly once; the error says which is missing, unknown,
/// given twice or one too many.
pub fn subject_params(
    spec: &ServiceSpec,
    method: usize,
    positional: Vec<String>,
    named: Vec<(String, String)>,
) -> Result<Vec<String>, String> {
    let names: Vec<&str> = spec.param_names(method).collect();
    let whose = || {
        let m = spec.methods.get(method).map_or("?", |m| &*m.name);
        format!("{}.{m}", spec.name)
    };
    if positional.len() > names.len() {
        return Err(format!(
            "{} takes {} subject parameter(s), the path gives {}",
            whose(),
            names.len(),
            positional.len()
        ));
    }
    let mut values: Vec<Option<String>> = positional.into_iter().map(Some).collect();
    values.resize(names.len(), None);
    for (name, value) in named {
        let Some(i) = names.iter().position(|n| *n == name) else {
            let takes = if names.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("it takes {}", names.join(", "))
            };
            return Err(format!(
                "{} has no subject parameter {name:?} ({takes})",
                whose()
            ));
        };
        if values[i].replace(value).is_some() {
            return Err(format!("the subject parameter {name:?} is given twice"));
        }
    }
    values
        .into_iter()
        .zip(&names)
        .map(|(v, n)| {
            v.ok_or_else(|| {
                format!(
                    "{} needs the subject parameter {n:?} ({PARAM_PREFIX}{n} header or metadata; over HTTP also a path segment or ?{n}=…)",
                    whose()
                )
            })
        })
        .collect()
}

/// Whether a reply header is nrpc's or NATS' own (stream credit, error
/// frames' headers, the instance, …), which a bridge does not hand on as
/// reply metadata.
pub fn is_protocol_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    (lower.starts_with("nrpc-") && lower != "nrpc-instance") || lower.starts_with("nats-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MethodKind, MethodSpec};
    use std::borrow::Cow;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            name: "p.S".into(),
            description: "".into(),
            package_subject: "p".into(),
            package_params: Cow::Owned(vec!["a".into()]),
            service_subject: "S".into(),
            service_params: Cow::Owned(vec![]),
            methods: Cow::Owned(vec![MethodSpec {
                name: "M".into(),
                subject: "M".into(),
                params: Cow::Owned(vec!["b".into(), "c".into()]),
                kind: MethodKind::Unary,
                polling: false,
            }]),
        }
    }

    #[test]
    fn subject_params_come_positional_then_named_each_once() {
        let s = spec();
        let named = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let ok = subject_params(&s, 0, vec!["1".into()], named(&[("c", "3"), ("b", "2")]));
        assert_eq!(ok, Ok(vec!["1".into(), "2".into(), "3".into()]));
        let err = |r: Result<Vec<String>, String>| r.unwrap_err();
        assert!(err(subject_params(
            &s,
            0,
            vec![],
            named(&[("a", "1"), ("b", "2")])
        ))
        .contains("needs the subject parameter \"c\""));
        assert!(err(subject_params(&s, 0, vec![], named(&[("z", "1")])))
            .contains("no subject parameter \"z\" (it takes a, b, c)"));
        assert!(err(subject_params(
            &s,
            0,
            vec!["1".into()],
            named(&[("a", "2")])
        ))
        .contains("given twice"));
        assert!(err(subject_params(&s, 0, vec!["1".into(); 4], vec![]))
            .contains("takes 3 subject parameter(s), the path gives 4"));
    }

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(
            parse_grpc_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
        for bad in ["", "S", "10", "123456789S", "-1S", "1s", "1 S", "1é", "+1S"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn transport_headers_stay_behind() {
        for name in [
            "te",
            "content-type",
            "grpc-timeout",
            "nrpc-param-id",
            "nrpc-instance",
            ":path",
            "nrpc-timeout",
            "nrpc-credit-limit",
            "nats-service-error",
        ] {
            assert!(is_transport_header(name), "{name}");
        }
        for name in ["authorization", "x-tenant", "traceparent"] {
            assert!(!is_transport_header(name), "{name}");
        }
        assert!(is_protocol_header("Nrpc-Credit-Limit"));
        assert!(is_protocol_header("Nats-Service-Error"));
        assert!(!is_protocol_header("Nrpc-Instance"));
        assert!(!is_protocol_header("X-Node"));
        assert_eq!(canonical_header_name("x-b3-traceid"), "X-B3-Traceid");
        assert_eq!(canonical_header_name("Tenant"), "Tenant");
    }
}
