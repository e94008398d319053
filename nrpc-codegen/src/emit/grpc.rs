//! The glue that serves an implementation of a service's nrpc trait over
//! gRPC too: `<Service>Grpc<T>` implements the server trait tonic-build
//! generates for the same service (in the package's `grpc` module) by
//! calling the nrpc handler through `nrpc_runtime::grpc`, which maps
//! metadata, deadlines, cancellation and statuses.

use nrpc_wire::names;

use super::code::{put, Code};
use super::{ident, spec_ident};
use crate::model::{MessageType, MethodKind, Service};

/// A message type as prost-build names it from the package's module (what
/// tonic's generated code uses), seen from the `grpc` module below it.
fn tonic_type(prost_path: &str) -> String {
    if prost_path.starts_with("::") || prost_path.starts_with("crate::") || prost_path == "()" {
        prost_path.to_owned()
    } else {
        format!("super::{prost_path}")
    }
}

/// Emits `<Service>Grpc<T>` for `svc`, whose methods prost-build typed as
/// `prost_types` (input, output) from the package's module.
pub(crate) fn emit(c: &mut Code, svc: &Service, prost_types: &[(String, String)]) {
    let trait_name = ident(&svc.name);
    let glue = ident(&format!("{}Grpc", svc.name));
    let nrpc_trait = format!(
        "super::{}::{trait_name}",
        ident(&names::server_module(&svc.name))
    );
    let tonic_module = ident(&names::server_module(&svc.name));
    let spec = format!("&super::{}", spec_ident(svc));
    let full_name = &svc.spec.name;

    put!(
        c,
        "/// Serves an implementation of [`{nrpc_trait}`] over gRPC as well: `{glue}::server(implementation)` is a tonic service for `{full_name}` to add to a `tonic::transport::Server`, beside the same implementation served over NATS.\n#[derive(Debug)]\npub struct {glue}<T> {{\n    inner: ::nrpc_runtime::codegen::Arc<T>,\n}}"
    );
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
    for ((index, spec_m, m), (prost_in, prost_out)) in svc.methods().zip(prost_types) {
        let name = ident(&m.rust_name);
        let (tin, tout) = (tonic_type(prost_in), tonic_type(prost_out));
        let streams_in = spec_m.kind.streams_requests();
        let streams_out = matches!(
            spec_m.kind,
            MethodKind::StreamedReply | MethodKind::Bidirectional
        );
        let stream_type = format!("{}Stream", spec_m.name);
        let request = if streams_in {
            format!("::tonic::Request<::tonic::Streaming<{tin}>>")
        } else {
            format!("::tonic::Request<{tin}>")
        };
        let reply = if streams_out {
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
        match spec_m.kind {
            MethodKind::NoRequest => {
                put!(
                    c,
                    "let _ = request;\n{runtime}::not_callable({spec}, {index})"
                );
            }
            // Streams of nrpc.Void have no gRPC face here.
            _ if (streams_in && void_in) || (streams_out && void_out) => {
                put!(
                    c,
                    "let _ = request;\nErr(::tonic::Status::unimplemented(\"{full_name}.{}: a stream of nrpc.Void is served over NATS only\"))",
                    spec_m.name
                );
            }
            kind => {
                c.put("let inner = self.inner.clone();");
                let request = if void_in && !streams_in {
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
