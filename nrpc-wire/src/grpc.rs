//! How gRPC and HTTP calls map onto nrpc calls, for everything that bridges
//! the two (the gateway, a service served over both): the `grpc-timeout`
//! header, which request headers travel on as NATS headers, and the
//! headers that name subject parameters and an instance.
//!
//! Status codes need no mapping: [`Code`](crate::Code) *is* gRPC's code
//! set, and its [`service_error_code`](crate::Code::service_error_code) is
//! the HTTP status.

use std::fmt;
use std::time::Duration;

use crate::{MethodSpec, ServiceSpec};

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

/// Why subject parameter values do not fit a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// More positional values than the method has parameters.
    TooMany {
        /// `service.Method`.
        method: String,
        /// Parameters it takes.
        takes: usize,
        /// Positional values given.
        given: usize,
    },
    /// A name the method has no parameter of.
    Unknown {
        /// `service.Method`.
        method: String,
        /// The name given.
        name: String,
        /// The names it takes.
        takes: Vec<String>,
    },
    /// A parameter given twice.
    Twice {
        /// Its name.
        name: String,
    },
    /// A parameter not given.
    Missing {
        /// `service.Method`.
        method: String,
        /// Its name.
        name: String,
    },
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::TooMany {
                method,
                takes,
                given,
            } => write!(
                f,
                "{method} takes {takes} subject parameter(s), the path gives {given}"
            ),
            ParamError::Unknown {
                method,
                name,
                takes,
            } if takes.is_empty() => {
                write!(
                    f,
                    "{method} has no subject parameter {name:?} (it takes none)"
                )
            }
            ParamError::Unknown {
                method,
                name,
                takes,
            } => write!(
                f,
                "{method} has no subject parameter {name:?} (it takes {})",
                takes.join(", ")
            ),
            ParamError::Twice { name } => {
                write!(f, "the subject parameter {name:?} is given twice")
            }
            ParamError::Missing { method, name } => {
                write!(f, "{method} needs the subject parameter {name:?}")
            }
        }
    }
}

impl std::error::Error for ParamError {}

impl ParamError {
    /// What a bridge (gRPC, HTTP) tells its caller: a missing parameter
    /// also says how to send one.
    pub fn bridged(&self) -> String {
        match self {
            ParamError::Missing { name, .. } => format!(
                "{self} ({PARAM_PREFIX}{name} header or metadata; over HTTP also a path segment or ?{name}=…)"
            ),
            _ => self.to_string(),
        }
    }
}

/// The subject parameter values of method `method` of `spec`, in
/// [`ServiceSpec::param_names`] order (package, service, method): the
/// `positional` values first (an HTTP path's segments after the method),
/// then the `named` ones (query parameters, `nrpc-param-*` headers, the
/// CLI's `-p`). Each must be given exactly once.
pub fn subject_params(
    spec: &ServiceSpec,
    method: usize,
    positional: Vec<String>,
    named: Vec<(String, String)>,
) -> Result<Vec<String>, ParamError> {
    let names: Vec<&str> = spec.param_names(method).collect();
    let whose = || {
        let m = spec.methods.get(method).map_or("?", |m| &*m.name);
        format!("{}.{m}", spec.name)
    };
    if positional.len() > names.len() {
        return Err(ParamError::TooMany {
            method: whose(),
            takes: names.len(),
            given: positional.len(),
        });
    }
    let mut values: Vec<Option<String>> = positional.into_iter().map(Some).collect();
    values.resize(names.len(), None);
    for (name, value) in named {
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err(ParamError::Unknown {
                method: whose(),
                name,
                takes: names.iter().map(|n| (*n).to_owned()).collect(),
            });
        };
        if values[i].replace(value).is_some() {
            return Err(ParamError::Twice { name });
        }
    }
    values
        .into_iter()
        .zip(&names)
        .map(|(v, n)| {
            v.ok_or_else(|| ParamError::Missing {
                method: whose(),
                name: (*n).to_owned(),
            })
        })
        .collect()
}

/// What the headers of a gRPC or HTTP request say to nrpc, sorted out once
/// for every bridge: the deadline (`grpc-timeout`), subject parameters
/// (`nrpc-param-*`), the instance (`nrpc-instance`), and the metadata that
/// travels on as NATS headers (canonical case; transport and protocol
/// headers stay behind).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The caller's deadline, if it gave one.
    pub timeout: Option<Duration>,
    /// Subject parameters by name.
    pub params: Vec<(String, String)>,
    /// The instance the call is for, if any.
    pub instance: Option<String>,
    /// Headers to send on: canonical name, value.
    pub metadata: Vec<(String, String)>,
}

/// A request header nrpc cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// A header that travels on (or names a parameter) is not ASCII text.
    NotText(String),
    /// A `grpc-timeout` that is not one.
    BadTimeout(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::NotText(name) => write!(f, "header {name} is not ASCII text"),
            HeaderError::BadTimeout(value) => {
                write!(f, "grpc-timeout {value:?} is not <digits><H|M|S|m|u|n>")
            }
        }
    }
}

impl std::error::Error for HeaderError {}

impl Incoming {
    /// Sorts a request's headers: lower-case names, each with its value as
    /// text (`None` if it is not ASCII, an error only for a header nrpc
    /// uses).
    pub fn sort<'a>(
        headers: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Self, HeaderError> {
        let mut out = Incoming::default();
        for (name, value) in headers {
            let text = || value.ok_or_else(|| HeaderError::NotText(name.to_owned()));
            if let Some(param) = name.strip_prefix(PARAM_PREFIX) {
                out.params.push((param.to_owned(), text()?.to_owned()));
            } else if name == INSTANCE {
                out.instance = Some(text()?.to_owned());
            } else if name == GRPC_TIMEOUT {
                let value = text()?;
                out.timeout = Some(
                    parse_grpc_timeout(value)
                        .ok_or_else(|| HeaderError::BadTimeout(value.to_owned()))?,
                );
            } else if crate::caller::is_caller_header(name) {
                // Reserved for a gateway's verified caller: never the
                // caller's word.
            } else if !is_transport_header(name) {
                out.metadata
                    .push((canonical_header_name(name), text()?.to_owned()));
            }
        }
        Ok(out)
    }
}

/// Why gRPC cannot call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoGrpcFace {
    /// An event: gRPC has no call that only listens.
    Event,
    /// Its `.proto` streams differently from its nRPC kind (nRPC's
    /// `streamedReply` option on an rpc gRPC calls unary).
    Shape,
    /// A stream of `nrpc.Void`, which gRPC cannot frame as nrpc sends it.
    VoidStream,
}

impl NoGrpcFace {
    /// What a gRPC caller is told (`UNIMPLEMENTED`), naming the method and
    /// where else it can be called (`elsewhere`, e.g. `NATS`).
    pub fn message(self, service: &str, method: &MethodSpec, elsewhere: &str) -> String {
        let name = &method.name;
        match self {
            NoGrpcFace::Event => {
                format!("{service}.{name} is an event: subscribe to it over {elsewhere}")
            }
            NoGrpcFace::Shape => format!(
                "{service}.{name}: its nRPC call shape ({}) has no gRPC face; call it over {elsewhere}",
                method.kind
            ),
            NoGrpcFace::VoidStream => format!(
                "{service}.{name}: a stream of nrpc.Void is served over {elsewhere} only"
            ),
        }
    }
}

/// How gRPC calls a method — whether its requests and its replies stream —
/// or why it cannot. `declared` is what its `.proto` says (client
/// streaming, server streaming), when known; `void` whether its request and
/// its reply are `nrpc.Void`. The one rule for the generated glue and the
/// gateway.
pub fn grpc_face(
    method: &MethodSpec,
    declared: Option<(bool, bool)>,
    void: (bool, bool),
) -> Result<(bool, bool), NoGrpcFace> {
    let shape = method.kind.grpc_streams().ok_or(NoGrpcFace::Event)?;
    if declared.is_some_and(|d| d != shape) {
        return Err(NoGrpcFace::Shape);
    }
    if (shape.0 && void.0) || (shape.1 && void.1) {
        return Err(NoGrpcFace::VoidStream);
    }
    Ok(shape)
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
    use crate::MethodKind;
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
                durable: None,
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
        let err = |r: Result<Vec<String>, ParamError>| r.unwrap_err().to_string();
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
    fn request_headers_are_sorted_once() {
        let sorted = Incoming::sort([
            ("grpc-timeout", Some("250m")),
            ("nrpc-param-b", Some("2")),
            ("nrpc-instance", Some("ID")),
            ("x-tenant", Some("acme")),
            ("content-type", Some("application/grpc")),
            ("user-agent", None),
            ("nrpc-timeout", Some("1")),
            // A caller's claim to be someone: only a gateway says that.
            ("nrpc-caller", Some("jwt admin")),
            ("Nrpc-Caller-Scopes", None),
        ])
        .unwrap();
        assert_eq!(sorted.timeout, Some(Duration::from_millis(250)));
        assert_eq!(sorted.params, [("b".to_owned(), "2".to_owned())]);
        assert_eq!(sorted.instance.as_deref(), Some("ID"));
        assert_eq!(
            sorted.metadata,
            [("X-Tenant".to_owned(), "acme".to_owned())]
        );
        assert_eq!(
            Incoming::sort([("x-tenant", None)]),
            Err(HeaderError::NotText("x-tenant".into()))
        );
        assert!(matches!(
            Incoming::sort([("grpc-timeout", Some("1.5S"))]),
            Err(HeaderError::BadTimeout(_))
        ));
    }

    #[test]
    fn the_grpc_face_of_each_kind() {
        let m = |kind| MethodSpec {
            name: "M".into(),
            subject: "M".into(),
            params: Cow::Borrowed(&[]),
            kind,
            polling: false,
            durable: None,
        };
        let none = (false, false);
        assert_eq!(
            grpc_face(&m(MethodKind::Unary), None, none),
            Ok((false, false))
        );
        assert_eq!(
            grpc_face(&m(MethodKind::Bidirectional), Some((true, true)), none),
            Ok((true, true))
        );
        assert_eq!(
            grpc_face(&m(MethodKind::NoRequest), None, none),
            Err(NoGrpcFace::Event)
        );
        // nRPC's streamedReply on an rpc that gRPC calls unary.
        assert_eq!(
            grpc_face(&m(MethodKind::StreamedReply), Some((false, false)), none),
            Err(NoGrpcFace::Shape)
        );
        assert_eq!(
            grpc_face(&m(MethodKind::StreamedReply), None, (false, true)),
            Err(NoGrpcFace::VoidStream)
        );
        // A Void request of a unary call is fine.
        assert!(grpc_face(&m(MethodKind::Unary), None, (true, true)).is_ok());
        let text = NoGrpcFace::Event.message("p.S", &m(MethodKind::NoRequest), "NATS");
        assert_eq!(text, "p.S.M is an event: subscribe to it over NATS");
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
