//! Calls across a cluster while a node goes away, by crash or in lame-duck
//! mode: every call ends in time with a typed outcome, and calls work again
//! through the nodes that remain, without restarting client or service.

use std::time::Duration;

use nats_harness::NatsServer;
use nrpc_runtime::{CallError, CallOptions, Connection, Server};
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::greeter::greeter_server::GreeterServer;
use nrpc_tests::{hello, within, TestGreeter};

async fn connect(url: &str) -> nrpc_runtime::async_nats::Client {
    nrpc_runtime::async_nats::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// A client of both nodes that connects to `first` first.
async fn connect_first(first: &NatsServer, other: &NatsServer) -> nrpc_runtime::async_nats::Client {
    nrpc_runtime::async_nats::ConnectOptions::new()
        .retain_servers_order()
        .connect(vec![first.url(), other.url()])
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

/// Calls until one succeeds; every attempt must end in a typed way within
/// its own timeout (the loop as a whole within PATIENCE).
async fn until_answered(client: &GreeterClient, what: &str) {
    within(what, async {
        loop {
            let options = CallOptions::new()
                .timeout(Duration::from_secs(2))
                .wait_for_ready();
            match client.say_hello_with(&hello("x"), options).await {
                Ok(reply) => return assert_eq!(reply.get_ref().message, "Hello, x"),
                // Interest has not crossed the route yet, or the client is
                // moving to another node.
                Err(
                    CallError::NoResponders { .. }
                    | CallError::NotConnected
                    | CallError::ConnectionLost
                    | CallError::Timeout(_),
                ) => continue,
                Err(other) => panic!("{what}: untyped outcome {other:?}"),
            }
        }
    })
    .await;
}

/// A service on `service_node` (returned: its handle and its NATS
/// connection), a client on `client_node`. Both know every node, as a
/// deployment configures them, but start on the given one.
async fn setup(
    service_node: &NatsServer,
    client_node: &NatsServer,
) -> (
    nrpc_runtime::ServerHandle,
    nrpc_runtime::async_nats::Client,
    GreeterClient,
) {
    let (greeter, _events) = TestGreeter::new("svc");
    let service_nats = connect_first(service_node, client_node).await;
    let handle = Server::builder(&Connection::new(service_nats.clone()).await.unwrap())
        .add_service(GreeterServer::new(greeter))
        .serve()
        .await
        .unwrap_or_else(|e| panic!("serve: {e}"));
    let conn = Connection::new(connect_first(client_node, service_node).await)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (handle, service_nats, GreeterClient::new(conn))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_the_crash_of_the_node_the_client_uses() {
    let mut nodes = NatsServer::start_cluster(2, "").unwrap_or_else(|e| panic!("{e}"));
    let (_h, _service, client) = setup(&nodes[1], &nodes[0]).await;
    until_answered(&client, "the cluster serves across the route").await;
    // The client's node crashes; the client moves to the other node (it
    // learned it from the cluster) and the service is still there.
    nodes[0].stop();
    until_answered(&client, "calls work through the remaining node").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_a_node_in_lame_duck_mode() {
    let nodes = NatsServer::start_cluster(
        2,
        // 30 s is nats-server's minimum; the few connections here are
        // closed soon after the grace period.
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // The service sits on the node that leaves; the client on the other.
    let (_h, service, client) = setup(&nodes[0], &nodes[1]).await;
    until_answered(&client, "the cluster serves across the route").await;
    nodes[0].lame_duck().unwrap_or_else(|e| panic!("{e}"));
    // Keep calling while the node drains its clients: the service's
    // connection moves to the other node and calls are answered again.
    until_answered(&client, "during lame duck").await;
    // Once the node has closed the service's connection, calls go to the
    // service on its new node; the client never noticed anything.
    within("the service moves to the other node", async {
        while service.server_info().port != nodes[1].port() {
            until_answered(&client, "while the node drains").await;
        }
    })
    .await;
    until_answered(&client, "after the service moved").await;
}

/// Which instance answered (the test greeter's `Instance` header).
async fn answering_instance(client: &GreeterClient) -> Option<String> {
    let options = CallOptions::new()
        .timeout(Duration::from_secs(2))
        .wait_for_ready();
    match client.say_hello_with(&hello("who"), options).await {
        Ok(reply) => reply
            .metadata()
            .get("Instance")
            .map(|v| v.as_str().to_owned()),
        Err(
            CallError::NoResponders { .. }
            | CallError::NotConnected
            | CallError::ConnectionLost
            | CallError::Timeout(_),
        ) => None,
        Err(other) => panic!("untyped outcome {other:?}"),
    }
}

/// Calls until `instance` answers.
async fn until_served_by(client: &GreeterClient, instance: &str) {
    within(&format!("served by {instance}"), async {
        while answering_instance(client).await.as_deref() != Some(instance) {}
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_over_to_another_cluster_through_the_gateway_and_back() {
    let nodes = NatsServer::start_gateways(&["east", "west"]).unwrap_or_else(|e| panic!("{e}"));
    let serve_in = |node: &NatsServer, instance: &'static str| {
        let url = node.url();
        async move {
            let (greeter, _events) = TestGreeter::new(instance);
            Server::builder(&Connection::new(connect(&url).await).await.unwrap())
                .add_service(GreeterServer::new(greeter))
                .serve()
                .await
                .unwrap_or_else(|e| panic!("serve: {e}"))
        }
    };
    let west = serve_in(&nodes[1], "west").await;
    let client = GreeterClient::new(
        Connection::new(connect(&nodes[0].url()).await)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    // Only the other cluster serves: calls cross the gateway.
    until_served_by(&client, "west").await;
    // A local instance appears: NATS prefers the local queue member.
    let east = serve_in(&nodes[0], "east").await;
    until_served_by(&client, "east").await;
    // The local instance goes away: calls fail over to the other cluster.
    east.shutdown().await;
    until_served_by(&client, "west").await;
    west.shutdown().await;
}
