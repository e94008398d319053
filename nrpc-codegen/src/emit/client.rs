//! The `<snake>_client` module: a `Clone` client whose methods take `&self`.

use nrpc_wire::names;

use super::code::{put, Code};
use super::{codec, ident, nested_type, open_fn, register_descriptors, spec_ident, turbofish};
use crate::model::{MessageType, Method, MethodKind, MethodSpec, Service};

/// A Rust argument name for a subject parameter.
pub(crate) fn param_ident(name: &str) -> String {
    ident(&names::param(name))
}

/// The subject parameters of a method as arguments (`name: &str,`) and as
/// the list handed to the runtime (`&[name, …]`).
fn params(spec: &MethodSpec) -> (Vec<String>, String) {
    let names: Vec<String> = spec.params.iter().map(|p| param_ident(p)).collect();
    let args = names.iter().map(|p| format!("{p}: &str,")).collect();
    (args, format!("&[{}]", names.join(", ")))
}

/// `&self`, then `more`.
fn self_and(more: impl IntoIterator<Item = String>) -> Vec<String> {
    std::iter::once("&self,".to_owned()).chain(more).collect()
}

pub(super) fn emit(c: &mut Code, svc: &Service) {
    let client = ident(&names::client_struct(&svc.name));
    put!(c, "/// Client for `{}`.", svc.spec.name);
    c.open(&format!(
        "pub mod {} {{",
        ident(&names::client_module(&svc.name))
    ));
    // A crate uses the methods it needs; the rest must not warn (the
    // module may be private, in a binary).
    c.put("#![allow(dead_code)]");
    c.put("use ::nrpc_runtime::codegen as __nrpc;");
    c.docs(&svc.docs);
    c.put("#[derive(Debug, Clone)]");
    put!(
        c,
        "pub struct {client} {{\n    inner: __nrpc::ServiceClient,\n}}"
    );
    c.open(&format!("impl {client} {{"));
    constructor(c, svc, "client");
    c.put(SETTINGS);
    for (index, spec, m) in svc.methods() {
        method(c, index, spec, m);
    }
    for (index, spec, m) in svc.methods() {
        let (args, list) = params(spec);
        put!(
            c,
            "/// The subject of `{}` with these parameters, in `encoding` (what the client sends to, or subscribes to for events).",
            spec.name
        );
        open_fn(
            c,
            &format!("pub fn {}", ident(&names::subject_fn(&m.rust_name))),
            &self_and(
                args.into_iter()
                    .chain(["encoding: __nrpc::Encoding,".into()]),
            ),
            "Result<String, __nrpc::CallError>",
        );
        put!(c, "self.inner.subject({index}usize, {list}, encoding)");
        c.close("}");
    }
    c.close("}");
    c.close("}");
}

/// The settings every generated client has.
const SETTINGS: &str = "\
/// Sets the timeout of every call, also sent to the server as the call's deadline (without one: 5 s, not sent).
pub fn with_timeout(mut self, timeout: ::std::time::Duration) -> Self {
    self.inner.set_timeout(timeout);
    self
}
/// Sets the default payload encoding of every call.
pub fn with_encoding(mut self, encoding: __nrpc::Encoding) -> Self {
    self.inner.set_encoding(encoding);
    self
}
/// Sets metadata headers sent with every call (per-call
/// headers are added to them).
pub fn with_headers(mut self, headers: __nrpc::HeaderMap) -> Self {
    self.inner.set_headers(headers);
    self
}
/// Replaces the package subject prefix (may be empty).
pub fn with_package_subject(
    mut self,
    package_subject: &str,
) -> Result<Self, __nrpc::InvalidToken> {
    self.inner.set_package_subject(package_subject)?;
    Ok(self)
}
/// Sends every call to the instance `id` only (its NATS
/// services id, from discovery or a broadcast reply).
pub fn with_instance(mut self, id: &str) -> Result<Self, __nrpc::InvalidToken> {
    self.inner.set_instance(id)?;
    Ok(self)
}
/// Sends broadcasts to this subject (default: nrpc's routing
/// prefix; `BroadcastVia::MethodSubject` polls Go nRPC servers).
pub fn with_broadcast_via(mut self, via: __nrpc::BroadcastVia) -> Self {
    self.inner.set_broadcast_via(via);
    self
}
/// The untyped client underneath.
pub fn service_client(&self) -> &__nrpc::ServiceClient {
    &self.inner
}";

/// The client methods of one method of the service.
fn method(c: &mut Code, index: usize, spec: &MethodSpec, m: &Method) {
    let name = ident(&m.rust_name);
    let plain_name = names::plain(&m.rust_name);
    let name_with = ident(&names::with_options(&m.rust_name));
    let (args, list) = params(spec);
    let names_passed: String = spec
        .params
        .iter()
        .map(|p| format!("{}, ", param_ident(p)))
        .collect();
    let codecs = [codec(&m.input), codec(&m.output)];
    // `self.inner` and a runtime call, indented as a method chain.
    let call = |method: &str, types: &[String], args: String| {
        let call = turbofish(method, types, &args).replace('\n', "\n    ");
        format!("self.inner\n    .{call}\n    .await")
    };
    let out = nested_type(&m.output);
    let (req_arg, req_expr, req_pass) = match &m.input {
        MessageType::Void => (None, "&()", ""),
        ty => (
            Some(format!("request: &{},", nested_type(ty))),
            "request",
            "request, ",
        ),
    };
    let with_args = |last: &str| {
        self_and(
            args.iter()
                .cloned()
                .chain(req_arg.clone())
                .chain([last.to_owned()]),
        )
    };
    let plain_args = self_and(args.iter().cloned().chain(req_arg.clone()));
    c.docs(&m.docs);
    match spec.kind {
        MethodKind::Unary => {
            open_fn(
                c,
                &format!("pub async fn {name}"),
                &plain_args,
                &format!("Result<{out}, __nrpc::CallError>"),
            );
            put!(
                c,
                "self.{name_with}({names_passed}{req_pass}__nrpc::CallOptions::new())\n    .await\n    .map(__nrpc::Response::into_inner)"
            );
            c.close("}");
            put!(
                c,
                "/// [`{plain_name}`](Self::{plain_name}) with per-call options; the reply keeps its metadata headers."
            );
            open_fn(
                c,
                &format!("pub async fn {name_with}"),
                &with_args("options: __nrpc::CallOptions,"),
                &format!("Result<__nrpc::Response<{out}>, __nrpc::CallError>"),
            );
            c.put(&call(
                "unary",
                &codecs,
                format!("{index}usize, {list}, {req_expr}, Some(options)"),
            ));
            c.close("}");
            if spec.polling {
                put!(
                    c,
                    "/// Calls [`{plain_name}`](Self::{plain_name}) on every live instance and streams their replies, each with the instance id."
                );
                open_fn(
                    c,
                    &format!("pub async fn {}", ident(&names::broadcast(&m.rust_name))),
                    &with_args("options: __nrpc::BroadcastOptions,"),
                    &format!("Result<__nrpc::Broadcast<{out}>, __nrpc::CallError>"),
                );
                c.put(&call(
                    "broadcast",
                    &codecs,
                    format!("{index}usize, {list}, {req_expr}, options"),
                ));
                c.close("}");
            }
        }
        MethodKind::NoReply if spec.durable.is_some() => {
            c.docs(&[
                "",
                "Durable: returns once the broker has stored the command (its stream, its sequence there, and whether it duplicated an earlier message id); the service handles it at least once, retrying as declared.",
            ]);
            let ret = "Result<__nrpc::Stored, __nrpc::CallError>";
            open_fn(c, &format!("pub async fn {name}"), &plain_args, ret);
            c.put(&call(
                "publish_durable",
                &codecs[..1],
                format!("{index}usize, {list}, {req_expr}, None"),
            ));
            c.close("}");
            put!(
                c,
                "/// [`{plain_name}`](Self::{plain_name}) with per-call options: headers, encoding, timeout, and the idempotency key (`CallOptions::message_id`)."
            );
            open_fn(
                c,
                &format!("pub async fn {name_with}"),
                &with_args("options: __nrpc::CallOptions,"),
                ret,
            );
            c.put(&call(
                "publish_durable",
                &codecs[..1],
                format!("{index}usize, {list}, {req_expr}, Some(options)"),
            ));
            c.close("}");
        }
        MethodKind::NoReply => {
            c.docs(&[
                "",
                "Fire-and-forget: returns once the request is handed to NATS; the server never answers.",
            ]);
            open_fn(
                c,
                &format!("pub async fn {name}"),
                &plain_args,
                "Result<(), __nrpc::CallError>",
            );
            c.put(&call(
                "send",
                &codecs[..1],
                format!("{index}usize, {list}, {req_expr}, None"),
            ));
            c.close("}");
            put!(
                c,
                "/// [`{plain_name}`](Self::{plain_name}) with per-call headers and encoding."
            );
            open_fn(
                c,
                &format!("pub async fn {name_with}"),
                &with_args("options: __nrpc::CallOptions,"),
                "Result<(), __nrpc::CallError>",
            );
            c.put(&call(
                "send",
                &codecs[..1],
                format!("{index}usize, {list}, {req_expr}, Some(options)"),
            ));
            c.close("}");
        }
        MethodKind::NoRequest => {
            c.docs(&[
                String::new(),
                format!(
                    "Subscribes to the `{}` events the service publishes; in `queue_group`, each event reaches one member of the group.",
                    spec.name
                ),
            ]);
            open_fn(
                c,
                &format!("pub async fn {}", ident(&names::subscribe(&m.rust_name))),
                &self_and(args.iter().cloned().chain(["queue_group: Option<&str>,".into()])),
                &format!(
                    "Result<__nrpc::BoxStream<'static, Result<{out}, __nrpc::CallError>>, __nrpc::CallError>"
                ),
            );
            c.put(&call(
                "subscribe_events",
                &[codec(&m.output)],
                format!("{index}usize, {list}, queue_group"),
            ));
            c.close("}");
            if spec.durable.is_some() {
                c.docs(&[
                    format!(
                        "Consumes the durable `{}` events as subscriber group `group`: every group gets each event, the instances of a group share them, and each is handled at least once (retried as declared, else dead-lettered). A new group starts at `start`; an existing one goes on where it was. Runs until the handle is shut down.",
                        spec.name
                    ),
                ]);
                c.open(&format!(
                    "pub async fn {}<H, Fut>(\n    &self,\n    group: &str,\n    start: __nrpc::Start,\n    handler: H,\n) -> Result<__nrpc::ConsumerHandle, __nrpc::CallError>\nwhere\n    H: Fn({out}, __nrpc::Delivery) -> Fut + Send + Sync + 'static,\n    Fut: __nrpc::Future<Output = Result<(), __nrpc::Status>> + Send + 'static,\n{{",
                    ident(&names::consume(&m.rust_name))
                ));
                c.put(&call(
                    "consume_events",
                    &[codec(&m.output), "_".to_owned(), "_".to_owned()],
                    format!("{index}usize, group, start, handler"),
                ));
                c.close("}");
            }
        }
        MethodKind::ClientStreaming | MethodKind::Bidirectional => {
            let bidi = spec.kind == MethodKind::Bidirectional;
            let (ret, finish, what) = if bidi {
                (
                    format!("__nrpc::ReplyStream<{out}>"),
                    "Ok(replies)",
                    "Streams `requests` to the server and its replies back",
                )
            } else {
                (
                    out.clone(),
                    "__nrpc::single_reply(replies).await",
                    "Streams `requests` to the server and returns its one reply",
                )
            };
            let requests = format!(
                "requests: impl __nrpc::Stream<Item = {}> + Send + 'static,",
                nested_type(&m.input)
            );
            let ret = format!("Result<{ret}, __nrpc::CallError>");
            c.docs(&[
                String::new(),
                format!("{what}, each direction within the other side's credit; dropping the call cancels the server's handler."),
            ]);
            open_fn(
                c,
                &format!("pub async fn {name}"),
                &self_and(args.iter().cloned().chain([requests.clone()])),
                &ret,
            );
            put!(
                c,
                "self.{name_with}({names_passed}requests, __nrpc::CallOptions::new()).await"
            );
            c.close("}");
            put!(
                c,
                "/// [`{plain_name}`](Self::{plain_name}) with per-call options (the timeout is the inactivity timeout)."
            );
            open_fn(
                c,
                &format!("pub async fn {name_with}"),
                &self_and(
                    args.iter()
                        .cloned()
                        .chain([requests, "options: __nrpc::CallOptions,".into()]),
                ),
                &ret,
            );
            let call = call(
                "open_stream",
                &codecs,
                format!("{index}usize, {list}, __nrpc::boxed(requests), Some(options)"),
            );
            put!(c, "let replies = {call}?;\n{finish}");
            c.close("}");
        }
        MethodKind::StreamedReply => {
            let ret = format!("Result<__nrpc::ReplyStream<{out}>, __nrpc::CallError>");
            c.docs(&[
                "",
                "Streams the reply items in order; dropping the stream cancels the server's handler.",
            ]);
            open_fn(c, &format!("pub async fn {name}"), &plain_args, &ret);
            c.put(&call(
                "server_stream",
                &codecs,
                format!("{index}usize, {list}, {req_expr}, None"),
            ));
            c.close("}");
            put!(
                c,
                "/// [`{plain_name}`](Self::{plain_name}) with per-call options (the timeout is the inactivity timeout)."
            );
            open_fn(
                c,
                &format!("pub async fn {name_with}"),
                &with_args("options: __nrpc::CallOptions,"),
                &ret,
            );
            c.put(&call(
                "server_stream",
                &codecs,
                format!("{index}usize, {list}, {req_expr}, Some(options)"),
            ));
            c.close("}");
        }
    }
}

/// `new(conn, params…)` of a struct wrapping a `ServiceClient` in `inner`.
pub(super) fn constructor(c: &mut Code, svc: &Service, what: &str) {
    let spec = spec_ident(svc);
    let params: Vec<String> = svc
        .spec
        .package_params
        .iter()
        .chain(svc.spec.service_params.iter())
        .map(|p| param_ident(p))
        .collect();
    put!(c, "/// A {what} for `{}` on `conn`.", svc.spec.name);
    if params.is_empty() {
        c.open("pub fn new(conn: __nrpc::Connection) -> Self {");
        register_descriptors(c, svc);
        put!(
            c,
            "let inner = __nrpc::ServiceClient::new(conn, &super::{spec}, &[])\n    .expect(\"a service without subject parameters always has a valid subject\");\nSelf {{ inner }}"
        );
    } else {
        c.docs(&["", "Fails if a parameter is not a single subject token."]);
        let args: Vec<String> = std::iter::once("conn: __nrpc::Connection,".to_owned())
            .chain(params.iter().map(|p| format!("{p}: &str,")))
            .collect();
        open_fn(c, "pub fn new", &args, "Result<Self, __nrpc::InvalidToken>");
        register_descriptors(c, svc);
        put!(
            c,
            "let inner = __nrpc::ServiceClient::new(conn, &super::{spec}, &[{}])?;\nOk(Self {{ inner }})",
            params.join(", ")
        );
    }
    c.close("}");
}
