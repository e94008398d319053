// The same service as `same_rules_as_proto.proto`: both front ends must
// reject it with the same messages (checked by tests/front_ends.rs in the
// nrpc-tests crate).
use nrpc_runtime::{nats_service, Status};

#[derive(Clone, PartialEq, nrpc_runtime::prost::Message)]
#[prost(prost_path = "::nrpc_runtime::prost")]
pub struct Msg {}

impl nrpc_runtime::prost::Name for Msg {
    const NAME: &'static str = "Msg";
    const PACKAGE: &'static str = "shop";
}

#[nats_service(proto_package = "shop", package = "shop.", service = "orders")]
pub trait Orders {
    async fn new(&self, request: Msg) -> Result<Msg, Status>;
    async fn with_instance(&self, request: Msg) -> Result<Msg, Status>;
    #[nrpc(poll)]
    async fn get_order(&self, request: Msg) -> Result<Msg, Status>;
    async fn get_order_broadcast(&self, request: Msg) -> Result<Msg, Status>;
    #[nrpc(subject = "GetOrder")]
    async fn lookup(&self, request: Msg) -> Result<Msg, Status>;
    #[nrpc(subject = "find\u{7}", params = ["id", "bad-name"])]
    async fn find(&self, request: Msg) -> Result<Msg, Status>;
    #[nrpc(event)]
    async fn updated(&self) -> Result<Msg, Status>;
    async fn subscribe_updated(&self, request: Msg) -> Result<Msg, Status>;
    #[nrpc(stream, poll)]
    async fn watch(&self, request: Msg) -> Result<Msg, Status>;
}

fn main() {}
