use nrpc_runtime::{nats_service, Status};

/// A prost message that forgot `prost::Name`.
#[derive(Clone, PartialEq, nrpc_runtime::prost::Message)]
#[prost(prost_path = "::nrpc_runtime::prost")]
pub struct Nameless {}

#[nats_service]
pub trait Svc {
    async fn get(&self, request: Nameless) -> Result<(), Status>;
}

fn main() {}
