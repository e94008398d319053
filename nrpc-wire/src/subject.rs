//! Subjects: `[pkg.][pkgParam…].svc[.svcParam…].method[.methodParam…][.encoding]`,
//! optionally behind a routing prefix (`_NRPC.all.`, `_NRPC.id.<instance>.`).
//!
//! The one set of token rules ([`check_token`]) serves the front ends
//! (literal subjects in definitions), clients (parameter values, instance
//! ids) and servers (parsing what arrives).

use std::fmt;

use crate::{Encoding, MethodSpec, ServiceSpec, Text};

/// Why a string is not one subject token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// The token is empty.
    Empty,
    /// It contains `.`, which separates tokens.
    Dot,
    /// It contains a wildcard, `*` or `>`.
    Wildcard(char),
    /// It contains whitespace, which ends a subject in the NATS protocol.
    Whitespace,
    /// It contains a control character.
    Control,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Empty => f.write_str("is empty"),
            TokenError::Dot => f.write_str("contains '.'"),
            TokenError::Wildcard(c) => write!(f, "contains the wildcard '{c}'"),
            TokenError::Whitespace => f.write_str("contains whitespace"),
            TokenError::Control => f.write_str("contains a control character"),
        }
    }
}

/// Checks that `token` is exactly one subject token: non-empty, without
/// `.`, `*`, `>`, whitespace or control characters.
pub fn check_token(token: &str) -> Result<(), TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    for c in token.chars() {
        match c {
            '.' => return Err(TokenError::Dot),
            '*' | '>' => return Err(TokenError::Wildcard(c)),
            c if c.is_whitespace() => return Err(TokenError::Whitespace),
            c if c.is_control() => return Err(TokenError::Control),
            _ => {}
        }
    }
    Ok(())
}

/// Why a literal subject (one or more dot-separated tokens) is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralError {
    /// The offending token.
    pub token: String,
    /// What is wrong with it.
    pub error: TokenError,
}

impl fmt::Display for LiteralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error {
            TokenError::Empty => f.write_str(
                "is not a valid NATS subject: it has an empty token (a leading, trailing or double '.')",
            ),
            e => write!(
                f,
                "is not a valid NATS subject: token {:?} {e}",
                self.token
            ),
        }
    }
}

/// Checks a literal subject of one or more tokens, such as a method
/// subject option; `allow_empty` for the package subject, which may be
/// absent.
pub fn check_literal(subject: &str, allow_empty: bool) -> Result<(), LiteralError> {
    if allow_empty && subject.is_empty() {
        return Ok(());
    }
    for token in subject.split('.') {
        check_token(token).map_err(|error| LiteralError {
            token: token.to_owned(),
            error,
        })?;
    }
    Ok(())
}

/// How a subject token is derived from a name when no subject is given
/// (nRPC's `SubjectRule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectRule {
    /// The name as declared (`COPY`, the default).
    #[default]
    Copy,
    /// The name in lower case (`TOLOWER`).
    ToLower,
}

impl SubjectRule {
    /// The default subject token for `name`.
    pub fn apply(self, name: &str) -> String {
        match self {
            SubjectRule::Copy => name.to_owned(),
            SubjectRule::ToLower => name.to_lowercase(),
        }
    }
}

/// Why a name cannot be a subject parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamNameError;

impl fmt::Display for ParamNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be a non-empty identifier (ASCII letters, digits and '_')")
    }
}

/// Checks a subject parameter's name: a non-empty ASCII identifier (it
/// becomes a Rust argument and a lookup key for handlers).
pub fn check_param_name(name: &str) -> Result<(), ParamNameError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ParamNameError);
    }
    Ok(())
}

/// The tokens of a literal subject (none for the empty string).
pub(crate) fn literal_tokens(subject: &str) -> Vec<&str> {
    subject.split('.').filter(|_| !subject.is_empty()).collect()
}

/// How many tokens a subject has (none for the empty string), without
/// allocating: this runs for every request a server parses.
fn token_count(subject: &str) -> usize {
    if subject.is_empty() {
        0
    } else {
        subject.bytes().filter(|&b| b == b'.').count() + 1
    }
}

/// A value that would change a subject's meaning, refused before anything
/// is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidToken {
    /// What the value is for (a parameter name, `instance id`, …).
    pub name: String,
    /// The rejected value.
    pub value: String,
    /// Why.
    pub reason: InvalidReason,
}

/// Why a value was refused as a subject token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidReason {
    /// The value is not one token.
    Token(TokenError),
    /// The subject would be longer than [`MAX_SUBJECT_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A subject needs this many values and got that many.
    Count {
        /// Values the subject needs.
        expected: usize,
        /// Values given.
        got: usize,
    },
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            InvalidReason::Token(e) => write!(
                f,
                "subject parameter `{}` = {:?} is not a valid subject token: it {e}",
                self.name, self.value
            ),
            InvalidReason::TooLong { len } => write!(
                f,
                "the subject would be {len} bytes long, over the limit of {MAX_SUBJECT_LEN} \
                 (subject parameter `{}` = {:.40?}…)",
                self.name, self.value
            ),
            InvalidReason::Count { expected, got } => write!(
                f,
                "subject parameters `{}`: {got} values for {expected} parameters",
                self.name
            ),
        }
    }
}

impl std::error::Error for InvalidToken {}

/// Checks that `value`, given for `name`, fills exactly one subject token.
pub fn validate_token(name: &str, value: &str) -> Result<(), InvalidToken> {
    check_token(value).map_err(|e| InvalidToken {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: InvalidReason::Token(e),
    })
}

/// Checks a replacement package subject given at run time (may be empty).
pub fn validate_literal(name: &str, value: &str) -> Result<(), InvalidToken> {
    check_literal(value, true).map_err(|e| InvalidToken {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: InvalidReason::Token(e.error),
    })
}

/// The package subject with a deployment prefix in front (`NRPC_PREFIX`:
/// canaries, environments), e.g. `v2` + `demo` = `v2.demo`. Either may be
/// empty. Clients and servers put the prefix in the same place, so a
/// prefixed server is reached only by clients with the same prefix (or
/// through a subject mapping in nats-server).
pub fn prefixed(prefix: &str, package_subject: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1 + package_subject.len());
    push_token(&mut out, prefix);
    push_token(&mut out, package_subject);
    out
}

/// Longest subject nrpc sends, in bytes. NATS limits a protocol line
/// (`max_control_line`, 4 KiB by default) and closes the connection of a
/// client that exceeds it, which would fail every call on it; a request
/// line also holds the reply subject and sizes, so subjects stay well
/// below.
pub const MAX_SUBJECT_LEN: usize = 2048;

fn push_token(out: &mut String, token: &str) {
    if token.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(token);
}

fn check_values<S: AsRef<str>>(names: &[S], values: &[&str]) -> Result<(), InvalidToken> {
    if names.len() != values.len() {
        let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        return Err(InvalidToken {
            name: names.join(","),
            value: values.join(","),
            reason: InvalidReason::Count {
                expected: names.len(),
                got: values.len(),
            },
        });
    }
    for (name, value) in names.iter().zip(values) {
        validate_token(name.as_ref(), value)?;
    }
    Ok(())
}

/// The longest value with its name, to say which parameter made a subject
/// too long.
fn longest<'a, S: AsRef<str>>(names: &'a [S], values: &[&'a str]) -> Option<(&'a str, &'a str)> {
    names
        .iter()
        .map(AsRef::as_ref)
        .zip(values.iter().copied())
        .max_by_key(|(_, v)| v.len())
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
        check_values(&self.package_params, &params[..split])?;
        check_values(&self.service_params, &params[split..])?;
        let len: usize = params.iter().map(|p| p.len() + 1).sum::<usize>()
            + self.service_subject.len()
            + package_subject.unwrap_or(&self.package_subject).len();
        if len > MAX_SUBJECT_LEN {
            let names: Vec<&Text> = self
                .package_params
                .iter()
                .chain(self.service_params.iter())
                .collect();
            let (name, value) = longest(&names, params).unwrap_or(("", ""));
            return Err(InvalidToken {
                name: name.to_owned(),
                value: value.to_owned(),
                reason: InvalidReason::TooLong { len },
            });
        }
        let mut out = String::with_capacity(64);
        push_token(&mut out, package_subject.unwrap_or(&self.package_subject));
        for p in &params[..split] {
            push_token(&mut out, p);
        }
        push_token(&mut out, &self.service_subject);
        for p in &params[split..] {
            push_token(&mut out, p);
        }
        Ok(out)
    }

    /// The subject a server subscribes to: the prefix with `*` for every
    /// package and service param, then `>`, e.g. `root.*.custom_subject.>`.
    pub fn server_pattern(&self, package_subject: Option<&str>) -> String {
        let mut out = String::with_capacity(64);
        push_token(&mut out, package_subject.unwrap_or(&self.package_subject));
        for _ in self.package_params.iter() {
            push_token(&mut out, "*");
        }
        push_token(&mut out, &self.service_subject);
        for _ in self.service_params.iter() {
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
            push_token(&mut out, &m.subject);
            for _ in m.params.iter() {
                push_token(&mut out, "*");
            }
        }
        out
    }

    /// Parses a request subject received on [`server_pattern`](Self::server_pattern)
    /// (routing prefix already removed, see [`strip_routing`]).
    pub fn parse_request<'s>(
        &self,
        package_subject: Option<&str>,
        subject: &'s str,
    ) -> Result<ParsedSubject<'s>, SubjectError> {
        let pkg = package_subject.unwrap_or(&self.package_subject);
        let mut rest = subject;
        // Allocates only for services with params.
        let mut params = Vec::new();
        // Literal tokens are skipped: the subscription already matched them.
        for _ in 0..token_count(pkg) {
            next_token(&mut rest).ok_or(SubjectError::Malformed)?;
        }
        for _ in self.package_params.iter() {
            params.push(next_token(&mut rest).ok_or(SubjectError::Malformed)?);
        }
        for _ in 0..token_count(&self.service_subject) {
            next_token(&mut rest).ok_or(SubjectError::Malformed)?;
        }
        for _ in self.service_params.iter() {
            params.push(next_token(&mut rest).ok_or(SubjectError::Malformed)?);
        }
        let (index, method, tail) = self
            .methods
            .iter()
            .enumerate()
            .find_map(|(i, m)| {
                let tail = rest.strip_prefix(&*m.subject)?;
                match tail.strip_prefix('.') {
                    Some(tail) => Some((i, m, tail)),
                    None if tail.is_empty() => Some((i, m, tail)),
                    None => None,
                }
            })
            .ok_or_else(|| {
                SubjectError::UnknownMethod(rest.split('.').next().unwrap_or("").to_owned())
            })?;
        let n = method.params.len();
        let count = token_count(tail);
        let encoding = if count == n {
            Encoding::Protobuf
        } else if count == n + 1 {
            let last = tail.rsplit('.').next().unwrap_or_default();
            Encoding::from_suffix(last)
                .ok_or_else(|| SubjectError::UnknownEncoding(last.to_owned()))?
        } else {
            return Err(SubjectError::ParamCount {
                method: method.name.to_string(),
                expected: n,
                got: count,
            });
        };
        params.extend(tail.split('.').take(n));
        Ok(ParsedSubject {
            method: index,
            params,
            encoding,
        })
    }
}

/// Takes the first token off `rest`.
fn next_token<'s>(rest: &mut &'s str) -> Option<&'s str> {
    if rest.is_empty() {
        return None;
    }
    let (token, tail) = rest.split_once('.').unwrap_or((rest, ""));
    *rest = tail;
    Some(token)
}

/// Appends the method part to a client prefix: `.method[.params][.json]`.
pub fn method_subject(
    prefix: &str,
    method: &MethodSpec,
    params: &[&str],
    encoding: Encoding,
) -> Result<String, InvalidToken> {
    check_values(&method.params, params)?;
    let extra: usize = params.iter().map(|p| p.len() + 1).sum();
    let len = prefix.len() + 1 + method.subject.len() + extra + 5;
    if len > MAX_SUBJECT_LEN {
        let (name, value) = longest(&method.params, params).unwrap_or(("", ""));
        return Err(InvalidToken {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: InvalidReason::TooLong { len },
        });
    }
    let mut out = String::with_capacity(len);
    out.push_str(prefix);
    push_token(&mut out, &method.subject);
    for p in params {
        push_token(&mut out, p);
    }
    if let Some(suffix) = encoding.subject_suffix() {
        push_token(&mut out, suffix);
    }
    Ok(out)
}

/// First token of the subjects that reach every instance or one instance
/// directly, outside the queue group.
pub const ROUTING_TOKEN: &str = "_NRPC";

/// Prefix of broadcast subjects: `_NRPC.all.` + the usual subject.
pub const BROADCAST_PREFIX: &str = "_NRPC.all.";

/// Prefix of cancellations: `_NRPC.cancel.` + the subject of the request
/// being cancelled, with the request's reply subject as payload. Every
/// instance of the service receives it; the one handling the request drops
/// the handler.
pub const CANCEL_PREFIX: &str = "_NRPC.cancel.";

/// Where one instance answers with its service's schema (an nrpc
/// extension to NATS services discovery, named by the `nrpc.schema`
/// metadata entry of the instance's `$SRV.INFO` reply):
/// `_NRPC.schema.<service name>.<instance id>`.
pub fn schema_subject(service_name: &str, instance: &str) -> String {
    format!("{ROUTING_TOKEN}.schema.{service_name}.{instance}")
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
    /// Not a request: the caller of an earlier request has given up
    /// (payload: that request's reply subject).
    Cancel,
}

/// Splits a routing prefix off a received subject.
pub fn strip_routing(subject: &str) -> (Delivery, &str) {
    if let Some(rest) = subject.strip_prefix(BROADCAST_PREFIX) {
        return (Delivery::Broadcast, rest);
    }
    if let Some(rest) = subject.strip_prefix(CANCEL_PREFIX) {
        return (Delivery::Cancel, rest);
    }
    let direct = subject
        .strip_prefix(ROUTING_TOKEN)
        .and_then(|r| r.strip_prefix(".id."))
        .and_then(|r| r.split_once('.'));
    match direct {
        Some((_, rest)) => (Delivery::Direct, rest),
        None => (Delivery::Shared, subject),
    }
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
        method: String,
        /// Its declared param count.
        expected: usize,
        /// Tokens present after the method subject.
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

impl std::error::Error for SubjectError {}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::prelude::*;

    use super::*;
    use crate::spec::Text;
    use crate::MethodKind;

    const fn b(s: &'static str) -> Text {
        Cow::Borrowed(s)
    }

    static METHODS: &[MethodSpec] = &[
        MethodSpec {
            name: b("MtSimpleReply"),
            subject: b("mt_simple_reply"),
            params: Cow::Borrowed(&[]),
            kind: MethodKind::Unary,
            polling: false,
        },
        MethodSpec {
            name: b("MtWithSubjectParams"),
            subject: b("mtwithsubjectparams"),
            params: Cow::Borrowed(&[b("mp1"), b("mp2")]),
            kind: MethodKind::Unary,
            polling: false,
        },
    ];
    static SPEC: ServiceSpec = ServiceSpec {
        name: b("main.SvcSubjectParams"),
        description: b(""),
        package_subject: b("root"),
        package_params: Cow::Borrowed(&[b("instance")]),
        service_subject: b("svcsubjectparams"),
        service_params: Cow::Borrowed(&[b("clientid")]),
        methods: Cow::Borrowed(METHODS),
    };

    #[test]
    fn a_prefix_goes_in_front_of_the_package_subject_on_both_sides() {
        assert_eq!(prefixed("v2", "root"), "v2.root");
        assert_eq!(prefixed("", "root"), "root");
        assert_eq!(prefixed("canary.eu", ""), "canary.eu");
        let ps = prefixed("v2", &SPEC.package_subject);
        let client = SPEC.client_prefix(Some(&ps), &["i", "c"]).unwrap();
        assert_eq!(client, "v2.root.i.svcsubjectparams.c");
        assert_eq!(
            SPEC.server_pattern(Some(&ps)),
            "v2.root.*.svcsubjectparams.*.>"
        );
        let subject = method_subject(&client, &METHODS[0], &[], Encoding::Protobuf).unwrap();
        let parsed = SPEC.parse_request(Some(&ps), &subject).unwrap();
        assert_eq!((parsed.method, parsed.params), (0, vec!["i", "c"]));
    }

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
        let s = format!("{BROADCAST_PREFIX}root.a.b");
        assert_eq!(strip_routing(&s), (Delivery::Broadcast, "root.a.b"));
        let s = format!("{}root.a.b", direct_prefix("ID42"));
        assert_eq!(strip_routing(&s), (Delivery::Direct, "root.a.b"));
        assert_eq!(strip_routing("root.a.b"), (Delivery::Shared, "root.a.b"));
        let s = format!("{CANCEL_PREFIX}root.a.b");
        assert_eq!(strip_routing(&s), (Delivery::Cancel, "root.a.b"));
        assert_eq!(strip_routing("_NRPC.x.y"), (Delivery::Shared, "_NRPC.x.y"));
    }

    #[test]
    fn rejects_tokens_that_change_the_subject() {
        for (bad, why) in [
            ("", TokenError::Empty),
            ("a.b", TokenError::Dot),
            ("*", TokenError::Wildcard('*')),
            (">", TokenError::Wildcard('>')),
            ("a b", TokenError::Whitespace),
            ("a\tb", TokenError::Whitespace),
            ("x\u{7}", TokenError::Control),
        ] {
            assert_eq!(check_token(bad), Err(why), "{bad:?}");
        }
        assert!(validate_token("p", "ok-value_1").is_ok());
        assert!(SPEC.client_prefix(None, &["a.b", "me"]).is_err());
        let e = SPEC.client_prefix(None, &["default"]).unwrap_err();
        assert_eq!(
            e.reason,
            InvalidReason::Count {
                expected: 1,
                got: 0
            }
        );
        assert!(check_literal("a.b", false).is_ok());
        assert!(check_literal("", true).is_ok());
        assert!(check_literal("", false).is_err());
        assert!(check_literal("a..b", false).is_err());
        assert!(check_literal("a.\u{1}", false).is_err());
    }

    #[test]
    fn subjects_over_the_limit_are_refused_naming_the_longest_param() {
        let prefix = SPEC.client_prefix(None, &["default", "me"]).unwrap();
        let long = "x".repeat(MAX_SUBJECT_LEN);
        let e = method_subject(&prefix, &METHODS[1], &["p1", &long], Encoding::Json).unwrap_err();
        assert_eq!(e.name, "mp2");
        assert!(matches!(e.reason, InvalidReason::TooLong { .. }));
        let e = SPEC.client_prefix(None, &[&long, "me"]).unwrap_err();
        assert_eq!(e.name, "instance");
        let fits = "x".repeat(MAX_SUBJECT_LEN - prefix.len() - 40);
        assert!(method_subject(&prefix, &METHODS[1], &["p1", &fits], Encoding::Json).is_ok());
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
        assert_eq!(
            SPEC.parse_request(None, "root.x.svcsubjectparams.y.mt_simple_replyx"),
            Err(SubjectError::UnknownMethod("mt_simple_replyx".into()))
        );
        assert!(matches!(
            SPEC.parse_request(None, "root.x.svcsubjectparams.y.mtwithsubjectparams.p1"),
            Err(SubjectError::ParamCount { got: 1, .. })
        ));
        assert_eq!(
            SPEC.parse_request(None, "root.x.svcsubjectparams.y.mt_simple_reply.xml"),
            Err(SubjectError::UnknownEncoding("xml".into()))
        );
        assert_eq!(
            SPEC.parse_request(None, "root.x"),
            Err(SubjectError::Malformed)
        );
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,12}"
    }

    proptest! {
        #[test]
        fn what_a_client_builds_a_server_parses(
            values in proptest::collection::vec(token(), 4),
            json in any::<bool>(),
            method in 0usize..2,
        ) {
            let prefix = SPEC.client_prefix(None, &[&values[0], &values[1]]).unwrap();
            let n = METHODS[method].params.len();
            let mp: Vec<&str> = values[2..2 + n].iter().map(String::as_str).collect();
            let encoding = if json { Encoding::Json } else { Encoding::Protobuf };
            let subject = method_subject(&prefix, &METHODS[method], &mp, encoding).unwrap();
            let routed = format!("{}{subject}", direct_prefix("ID"));
            let (delivery, rest) = strip_routing(&routed);
            prop_assert_eq!(delivery, Delivery::Direct);
            let parsed = SPEC.parse_request(None, rest).unwrap();
            prop_assert_eq!(parsed.method, method);
            prop_assert_eq!(parsed.encoding, encoding);
            let mut expected = vec![values[0].as_str(), values[1].as_str()];
            expected.extend(mp);
            prop_assert_eq!(parsed.params, expected);
        }

        #[test]
        fn parsing_any_subject_never_panics(subject in "[a-z._*>]{0,40}") {
            let _ = SPEC.parse_request(None, &subject);
            let _ = strip_routing(&subject);
        }
    }
}
