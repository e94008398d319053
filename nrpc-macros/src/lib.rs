//! `#[nats_service]`: define an nrpc service as a Rust trait and get the
//! same typed client, server adapter and wire protocol as a `.proto`
//! service compiled by `nrpc-codegen`. Use it through
//! `nrpc_runtime::nats_service`.
//!
//! ```
//! use nrpc_runtime::{nats_service, Status};
//! # use nrpc_runtime::prost;
//! # #[derive(Clone, PartialEq, prost::Message)]
//! # #[prost(prost_path = "::nrpc_runtime::prost")]
//! # pub struct HelloRequest {
//! #     #[prost(string, tag = "1")]
//! #     pub name: String,
//! # }
//! # impl prost::Name for HelloRequest {
//! #     const NAME: &'static str = "HelloRequest";
//! #     const PACKAGE: &'static str = "demo";
//! # }
//! # #[derive(Clone, PartialEq, prost::Message)]
//! # #[prost(prost_path = "::nrpc_runtime::prost")]
//! # pub struct HelloReply {
//! #     #[prost(string, tag = "1")]
//! #     pub message: String,
//! # }
//! # impl prost::Name for HelloReply {
//! #     const NAME: &'static str = "HelloReply";
//! #     const PACKAGE: &'static str = "demo";
//! # }
//!
//! #[nats_service(package = "demo", service_params = ["region"])]
//! pub trait Greeter {
//!     /// Says hello.
//!     async fn say_hello(&self, request: HelloRequest) -> Result<HelloReply, Status>;
//!     #[nrpc(subject = "ping", params = ["node"])]
//!     async fn ping(&self) -> Result<(), Status>;
//! }
//! # fn main() {}
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
