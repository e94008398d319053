use nrpc_runtime::{nats_service, Status};

#[derive(Clone, PartialEq, nrpc_runtime::prost::Message)]
#[prost(prost_path = "::nrpc_runtime::prost")]
pub struct Msg {}

impl nrpc_runtime::prost::Name for Msg {
    const NAME: &'static str = "Msg";
    const PACKAGE: &'static str = "ui";
}

#[nats_service(colour = "blue")]
pub trait Svc {
    fn a(&self) -> Result<Msg, Status>;
    async fn b<T>(&self) -> Result<Msg, Status>;
    async fn c(self) -> Result<Msg, Status>;
    async fn d(&self, request: &Msg) -> Msg;
    const X: u8;
}
fn main() {}
