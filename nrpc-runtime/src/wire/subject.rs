//! Subjects: `[pkg.][pkgParam…].svc[.svcParam…].method[.methodParam…][.encoding]`.

use std::fmt;

use super::Encoding;

/// How a method is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodKind {
    /// Request/reply: one request, one reply.
    Unary,
    /// The caller publishes and expects no reply (`returns (nrpc.NoReply)`).
    NoReply,
    /// Not callable: the server side publishes events (`nrpc.NoRequest`).
    NoRequest,
    /// nRPC streamed reply (`streamedReply = true`, proto3 `returns (stream T)`).
    StreamedReply,
    /// Requests stream in, one reply (proto3 `rpc X(stream A) returns (B)`;
    /// nrpc extension).
    ClientStreaming,
    /// Requests and replies both stream (nrpc extension).
    Bidirectional,
}

impl MethodKind {
    /// Whether the call runs the stream protocol (heartbeats, keepalives, EOS).
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            MethodKind::StreamedReply | MethodKind::ClientStreaming | MethodKind::Bidirectional
        )
    }

    /// Whether requests stream in from the client.
    pub fn streams_requests(self) -> bool {
        matches!(
            self,
            MethodKind::ClientStreaming | MethodKind::Bidirectional
        )
    }
}

/// Static description of one method's subject, generated per method.
#[derive(Debug)]
pub struct MethodSpec {
    /// The method name in the service definition, e.g. `SayHello`.
    pub name: &'static str,
    /// The method's subject token(s), e.g. `SayHello` or `mt_simple_reply`.
    pub subject: &'static str,
    /// Names of the method's subject parameters, in subject order.
    pub params: &'static [&'static str],
    /// How the method is called.
    pub kind: MethodKind,
    /// Whether replies may be collected from every instance (nRPC polling).
    pub polling: bool,
}

/// Static description of one service's subjects, generated per service.
#[derive(Debug)]
pub struct ServiceSpec {
    /// The fully qualified service name, e.g. `helloworld.Greeter`.
    pub name: &'static str,
    /// What the service does (its doc comment), for discovery.
    pub description: &'static str,
    /// The package subject prefix (may be empty or contain dots).
    pub package_subject: &'static str,
    /// Names of the package subject parameters.
    pub package_params: &'static [&'static str],
    /// The service subject token(s).
    pub service_subject: &'static str,
    /// Names of the service subject parameters.
    pub service_params: &'static [&'static str],
    /// The methods, in declaration order.
    pub methods: &'static [MethodSpec],
}

/// A subject parameter value that would change the subject's meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidToken {
    /// The parameter's name.
    pub name: String,
    /// The rejected value.
    pub value: String,
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "subject parameter `{}` = {:?} is not a valid subject token \
             (it must be non-empty and contain no '.', '*', '>' or whitespace)",
            self.name, self.value
        )
    }
}

impl std::error::Error for InvalidToken {}

/// Checks that `value` fills exactly one subject token.
pub fn validate_token(name: &str, value: &str) -> Result<(), InvalidToken> {
    let bad = value.is_empty()
        || value
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control());
    if bad {
        return Err(InvalidToken {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

fn push_token(out: &mut String, token: &str) {
    if token.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(token);
}

fn check_values(names: &[&str], values: &[&str]) -> Result<(), InvalidToken> {
    if names.len() != values.len() {
        return Err(InvalidToken {
            name: names.join(","),
            value: format!("{} values for {} parameters", values.len(), names.len()),
        });
    }
    for (name, value) in names.iter().zip(values) {
        validate_token(name, value)?;
    }
    Ok(())
}

impl ServiceSpec {
    /// The subject prefix a client of one service instance uses: package
    /// subject and params, service subject and params. `package_subject`
    /// overrides the generated package subject when given.
    ///
    /// `params` holds the package params followed by the service params.
    pub fn client_prefix(
        &self,
        package_subject: Option<&str>,
        params: &[&str],
    ) -> Result<String, InvalidToken> {
        let n_pkg = self.package_params.len();
        let split = n_pkg.min(params.len());
        check_values(self.package_params, &params[..split])?;
        check_values(self.service_params, &params[split..])?;
        let mut out = String::with_capacity(64);
        push_token(&mut out, package_subject.unwrap_or(self.package_subject));
        for p in &params[..split] {
            push_token(&mut out, p);
        }
        push_token(&mut out, self.service_subject);
        for p in &params[split..] {
            push_token(&mut out, p);
        }
        Ok(out)
    }

    /// The subject a server subscribes to: the prefix with `*` for every
    /// package and service param, then `>`, e.g. `root.*.custom_subject.>`.
    pub fn server_pattern(&self, package_subject: Option<&str>) -> String {
        let mut out = String::with_capacity(64);
        push_token(&mut out, package_subject.unwrap_or(self.package_subject));
        for _ in self.package_params {
            push_token(&mut out, "*");
        }
        push_token(&mut out, self.service_subject);
        for _ in self.service_params {
            push_token(&mut out, "*");
        }
        push_token(&mut out, ">");
        out
    }

    /// The subject of one method as NATS services discovery lists it, with
    /// `*` for every param, e.g. `root.*.custom_subject.mt_simple_reply`.
    pub fn endpoint_subject(&self, package_subject: Option<&str>, method: usize) -> String {
        let mut out = self.server_pattern(package_subject);
        out.truncate(out.len().saturating_sub(2)); // drop ".>"
        if let Some(m) = self.methods.get(method) {
            push_token(&mut out, m.subject);
            for _ in m.params {
                push_token(&mut out, "*");
            }
        }
        out
    }

    /// Parses a request subject received on [`server_pattern`](Self::server_pattern).
    pub fn parse_request<'s>(
        &self,
        package_subject: Option<&str>,
        subject: &'s str,
    ) -> Result<ParsedSubject<'s>, SubjectError> {
        let pkg = package_subject.unwrap_or(self.package_subject);
        let mut tokens = subject.split('.');
        let mut params = Vec::new();
        // Skip literal tokens (the subscription already matched them).
        let literal_count = |s: &str| {
            if s.is_empty() {
                0
            } else {
                s.split('.').count()
            }
        };
        for _ in 0..literal_count(pkg) {
            tokens.next();
        }
        for _ in self.package_params {
            params.push(tokens.next().ok_or(SubjectError::Malformed)?);
        }
        for _ in 0..literal_count(self.service_subject) {
            tokens.next();
        }
        for _ in self.service_params {
            params.push(tokens.next().ok_or(SubjectError::Malformed)?);
        }
        let rest: Vec<&'s str> = tokens.collect();
        let (index, method) = self
            .methods
            .iter()
            .enumerate()
            .find(|(_, m)| {
                let n = literal_count(m.subject);
                rest.len() >= n && m.subject.split('.').eq(rest[..n].iter().copied())
            })
            .ok_or_else(|| SubjectError::UnknownMethod(rest.first().unwrap_or(&"").to_string()))?;
        let tail = &rest[literal_count(method.subject)..];
        let n = method.params.len();
        let encoding = match tail.len() {
            l if l == n => Encoding::Protobuf,
            l if l == n + 1 => match tail[n] {
                "json" => Encoding::Json,
                "protobuf" => Encoding::Protobuf,
                other => return Err(SubjectError::UnknownEncoding(other.to_owned())),
            },
            l => {
                return Err(SubjectError::ParamCount {
                    method: method.name,
                    expected: n,
                    got: l,
                })
            }
        };
        params.extend_from_slice(&tail[..n]);
        Ok(ParsedSubject {
            method: index,
            params,
            encoding,
        })
    }

    /// Names of every param of `method`, in subject order: package, service,
    /// method.
    pub fn param_names(&self, method: usize) -> impl Iterator<Item = &'static str> {
        let method_params = self.methods.get(method).map_or(&[][..], |m| m.params);
        self.package_params
            .iter()
            .chain(self.service_params)
            .chain(method_params)
            .copied()
    }
}

/// First token of the subjects that reach every instance or one instance
/// directly, outside the queue group.
pub const ROUTING_TOKEN: &str = "_NRPC";

/// Prefix of broadcast subjects: `_NRPC.all.` + the usual subject.
pub fn broadcast_prefix() -> String {
    format!("{ROUTING_TOKEN}.all.")
}

/// Prefix of direct subjects: `_NRPC.id.<instance>.` + the usual subject.
pub fn direct_prefix(instance: &str) -> String {
    format!("{ROUTING_TOKEN}.id.{instance}.")
}

/// How a request reached a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Through the service's own subject (queue group, if any).
    Shared,
    /// Through the broadcast subject: every instance got it.
    Broadcast,
    /// Addressed to this instance.
    Direct,
}

/// Splits a routing prefix off a received subject.
pub fn strip_routing(subject: &str) -> (Delivery, &str) {
    let Some(rest) = subject
        .strip_prefix(ROUTING_TOKEN)
        .and_then(|r| r.strip_prefix('.'))
    else {
        return (Delivery::Shared, subject);
    };
    if let Some(rest) = rest.strip_prefix("all.") {
        return (Delivery::Broadcast, rest);
    }
    if let Some(rest) = rest.strip_prefix("id.") {
        if let Some((_, rest)) = rest.split_once('.') {
            return (Delivery::Direct, rest);
        }
    }
    (Delivery::Shared, subject)
}

/// Appends the method part to a client prefix: `.method[.params][.json]`.
pub fn method_subject(
    prefix: &str,
    method: &MethodSpec,
    params: &[&str],
    encoding: Encoding,
) -> Result<String, InvalidToken> {
    check_values(method.params, params)?;
    let extra: usize = params.iter().map(|p| p.len() + 1).sum();
    let mut out = String::with_capacity(prefix.len() + method.subject.len() + extra + 6);
    out.push_str(prefix);
    push_token(&mut out, method.subject);
    for p in params {
        push_token(&mut out, p);
    }
    if let Some(suffix) = encoding.subject_suffix() {
        push_token(&mut out, suffix);
    }
    Ok(out)
}

/// A request subject taken apart by [`ServiceSpec::parse_request`].
#[derive(Debug, PartialEq, Eq)]
pub struct ParsedSubject<'s> {
    /// Index of the method in [`ServiceSpec::methods`].
    pub method: usize,
    /// Param values: package, service, then method params.
    pub params: Vec<&'s str>,
    /// The payload encoding named by the subject.
    pub encoding: Encoding,
}

/// Why a request subject could not be routed to a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectError {
    /// Too few tokens for the service prefix.
    Malformed,
    /// No method has this subject token.
    UnknownMethod(String),
    /// The token after the method params is not an encoding.
    UnknownEncoding(String),
    /// The number of method params does not match.
    ParamCount {
        /// The method.
        method: &'static str,
        /// Its declared param count.
        expected: usize,
        /// Tokens present.
        got: usize,
    },
}

impl fmt::Display for SubjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectError::Malformed => f.write_str("malformed subject"),
            SubjectError::UnknownMethod(m) => write!(f, "unknown name: {m}"),
            SubjectError::UnknownEncoding(e) => write!(f, "unknown encoding: {e}"),
            SubjectError::ParamCount {
                method,
                expected,
                got,
            } => write!(
                f,
                "method {method} takes {expected} subject parameters, got {got} tokens"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static METHODS: &[MethodSpec] = &[
        MethodSpec {
            name: "MtSimpleReply",
            subject: "mt_simple_reply",
            params: &[],
            kind: MethodKind::Unary,
            polling: false,
        },
        MethodSpec {
            name: "MtWithSubjectParams",
            subject: "mtwithsubjectparams",
            params: &["mp1", "mp2"],
            kind: MethodKind::Unary,
            polling: false,
        },
    ];
    static SPEC: ServiceSpec = ServiceSpec {
        name: "main.SvcSubjectParams",
        description: "",
        package_subject: "root",
        package_params: &["instance"],
        service_subject: "svcsubjectparams",
        service_params: &["clientid"],
        methods: METHODS,
    };

    #[test]
    fn builds_client_subjects_like_go() {
        let prefix = SPEC.client_prefix(None, &["default", "me"]).unwrap();
        assert_eq!(prefix, "root.default.svcsubjectparams.me");
        let s = method_subject(&prefix, &METHODS[1], &["p1", "p2"], Encoding::Protobuf).unwrap();
        assert_eq!(
            s,
            "root.default.svcsubjectparams.me.mtwithsubjectparams.p1.p2"
        );
        let s = method_subject(&prefix, &METHODS[0], &[], Encoding::Json).unwrap();
        assert_eq!(s, "root.default.svcsubjectparams.me.mt_simple_reply.json");
    }

    #[test]
    fn server_pattern_has_wildcards_for_params() {
        assert_eq!(SPEC.server_pattern(None), "root.*.svcsubjectparams.*.>");
        assert_eq!(SPEC.server_pattern(Some("")), "*.svcsubjectparams.*.>");
    }

    #[test]
    fn endpoint_subjects_have_wildcards_for_every_param() {
        assert_eq!(
            SPEC.endpoint_subject(None, 1),
            "root.*.svcsubjectparams.*.mtwithsubjectparams.*.*"
        );
        assert_eq!(
            SPEC.endpoint_subject(None, 0),
            "root.*.svcsubjectparams.*.mt_simple_reply"
        );
    }

    #[test]
    fn routing_prefixes_round_trip() {
        let s = format!("{}root.a.b", broadcast_prefix());
        assert_eq!(strip_routing(&s), (Delivery::Broadcast, "root.a.b"));
        let s = format!("{}root.a.b", direct_prefix("ID42"));
        assert_eq!(strip_routing(&s), (Delivery::Direct, "root.a.b"));
        assert_eq!(strip_routing("root.a.b"), (Delivery::Shared, "root.a.b"));
    }

    #[test]
    fn rejects_tokens_that_change_the_subject() {
        for bad in ["", "a.b", "*", ">", "a b", "a\tb", "x\n"] {
            assert!(validate_token("p", bad).is_err(), "{bad:?}");
        }
        assert!(validate_token("p", "ok-value_1").is_ok());
        assert!(SPEC.client_prefix(None, &["a.b", "me"]).is_err());
        assert!(SPEC.client_prefix(None, &["default"]).is_err());
    }

    #[test]
    fn parses_request_subjects() {
        let p = SPEC
            .parse_request(
                None,
                "root.default.svcsubjectparams.me.mtwithsubjectparams.p1.p2.json",
            )
            .unwrap();
        assert_eq!(p.method, 1);
        assert_eq!(p.params, vec!["default", "me", "p1", "p2"]);
        assert_eq!(p.encoding, Encoding::Json);
        let p = SPEC
            .parse_request(None, "root.x.svcsubjectparams.y.mt_simple_reply")
            .unwrap();
        assert_eq!((p.method, p.encoding), (0, Encoding::Protobuf));
        assert_eq!(
            SPEC.parse_request(None, "root.x.svcsubjectparams.y.nope"),
            Err(SubjectError::UnknownMethod("nope".into()))
        );
        assert!(matches!(
            SPEC.parse_request(None, "root.x.svcsubjectparams.y.mtwithsubjectparams.p1"),
            Err(SubjectError::ParamCount { .. })
        ));
        assert_eq!(
            SPEC.parse_request(None, "root.x.svcsubjectparams.y.mt_simple_reply.xml"),
            Err(SubjectError::UnknownEncoding("xml".into()))
        );
    }
}
