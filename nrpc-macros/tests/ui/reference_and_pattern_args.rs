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
    async fn by_ref(&self, request: &Msg) -> Result<Msg, Status>;
    async fn pattern(&self, Msg {}: Msg) -> Result<Msg, Status>;
    async fn two(&self, a: Msg, b: Msg) -> Result<Msg, Status>;
}
fn main() {}
