use nrpc_runtime::{nats_service, Status};

#[derive(Clone, PartialEq, nrpc_runtime::prost::Message)]
#[prost(prost_path = "::nrpc_runtime::prost")]
pub struct Msg {}

impl nrpc_runtime::prost::Name for Msg {
    const NAME: &'static str = "Msg";
    const PACKAGE: &'static str = "ui";
}

#[nats_service]
pub trait Svc {
    async fn none(&self, request: Msg);
    async fn plain(&self, request: Msg) -> Msg;
    async fn other_error(&self, request: Msg) -> Result<Msg, String>;
}
fn main() {}
