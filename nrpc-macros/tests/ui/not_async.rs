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
    fn get(&self, request: Msg) -> Result<Msg, Status>;
}
fn main() {}
