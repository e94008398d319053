//! A service's subjects: `[pkg.][pkgParam…].svc[.svcParam…].method[.methodParam…][.encoding]`.
//! What a client sends to ([`ServiceSpec::client_prefix`], [`method_subject`]),
//! what a server subscribes to ([`ServiceSpec::server_pattern`]) and how it
//! takes a received subject apart ([`ServiceSpec::parse_request`]), and what
//! discovery lists ([`ServiceSpec::endpoint_subject`]). Routing prefixes in
//! front of these live in [`route`](crate::route).

use std::fmt;

use crate::subject::{
    push_token, token_count, validate_token, InvalidReason, InvalidToken, MAX_SUBJECT_LEN,
};
use crate::{Encoding, MethodSpec, ServiceSpec, Text};

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
    /// (routing prefix already removed, see [`strip_routing`](crate::route::strip_routing)).
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
    use crate::route::{strip_routing, Delivery, Route};
    use crate::spec::Text;
    use crate::subject::{check_literal, check_token, prefixed, TokenError};
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
            durable: None,
        },
        MethodSpec {
            name: b("MtWithSubjectParams"),
            subject: b("mtwithsubjectparams"),
            params: Cow::Borrowed(&[b("mp1"), b("mp2")]),
            kind: MethodKind::Unary,
            polling: false,
            durable: None,
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
            let routed = Route::Direct("ID").subject(&subject).unwrap();
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
