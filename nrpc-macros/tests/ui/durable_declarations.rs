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
    // Only commands and events can be durable.
    #[nrpc(durable)]
    async fn get(&self, request: Msg) -> Result<Msg, Status>;
    // Durations are a number and a unit; keys are the policy's.
    #[nrpc(no_reply, durable(ack_wait = "30 seconds", retries = 3))]
    async fn put(&self, request: Msg) -> Result<(), Status>;
    // A policy the broker would refuse.
    #[nrpc(no_reply, durable(max_deliveries = 0))]
    async fn drop_it(&self, request: Msg) -> Result<(), Status>;
}
fn main() {}
