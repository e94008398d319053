//! `#[nats_service]`: define an nrpc service as a Rust trait and get the
//! same typed client, server adapter and wire protocol as a `.proto`
//! service compiled by `nrpc-codegen`. Use it through
//! `nrpc_runtime::nats_service`.
//!
//! ```ignore
//! use nrpc_runtime::{nats_service, Status};
//!
//! #[nats_service(package = "demo", service_params = ["region"])]
//! pub trait Greeter {
//!     /// Says hello.
//!     async fn say_hello(&self, request: HelloRequest) -> Result<HelloReply, Status>;
//!     #[nrpc(subject = "ping", params = ["node"])]
//!     async fn ping(&self) -> Result<(), Status>;
//! }
//! ```
//!
//! expands to `GREETER_SPEC`, `greeter_client::GreeterClient`,
//! `greeter_server::{Greeter, GreeterServer}` and `greeter_proto(imports)`;
//! see `src/docs/nats_service.md` in nrpc-runtime for every argument.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

mod service;

use proc_macro::TokenStream;

/// Turns a trait into an nrpc service: client, server trait and adapter.
/// See the crate documentation.
#[proc_macro_attribute]
pub fn nats_service(attr: TokenStream, item: TokenStream) -> TokenStream {
    service::expand(attr.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
