//! The Rust names generated for a service, in one place: the emitter asks
//! here what to call each item, and [`check`] finds every clash before any
//! code is written, so a definition never ends in a duplicate-definition
//! error inside generated code.
//!
//! Per service `Greeter`: `GREETER_SPEC`, `greeter_client::GreeterClient`,
//! `greeter_server::{Greeter, GreeterServer, GreeterEvents}` and, for
//! services defined in Rust, `greeter_proto`. Per method `say_hello` the
//! client has `say_hello` and `say_hello_with`, plus `say_hello_broadcast`
//! for polling methods, and `say_hello_subject`; an event method
//! `updated` gives the client `subscribe_updated` and `updated_subject`,
//! and `GreeterEvents` `publish_updated`.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

use crate::spec::{MethodPart, Problem, ServiceSpec, Site};
use crate::MethodKind;

/// Methods every generated client has; a method may not take these names.
pub const CLIENT_RESERVED: &[&str] = &[
    "new",
    "clone",
    "with_timeout",
    "with_encoding",
    "with_headers",
    "with_package_subject",
    "with_instance",
    "with_broadcast_via",
    "service_client",
];

/// Methods every generated events publisher has.
pub const EVENTS_RESERVED: &[&str] = &["new", "clone", "with_encoding"];

/// Argument names generated methods use besides subject parameters; a
/// parameter with one of these names gets a `_param` suffix.
pub const FIXED_ARGUMENTS: &[&str] = &[
    "self",
    "conn",
    "request",
    "requests",
    "options",
    "queue_group",
    "event",
];

/// A method name without the raw-identifier prefix (`r#type` → `type`).
pub fn plain(rust_name: &str) -> &str {
    rust_name.strip_prefix("r#").unwrap_or(rust_name)
}

/// Rust's strict and reserved keywords (2024 edition), which need `r#` as
/// identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Whether `name` is a Rust keyword.
pub fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// An identifier, raw if it is a keyword (`type` → `r#type`; path
/// keywords such as `super` cannot be raw and stay as they are).
pub fn ident(name: &str) -> String {
    let name = plain(name);
    let path_keyword = matches!(name, "self" | "Self" | "super" | "crate");
    if is_keyword(name) && !path_keyword {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// The Rust method name of an rpc, as prost-build and tonic name it:
/// snake case (`SayHello` → `say_hello`), raw for keywords that can be raw
/// (`Type` → `r#type`), `_` appended to those that cannot, `_` in front of
/// a leading digit.
pub fn method_fn(rpc: &str) -> String {
    let snake = rpc.to_snake_case();
    match snake.as_str() {
        "self" | "super" | "crate" | "extern" | "_" => format!("{snake}_"),
        s if s.starts_with(|c: char| c.is_ascii_digit()) => format!("_{snake}"),
        s if is_keyword(s) => format!("r#{snake}"),
        _ => snake,
    }
}

/// The rpc name of a Rust method (`say_hello` → `SayHello`, `r#type` →
/// `Type`): what a `.proto` would call it.
pub fn rpc_name(rust_name: &str) -> String {
    plain(rust_name).to_upper_camel_case()
}

/// `GreeterClient`.
pub fn client_struct(service: &str) -> String {
    format!("{service}Client")
}

/// `GreeterServer`, the adapter a server serves.
pub fn server_adapter(service: &str) -> String {
    format!("{service}Server")
}

/// `GreeterEvents`, the publisher of a service's events.
pub fn events_struct(service: &str) -> String {
    format!("{service}Events")
}

/// `greeter_client`.
pub fn client_module(service: &str) -> String {
    format!("{}_client", service.to_snake_case())
}

/// `greeter_server`.
pub fn server_module(service: &str) -> String {
    format!("{}_server", service.to_snake_case())
}

/// `GREETER_SPEC`, the static [`ServiceSpec`].
pub fn spec_static(service: &str) -> String {
    format!("{}_SPEC", service.to_shouty_snake_case())
}

/// `greeter_proto`, the function returning a Rust-defined service as `.proto`.
pub fn proto_fn(service: &str) -> String {
    format!("{}_proto", service.to_snake_case())
}

/// `say_hello_with`: the call with per-call options.
pub fn with_options(rust_name: &str) -> String {
    format!("{}_with", plain(rust_name))
}

/// `say_hello_broadcast`: the call to every instance.
pub fn broadcast(rust_name: &str) -> String {
    format!("{}_broadcast", plain(rust_name))
}

/// `say_hello_subject`: the client's accessor for a method's subject.
pub fn subject_fn(rust_name: &str) -> String {
    format!("{}_subject", plain(rust_name))
}

/// `subscribe_updated`: the client's subscription to an event.
pub fn subscribe(rust_name: &str) -> String {
    format!("subscribe_{}", plain(rust_name))
}

/// `consume_updated`: the client's method consuming a durable event as
/// a subscriber group.
pub fn consume(rust_name: &str) -> String {
    format!("consume_{}", plain(rust_name))
}

/// `publish_updated`: the events publisher's method.
pub fn publish(rust_name: &str) -> String {
    format!("publish_{}", plain(rust_name))
}

/// The Rust argument for a subject parameter: snake case, with `_param`
/// appended when it would collide with a [fixed argument](FIXED_ARGUMENTS).
pub fn param(name: &str) -> String {
    let snake = name.to_snake_case();
    if FIXED_ARGUMENTS.contains(&snake.as_str()) {
        format!("{snake}_param")
    } else {
        snake
    }
}

/// Where a generated name lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A method of the generated client.
    Client,
    /// A method of the server trait.
    ServerTrait,
    /// A method of the events publisher.
    Events,
}

impl Scope {
    fn reserved(self) -> &'static [&'static str] {
        match self {
            Scope::Client => CLIENT_RESERVED,
            Scope::Events => EVENTS_RESERVED,
            Scope::ServerTrait => &[],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Scope::Client => "client method",
            Scope::ServerTrait => "server trait method",
            Scope::Events => "events publisher method",
        }
    }
}

/// The names one method generates, with where each lives.
pub fn generated(
    rust_name: &str,
    kind: MethodKind,
    polling: bool,
    durable: bool,
) -> Vec<(Scope, String)> {
    let name = plain(rust_name).to_owned();
    match kind {
        MethodKind::NoRequest => {
            let mut out = vec![
                (Scope::Client, subscribe(&name)),
                (Scope::Client, subject_fn(&name)),
                (Scope::Events, publish(&name)),
            ];
            if durable {
                out.push((Scope::Client, consume(&name)));
            }
            out
        }
        _ => {
            let mut out = vec![
                (Scope::Client, name.clone()),
                (Scope::Client, with_options(&name)),
                (Scope::Client, subject_fn(&name)),
                (Scope::ServerTrait, name.clone()),
            ];
            if polling {
                out.push((Scope::Client, broadcast(&name)));
            }
            out
        }
    }
}

/// Every clash among the names `spec` generates, given each method's Rust
/// name (`rust_names[i]` for `spec.methods[i]`): a name used twice in one
/// scope, a reserved name, or two subject parameters that become the same
/// argument.
pub fn check(spec: &ServiceSpec, rust_names: &[&str]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut taken: Vec<(Scope, String, usize)> = Vec::new();
    for (i, (m, rust)) in spec.methods.iter().zip(rust_names).enumerate() {
        let site = Site::Method(i, MethodPart::Name);
        for (scope, name) in generated(rust, m.kind, m.polling, m.durable.is_some()) {
            if scope.reserved().contains(&name.as_str()) {
                problems.push(Problem {
                    site,
                    message: format!(
                        "rpc {}: its generated {} `{name}` clashes with the generated client's own `{name}`; rename the rpc",
                        m.name,
                        scope.describe()
                    ),
                });
            } else if let Some((_, _, j)) = taken.iter().find(|(s, n, _)| *s == scope && *n == name)
            {
                let other = &spec.methods[*j].name;
                let message = if *j == i {
                    format!(
                        "rpc {}: generates the {} `{name}` twice",
                        m.name,
                        scope.describe()
                    )
                } else {
                    format!(
                        "rpc {}: its generated {} `{name}` clashes with the one generated for rpc {other}; rename one of them",
                        m.name,
                        scope.describe()
                    )
                };
                problems.push(Problem { site, message });
            } else {
                taken.push((scope, name, i));
            }
        }
    }
    // Subject parameters become arguments: constructor (package and
    // service params), then each method's own.
    let ctor: Vec<&str> = spec
        .package_params
        .iter()
        .chain(spec.service_params.iter())
        .map(|p| &**p)
        .collect();
    let mut argument_clash = |names: &[&str], from: usize, site: Site, what: &str| {
        for (k, p) in names.iter().enumerate().skip(from) {
            let arg = param(p);
            if let Some(q) = names[..k].iter().find(|q| param(q) == arg && *q != p) {
                problems.push(Problem {
                    site,
                    message: format!(
                        "{what}: subject parameters {q:?} and {p:?} both become the argument `{arg}`; rename one of them"
                    ),
                });
            }
        }
    };
    argument_clash(
        &ctor,
        0,
        Site::ServiceParams,
        &format!("service {}", spec.name),
    );
    for (i, m) in spec.methods.iter().enumerate() {
        let all: Vec<&str> = spec.param_names(i).collect();
        argument_clash(
            &all,
            ctor.len(),
            Site::Method(i, MethodPart::Params),
            &format!("rpc {}", m.name),
        );
    }
    problems
}

#[cfg(test)]
mod tests {
    #[test]
    fn method_names_follow_prost_build_both_ways() {
        for (rpc, rust) in [
            ("SayHello", "say_hello"),
            ("Type", "r#type"),
            ("Self", "self_"),
            ("V2Call", "v2_call"),
        ] {
            assert_eq!(super::method_fn(rpc), rust);
        }
        assert_eq!(super::rpc_name("r#type"), "Type");
        assert_eq!(super::rpc_name("say_hello"), "SayHello");
        assert_eq!(super::ident("match"), "r#match");
        assert_eq!(super::ident("super"), "super");
    }

    use std::borrow::Cow;

    use super::*;
    use crate::spec::{MethodSpec, Text};

    fn spec(methods: &[(&str, MethodKind, bool)], params: &[&[&str]]) -> ServiceSpec {
        ServiceSpec {
            name: "orders.Orders".into(),
            description: "".into(),
            package_subject: "".into(),
            package_params: Cow::Borrowed(&[]),
            service_subject: "orders".into(),
            service_params: vec![Text::from("region")].into(),
            methods: methods
                .iter()
                .enumerate()
                .map(|(i, (name, kind, polling))| MethodSpec {
                    name: name.to_string().into(),
                    subject: name.to_string().into(),
                    params: params
                        .get(i)
                        .map(|p| p.iter().map(|s| Text::from(s.to_string())).collect())
                        .unwrap_or_default(),
                    kind: *kind,
                    polling: *polling,
                    durable: None,
                })
                .collect::<Vec<_>>()
                .into(),
        }
    }

    fn rust(names: &[&str]) -> Vec<String> {
        names
            .iter()
            .map(|n| heck::ToSnakeCase::to_snake_case(*n))
            .collect()
    }

    fn problems(methods: &[(&str, MethodKind, bool)], params: &[&[&str]]) -> Vec<String> {
        let s = spec(methods, params);
        let names = rust(&methods.iter().map(|m| m.0).collect::<Vec<_>>());
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        check(&s, &names).into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn reserved_and_derived_names_clash() {
        use MethodKind::*;
        let p = problems(
            &[
                ("New", Unary, false),
                ("WithInstance", Unary, false),
                ("GetOrder", Unary, true),
                ("GetOrderWith", Unary, false),
                ("GetOrderBroadcast", NoReply, false),
                ("Updated", NoRequest, false),
                ("SubscribeUpdated", Unary, false),
            ],
            &[],
        );
        assert_eq!(p.len(), 5, "{p:#?}");
        assert!(p[0].starts_with("rpc New: its generated client method `new` clashes"));
        assert!(p[1].contains("`with_instance`"));
        assert!(p[2].contains("rpc GetOrderWith") && p[2].contains("rpc GetOrder;"));
        assert!(p[3].contains("`get_order_broadcast`"));
        assert!(p[4].contains("`subscribe_updated`") && p[4].contains("rpc Updated"));
    }

    #[test]
    fn subject_accessors_and_new_reserved_names_clash() {
        use MethodKind::*;
        let p = problems(
            &[
                ("GetOrder", Unary, false),
                ("GetOrderSubject", Unary, false),
                ("WithBroadcastVia", Unary, false),
                ("Updated", NoRequest, false),
                ("UpdatedSubject", NoReply, false),
            ],
            &[],
        );
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(p[0].contains("`get_order_subject`"), "{}", p[0]);
        assert!(p[1].contains("`with_broadcast_via`"), "{}", p[1]);
        assert!(p[2].contains("`updated_subject`"), "{}", p[2]);
    }

    #[test]
    fn parameters_that_become_one_argument_clash() {
        let p = problems(
            &[("Get", MethodKind::Unary, false)],
            &[&["Region", "request"]],
        );
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(p[0].contains("\"region\" and \"Region\""), "{}", p[0]);
        assert_eq!(param("request"), "request_param");
        assert_eq!(param("clientId"), "client_id");
    }

    #[test]
    fn derived_names() {
        assert_eq!(with_options("r#type"), "type_with");
        assert_eq!(spec_static("SvcCustomSubject"), "SVC_CUSTOM_SUBJECT_SPEC");
        assert_eq!(
            client_module("SvcCustomSubject"),
            "svc_custom_subject_client"
        );
    }
}
