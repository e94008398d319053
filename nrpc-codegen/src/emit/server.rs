//! The `<snake>_server` module: the trait users implement and the adapter
//! the runtime serves.

use nrpc_wire::names;

use super::client::{constructor, param_ident};
use super::code::{put, Code};
use super::{
    codec, describe, ident, nested_type, open_fn, register_descriptors, spec_ident, turbofish,
};
use crate::model::{MethodKind, Service};

pub(super) fn emit(c: &mut Code, svc: &Service) {
    let trait_name = ident(&svc.name);
    let adapter = ident(&names::server_adapter(&svc.name));
    let full_name = &svc.spec.name;
    let callable: Vec<_> = svc
        .methods()
        .filter(|(_, spec, _)| spec.kind.is_callable())
        .collect();

    put!(c, "/// Server side of `{full_name}`.");
    c.open(&format!(
        "pub mod {} {{",
        ident(&names::server_module(&svc.name))
    ));
    // A crate uses the methods it needs; the rest must not warn (the
    // module may be private, in a binary).
    c.put("#![allow(dead_code)]");
    c.put("use ::nrpc_runtime::codegen as __nrpc;");
    put!(
        c,
        "/// The methods of `{full_name}`; serve an implementation with [`{adapter}`]."
    );
    if !svc.docs.is_empty() {
        c.put("///");
        c.docs(&svc.docs);
    }
    c.open(&format!("pub trait {trait_name}: Send + Sync + 'static {{"));
    for (_, spec, m) in &callable {
        let input = nested_type(&m.input);
        let item = nested_type(&m.output);
        let input = if spec.kind.streams_requests() {
            format!("__nrpc::Streaming<{input}>")
        } else {
            input
        };
        let mut args = vec![
            "&self,".to_owned(),
            format!("request: __nrpc::Request<{input}>,"),
        ];
        let output = match spec.kind {
            // Nothing is sent back: the handler only reports failure (logged, counted).
            MethodKind::NoReply => "()".to_owned(),
            MethodKind::StreamedReply | MethodKind::Bidirectional => {
                args.push(format!("sink: __nrpc::Sink<{item}>,"));
                "()".to_owned()
            }
            _ => format!("__nrpc::Response<{item}>"),
        };
        c.docs(&m.docs);
        c.open(&format!("fn {}(", ident(&m.rust_name)));
        for arg in &args {
            c.put(arg);
        }
        c.close(&format!(
            ") -> impl __nrpc::Future<\n    Output = Result<{output}, __nrpc::Status>,\n> + Send;"
        ));
    }
    c.close("}");

    put!(
        c,
        "/// Adapter that lets an `nrpc_runtime::Server` serve the trait.\n#[derive(Debug)]\npub struct {adapter}<T> {{\n    inner: __nrpc::Arc<T>,\n}}"
    );
    c.open(&format!("impl<T: {trait_name}> {adapter}<T> {{"));
    c.put("/// Wraps an implementation.\npub fn new(inner: T) -> Self {\n    Self::from_arc(__nrpc::Arc::new(inner))\n}");
    c.open("/// Wraps a shared implementation.\npub fn from_arc(inner: __nrpc::Arc<T>) -> Self {");
    register_descriptors(c, svc);
    c.put("Self { inner }");
    c.close("}");
    c.put("/// The wrapped implementation.\npub fn get_ref(&self) -> &T {\n    &self.inner\n}");
    c.close("}");

    c.open(&format!(
        "impl<T: {trait_name}> __nrpc::Service for {adapter}<T> {{"
    ));
    put!(
        c,
        "fn spec(&self) -> &'static __nrpc::ServiceSpec {{\n    &super::{}\n}}",
        spec_ident(svc)
    );
    open_fn(
        c,
        "fn call",
        &[
            "&self,".into(),
            "method: usize,".into(),
            "call: __nrpc::Call,".into(),
        ],
        "__nrpc::BoxFuture<'static, Result<__nrpc::Reply, __nrpc::Status>>",
    );
    if callable.is_empty() {
        c.put("let _ = method;\n__nrpc::unimplemented(call)");
    } else {
        c.put("let inner = self.inner.clone();");
        c.open("match method {");
        for (index, spec, m) in &callable {
            let name = ident(&m.rust_name);
            let (req, resp) = (codec(&m.input), codec(&m.output));
            let (runner, mut types, with_sink) = match spec.kind {
                MethodKind::ClientStreaming => ("client_stream", vec![req, resp], false),
                MethodKind::Bidirectional => ("bidi_stream", vec![req, resp], true),
                MethodKind::StreamedReply => ("server_stream", vec![req, resp], true),
                MethodKind::NoReply => ("no_reply", vec![req], false),
                _ => ("unary", vec![req, resp], false),
            };
            types.extend(["_".to_owned(), "_".to_owned()]);
            let handler = if with_sink {
                format!("move |request, sink| async move {{ inner.{name}(request, sink).await }}")
            } else {
                format!("move |request| async move {{ inner.{name}(request).await }}")
            };
            let call = turbofish(runner, &types, &format!("\n    call,\n    {handler},\n"));
            put!(c, "{index}usize => __nrpc::{call},");
        }
        c.put("_ => __nrpc::unimplemented(call),");
        c.close("}");
    }
    c.close("}");
    describe(c, svc);
    c.close("}");
    events(c, svc);
    c.close("}");
}

/// `<Svc>Events`: publishes the events of the service's `NoRequest`
/// methods, if it has any.
fn events(c: &mut Code, svc: &Service) {
    let events: Vec<_> = svc
        .methods()
        .filter(|(_, spec, _)| spec.kind == MethodKind::NoRequest)
        .collect();
    if events.is_empty() {
        return;
    }
    let name = ident(&names::events_struct(&svc.name));
    put!(
        c,
        "/// Publishes the events of `{}`.\n#[derive(Debug, Clone)]\npub struct {name} {{\n    inner: __nrpc::ServiceClient,\n}}",
        svc.spec.name
    );
    c.open(&format!("impl {name} {{"));
    constructor(c, svc, "publisher of the events");
    c.put("/// Publishes in `encoding` (default protobuf; JSON for\n/// subscribers on the `.json` subjects).\npub fn with_encoding(mut self, encoding: __nrpc::Encoding) -> Self {\n    self.inner.set_encoding(encoding);\n    self\n}");
    for (index, spec, m) in events {
        let params: Vec<String> = spec.params.iter().map(|p| param_ident(p)).collect();
        let args: Vec<String> = std::iter::once("&self,".to_owned())
            .chain(params.iter().map(|p| format!("{p}: &str,")))
            .chain([format!("event: &{},", nested_type(&m.output))])
            .collect();
        c.docs(&m.docs);
        c.docs(&[
            String::new(),
            format!("Publishes one `{}` event to its subscribers.", spec.name),
        ]);
        let publish = ident(&names::publish(&m.rust_name));
        if spec.durable.is_some() {
            c.docs(&[
                "",
                "Durable: returns once the broker has stored the event (its stream and sequence); subscriber groups consuming it get it at least once, and a new group can replay it.",
            ]);
            open_fn(
                c,
                &format!("pub async fn {publish}"),
                &args,
                "Result<__nrpc::Stored, __nrpc::CallError>",
            );
            put!(
                c,
                "self.inner\n    .publish_durable::<{}>({index}usize, &[{}], event, None)\n    .await",
                codec(&m.output),
                params.join(", ")
            );
        } else {
            open_fn(
                c,
                &format!("pub async fn {publish}"),
                &args,
                "Result<(), __nrpc::CallError>",
            );
            put!(
                c,
                "self.inner.publish_event::<{}>({index}usize, &[{}], event).await",
                codec(&m.output),
                params.join(", ")
            );
        }
        c.close("}");
    }
    c.close("}");
}
