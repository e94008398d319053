//! The glue that serves an implementation of a service's nrpc trait over
//! gRPC too: `<Service>Grpc<T>` implements the server trait tonic-build
//! generates for the same service (in the package's `grpc` module) by
//! calling the nrpc handler through `nrpc_runtime::grpc`, which maps
//! metadata, deadlines, cancellation and statuses.

use nrpc_wire::names;

use super::code::{lit, put, Code};
use nrpc_wire::grpc::grpc_face;

use super::{ident, spec_ident};
use crate::model::{MessageType, Method, MethodKind, MethodSpec, Service};

/// How tonic's generated code sees one method: its message types as
/// prost-build names them from the package's module, and whether the
/// `.proto` streams them (an nRPC `streamedReply` option is not a gRPC
/// stream).
#[derive(Debug, Clone)]
pub struct TonicMethod {
    /// The request type's Rust path, from the package's module.
    pub input: String,
    /// The reply type's Rust path, from the package's module.
    pub output: String,
    /// `rpc X(stream A)`.
    pub client_streaming: bool,
    /// `returns (stream B)`.
    pub server_streaming: bool,
}

/// A message type as prost-build names it from the package's module (what
/// tonic's generated code uses), seen from the `grpc` module below it.
pub fn tonic_type(prost_path: &str) -> String {
    if prost_path.starts_with("::") || prost_path.starts_with("crate::") || prost_path == "()" {
        prost_path.to_owned()
    } else {
        format!("super::{prost_path}")
    }
}

/// Why the glue cannot serve a method over gRPC, if it cannot: the text
/// of its `UNIMPLEMENTED` (`nrpc_wire::grpc::grpc_face` decides).
fn unserved(full_name: &str, spec: &MethodSpec, m: &Method, t: &TonicMethod) -> Option<String> {
    let declared = (t.client_streaming, t.server_streaming);
    let void = (m.input == MessageType::Void, m.output == MessageType::Void);
    grpc_face(spec, Some(declared), void)
        .err()
        .map(|no| no.message(full_name, spec, "NATS"))
}

/// Emits `<Service>Grpc<T>` for `svc`, whose methods tonic sees as
/// `tonic_methods`.
pub(crate) fn emit(c: &mut Code, svc: &Service, tonic_methods: &[TonicMethod]) {
    let trait_name = ident(&svc.name);
    let glue = ident(&format!("{}Grpc", svc.name));
    let nrpc_trait = format!(
        "super::{}::{trait_name}",
        ident(&names::server_module(&svc.name))
    );
    let tonic_module = ident(&names::server_module(&svc.name));
    let spec = format!("&super::{}", spec_ident(svc));
    let full_name = &svc.spec.name;
    let plan: Vec<Option<String>> = svc
        .methods()
        .zip(tonic_methods)
        .map(|((_, spec, m), t)| unserved(full_name, spec, m, t))
        .collect();

    put!(
        c,
        "/// Serves an implementation of [`{nrpc_trait}`] over gRPC as well: `{glue}::server(implementation)` is a tonic service for `{full_name}` to add to a `tonic::transport::Server`, beside the same implementation served over NATS.\n#[derive(Debug)]\npub struct {glue}<T> {{"
    );
    if plan.iter().all(Option::is_some) {
        c.put("    #[allow(dead_code)] // no method is served over gRPC");
    }
    c.put("    inner: ::nrpc_runtime::codegen::Arc<T>,\n}");
    c.open(&format!("impl<T: {nrpc_trait}> {glue}<T> {{"));
    put!(
        c,
        "/// The tonic service for an implementation.\npub fn server(inner: T) -> {tonic_module}::{trait_name}Server<Self> {{\n    Self::from_arc(::nrpc_runtime::codegen::Arc::new(inner))\n}}"
    );
    put!(
        c,
        "/// The tonic service for a shared implementation (the one a NATS server serves too).\npub fn from_arc(inner: ::nrpc_runtime::codegen::Arc<T>) -> {tonic_module}::{trait_name}Server<Self> {{\n    {tonic_module}::{trait_name}Server::new(Self {{ inner }})\n}}"
    );
    c.close("}");

    c.put("#[::tonic::async_trait]");
    c.open(&format!(
        "impl<T: {nrpc_trait}> {tonic_module}::{trait_name} for {glue}<T> {{"
    ));
    for (((index, spec_m, m), t), unserved) in svc.methods().zip(tonic_methods).zip(plan) {
        let name = ident(&m.rust_name);
        let (tin, tout) = (tonic_type(&t.input), tonic_type(&t.output));
        let stream_type = format!("{}Stream", spec_m.name);
        let request = if t.client_streaming {
            format!("::tonic::Request<::tonic::Streaming<{tin}>>")
        } else {
            format!("::tonic::Request<{tin}>")
        };
        let reply = if t.server_streaming {
            put!(
                c,
                "type {stream_type} = ::nrpc_runtime::codegen::grpc::ReplyStream<{tout}>;"
            );
            format!("::tonic::Response<Self::{stream_type}>")
        } else {
            format!("::tonic::Response<{tout}>")
        };
        c.open(&format!(
            "async fn {name}(\n    &self,\n    request: {request},\n) -> Result<{reply}, ::tonic::Status> {{"
        ));
        let void_in = m.input == MessageType::Void;
        let void_out = m.output == MessageType::Void;
        let runtime = "::nrpc_runtime::codegen::grpc";
        match (unserved, spec_m.kind) {
            (Some(why), _) => {
                put!(
                    c,
                    "let _ = request;\nErr(::tonic::Status::unimplemented({}))",
                    lit(&why)
                );
            }
            (None, kind) => {
                c.put("let inner = self.inner.clone();");
                let request = if void_in && !t.client_streaming {
                    "request.map(|_| ())"
                } else {
                    "request"
                };
                let (runner, call, sink, tail) = match kind {
                    MethodKind::StreamedReply => ("server_stream", "", ", sink", ""),
                    MethodKind::Bidirectional => ("bidi_stream", "", ", sink", ""),
                    MethodKind::ClientStreaming => ("client_stream", ".await", "", ""),
                    MethodKind::NoReply => (
                        "unary",
                        ".await",
                        "",
                        ".map(|()| ::nrpc_runtime::codegen::Response::new(Default::default()))",
                    ),
                    _ if void_out => (
                        "unary",
                        ".await",
                        "",
                        ".map(|reply| reply.map(|()| Default::default()))",
                    ),
                    _ => ("unary", ".await", "", ""),
                };
                put!(
                    c,
                    "{runtime}::{runner}(\n    {spec},\n    {index},\n    {request},\n    move |request{sink}| async move {{ inner.{name}(request{sink}).await{tail} }},\n){call}"
                );
            }
        }
        c.close("}");
    }
    c.close("}");
}
