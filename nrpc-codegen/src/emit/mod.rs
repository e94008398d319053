//! The one emitter: a [`Service`] model becomes Rust source. Both front
//! ends (the .proto adapter and `#[nats_service]`) call [`service`].
//!
//! The source is written already formatted (by the `code` writer): the
//! `.proto` front end writes it out as it is, the macro front end lexes it
//! into tokens.
//! Generated code names only `::nrpc_runtime::codegen` (and the message
//! types), so it keeps compiling when the runtime's dependencies move;
//! the client and server modules import it as `__nrpc`.

mod client;
mod code;
mod grpc;
mod server;

pub use grpc::{tonic_type, TonicMethod};

use nrpc_wire::names;
pub(crate) use nrpc_wire::names::ident;

use self::code::{lit, put, Code};
use crate::model::{MessageType, Service};

/// Which sides to emit.
#[derive(Debug, Clone, Copy)]
pub struct Sides {
    /// Emit the `<snake>_client` module.
    pub client: bool,
    /// Emit the `<snake>_server` module.
    pub server: bool,
    /// Emit `<snake>_proto(imports)`, which returns the service as `.proto`
    /// text (for services defined in Rust; messages must implement
    /// `prost::Name`).
    pub proto_source: bool,
}

/// The Rust source of the spec static, the client module and the server
/// module of `svc`.
pub fn service(svc: &Service, sides: Sides) -> String {
    let mut c = Code::default();
    spec(&mut c, svc);
    if sides.client {
        client::emit(&mut c, svc);
    }
    if sides.server {
        server::emit(&mut c, svc);
    }
    if sides.proto_source {
        proto_source(&mut c, svc);
    }
    c.finish()
}

/// The Rust source of `<Service>Grpc<T>`, which serves an implementation
/// of the service's nrpc trait through the server trait tonic-build
/// generates (in the package's `grpc` module), each method as tonic sees
/// it.
pub fn grpc_glue(svc: &Service, tonic_methods: &[TonicMethod]) -> String {
    let mut c = Code::default();
    grpc::emit(&mut c, svc, tonic_methods);
    c.finish()
}

/// The identifier of the `ServiceSpec` static, e.g. `GREETER_SPEC`.
pub(crate) fn spec_ident(svc: &Service) -> String {
    ident(&names::spec_static(&svc.name))
}

/// `Cow::Borrowed("…")` for spec text.
fn text(s: &str) -> String {
    format!("::nrpc_runtime::codegen::Cow::Borrowed({})", lit(s))
}

/// `Cow::Borrowed(&[…])` for a list of spec names.
fn texts<S: AsRef<str>>(list: &[S]) -> String {
    let items: Vec<String> = list.iter().map(|s| text(s.as_ref())).collect();
    format!(
        "::nrpc_runtime::codegen::Cow::Borrowed(&[{}])",
        items.join(", ")
    )
}

/// A method's durable policy, as the field of its `MethodSpec`.
fn durable_policy(c: &mut Code, policy: Option<&nrpc_wire::durable::Policy>) {
    let Some(p) = policy else {
        c.put("durable: ::core::option::Option::None,");
        return;
    };
    let duration = |d: &std::time::Duration| {
        format!(
            "::nrpc_runtime::codegen::Duration::from_millis({})",
            d.as_millis()
        )
    };
    c.open("durable: ::core::option::Option::Some(::nrpc_runtime::codegen::DurablePolicy {");
    put!(c, "max_deliveries: {},", p.max_deliveries);
    c.open("backoff: ::nrpc_runtime::codegen::Cow::Borrowed(&[");
    for d in p.backoff.iter() {
        put!(c, "{},", duration(d));
    }
    c.close("]),");
    put!(c, "ack_wait: {},", duration(&p.ack_wait));
    put!(c, "handler_timeout: {},", duration(&p.handler_timeout));
    put!(c, "concurrency: {},", p.concurrency);
    put!(c, "dedup_window: {},", duration(&p.dedup_window));
    match &p.max_age {
        Some(d) => put!(c, "max_age: ::core::option::Option::Some({}),", duration(d)),
        None => c.put("max_age: ::core::option::Option::None,"),
    }
    put!(
        c,
        "storage: ::nrpc_runtime::codegen::DurableStorage::{:?},",
        p.storage
    );
    put!(c, "replicas: {},", p.replicas);
    put!(c, "dead_letter: {},", p.dead_letter);
    c.close("}),");
}

fn spec(c: &mut Code, svc: &Service) {
    let s = &svc.spec;
    put!(c, "/// Subjects and methods of `{}`.", s.name);
    c.open(&format!(
        "pub static {}: ::nrpc_runtime::codegen::ServiceSpec = ::nrpc_runtime::codegen::ServiceSpec {{",
        spec_ident(svc)
    ));
    put!(c, "name: {},", text(&s.name));
    put!(c, "description: {},", text(&s.description));
    put!(c, "package_subject: {},", text(&s.package_subject));
    put!(c, "package_params: {},", texts(&s.package_params));
    put!(c, "service_subject: {},", text(&s.service_subject));
    put!(c, "service_params: {},", texts(&s.service_params));
    c.open("methods: ::nrpc_runtime::codegen::Cow::Borrowed(&[");
    for m in s.methods.iter() {
        c.open("::nrpc_runtime::codegen::MethodSpec {");
        put!(c, "name: {},", text(&m.name));
        put!(c, "subject: {},", text(&m.subject));
        put!(c, "params: {},", texts(&m.params));
        put!(
            c,
            "kind: ::nrpc_runtime::codegen::MethodKind::{:?},",
            m.kind
        );
        put!(c, "polling: {},", m.polling);
        durable_policy(c, m.durable.as_ref());
        c.close("},");
    }
    c.close("]),");
    c.close("};");
}

/// Each method's `MethodText` (message names and docs) as one line of an
/// array, with types as seen from the module (or, if `nested`, one level
/// below it).
fn method_texts(svc: &Service, nested: bool) -> Vec<String> {
    let name_of = |ty: &MessageType| match ty {
        MessageType::Void => "None".to_owned(),
        MessageType::Message(_) => format!(
            "Some(<{} as ::nrpc_runtime::codegen::prost::Name>::full_name())",
            rust_type(ty, nested)
        ),
    };
    svc.methods
        .iter()
        .map(|m| {
            format!(
                "::nrpc_runtime::codegen::MethodText {{\n    input: {},\n    output: {},\n    docs: &[{}],\n}},",
                name_of(&m.input),
                name_of(&m.output),
                lits(&m.docs)
            )
        })
        .collect()
}

/// String literals, comma-separated.
fn lits(lines: &[String]) -> String {
    lines.iter().map(|l| lit(l)).collect::<Vec<_>>().join(", ")
}

/// `fn describe` of the adapter's `Service` impl: what the published
/// schema needs beyond the spec.
fn describe(c: &mut Code, svc: &Service) {
    c.open("fn describe(&self) -> Option<__nrpc::Description> {");
    c.open("Some(__nrpc::Description {");
    put!(c, "docs: &[{}],", lits(&svc.docs));
    c.open("methods: vec![");
    for line in method_texts(svc, true) {
        c.put(&line);
    }
    c.close("],");
    c.close("})");
    c.close("}");
}

fn proto_source(c: &mut Code, svc: &Service) {
    put!(
        c,
        "/// The service part of a `.proto` file for `{}`, importing `imports` (the files that define its messages).",
        svc.spec.name
    );
    c.open(&format!(
        "pub fn {}(imports: &[&str]) -> String {{",
        ident(&names::proto_fn(&svc.name))
    ));
    c.open("::nrpc_runtime::codegen::service_proto(");
    put!(c, "&{},", spec_ident(svc));
    put!(c, "&[{}],", lits(&svc.docs));
    c.open("&[");
    for line in method_texts(svc, false) {
        c.put(&line);
    }
    c.close("],");
    c.put("imports,");
    c.close(")");
    c.close("}");
}

/// Whether `name` is a plain identifier (letters, digits, `_`; not a digit
/// first).
fn is_plain_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The type path of a message as seen from a module nested one level below
/// where the service is generated.
fn nested_type(ty: &MessageType) -> String {
    rust_type(ty, true)
}

/// The type path of a message, from the generated module itself or (if
/// `nested`) from a module one level below it. Keyword segments of a plain
/// path become raw; other paths (generics, from the macro) are as written.
fn rust_type(ty: &MessageType, nested: bool) -> String {
    let MessageType::Message(path) = ty else {
        return "()".to_owned();
    };
    let absolute = path.starts_with("::") || path.starts_with("crate::") || path == "()";
    let (global, rest) = match path.strip_prefix("::") {
        Some(rest) => ("::", rest),
        None => ("", path.as_str()),
    };
    let plain = rest
        .split("::")
        .all(|s| is_plain_ident(s.strip_prefix("r#").unwrap_or(s)));
    let path = if plain {
        let segments: Vec<String> = rest.split("::").map(ident).collect();
        format!("{global}{}", segments.join("::"))
    } else {
        path.clone()
    };
    if absolute || !nested {
        path
    } else {
        format!("super::{path}")
    }
}

/// The runtime codec that encodes a message type.
fn codec(ty: &MessageType) -> String {
    match ty {
        MessageType::Void => "__nrpc::Void".to_owned(),
        MessageType::Message(_) => format!("__nrpc::Proto<{}>", nested_type(ty)),
    }
}

/// Name of the static holding a generated file's descriptor set.
const DESCRIPTOR_SET_STATIC: &str = "NRPC_DESCRIPTOR_SET";

/// The descriptor set of a generated file, embedded once and shared by its
/// services' constructors: `file` names the encoded `FileDescriptorSet`
/// beside the generated file. With `linked`, it is also submitted to the
/// runtime's list of the program's descriptor sets (once per compile: every
/// package of one compile shares the set).
pub fn descriptor_set(file: &str, linked: bool) -> String {
    let mut c = Code::default();
    c.docs(&[
        "The descriptors of the `.proto` files this module was generated",
        "from (an encoded `FileDescriptorSet`; nrpc registers it for JSON).",
    ]);
    put!(
        c,
        "pub static {DESCRIPTOR_SET_STATIC}: &[u8] = include_bytes!({});",
        lit(file)
    );
    if linked {
        c.put("// Known to the runtime even if no client or server here is made.");
        put!(
            c,
            "::nrpc_runtime::codegen::inventory::submit! {{\n    ::nrpc_runtime::codegen::LinkedDescriptors({DESCRIPTOR_SET_STATIC})\n}}"
        );
    }
    c.finish()
}

/// Registers the descriptor set for JSON, if the service has one (from the
/// service's module, one level below the generated file).
fn register_descriptors(c: &mut Code, svc: &Service) {
    if svc.descriptor_set_file.is_some() {
        put!(
            c,
            "__nrpc::register_descriptors(super::{DESCRIPTOR_SET_STATIC});"
        );
    }
}

/// `method::<A, B>(args)` for a runtime call in generated code, with the
/// type arguments one per line when the first line would be long.
fn turbofish(method: &str, types: &[String], args: &str) -> String {
    let one_line = format!("{method}::<{}>({args})", types.join(", "));
    if one_line.lines().next().map_or(0, str::len) <= 80 {
        return one_line;
    }
    let mut s = format!("{method}::<\n");
    for t in types {
        s.push_str(&format!("    {t},\n"));
    }
    s.push_str(&format!(">({args})"));
    s
}

/// Opens a function: `head(` (e.g. `pub async fn name`), one argument per
/// line, `) -> ret {`; the caller writes the body and closes it.
fn open_fn(c: &mut Code, head: &str, args: &[String], ret: &str) {
    c.open(&format!("{head}("));
    for arg in args {
        c.put(arg);
    }
    c.close(&format!(") -> {ret} {{"));
    c.indent();
}
