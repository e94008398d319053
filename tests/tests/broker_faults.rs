//! Calls end in time when the broker goes away: a call made while the
//! connection is down fails at once (or waits for it, if asked, within its
//! deadline), a call in flight when it drops fails at once with an unknown
//! outcome, and everything works again once the broker is back.

use std::time::Duration;

use futures::future::join_all;
use nrpc_runtime::{CallError, CallOptions};
use nrpc_tests::greeter::greeter_client::GreeterClient;
use nrpc_tests::{connection, hello, nats_server, serve_greeter, within, Event};

fn patient(conn: nrpc_runtime::Connection) -> GreeterClient {
    GreeterClient::new(conn).with_timeout(Duration::from_secs(120))
}

/// Calls until one fails with `NotConnected`: the client has noticed the
/// broker is gone. Every call on the way ends without waiting out its
/// timeout.
async fn until_not_connected(client: &GreeterClient) {
    within("the client notices the broker is gone", async {
        loop {
            match client.say_hello(&hello("probe")).await {
                Err(CallError::NotConnected) => return,
                Err(CallError::ConnectionLost) | Ok(_) => continue,
                Err(other) => panic!("unexpected outcome while the broker is down: {other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn calls_fail_fast_while_the_broker_is_down_and_work_after_a_restart() {
    let mut server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "a").await;
    let client = patient(connection(&server).await);
    within("a call", client.say_hello(&hello("before")))
        .await
        .unwrap();

    server.stop();
    until_not_connected(&client).await;

    // Waiting for the connection is bounded by each call's deadline, also
    // when hundreds of calls fill the client's send buffer.
    let waiting = (0..256).map(|i| {
        let client = client.clone();
        async move {
            let options = CallOptions::new()
                .timeout(Duration::from_millis(250))
                .wait_for_ready();
            client
                .say_hello_with(&hello(&format!("queued-{i}")), options)
                .await
        }
    });
    let outcomes = within("256 waiting calls", join_all(waiting)).await;
    for outcome in outcomes {
        assert!(matches!(outcome, Err(CallError::Timeout(_))), "{outcome:?}");
    }

    server.restart().unwrap_or_else(|e| panic!("{e}"));
    // Waiting for ready, the call goes out once the client has reconnected.
    within("calls work again", async {
        loop {
            let options = CallOptions::new()
                .timeout(Duration::from_secs(15))
                .wait_for_ready();
            match client.say_hello_with(&hello("after"), options).await {
                Ok(reply) => return assert_eq!(reply.get_ref().message, "Hello, after"),
                // The service's own connection may not have resubscribed yet.
                Err(CallError::NoResponders { .. }) => continue,
                Err(other) => panic!("unexpected outcome after the restart: {other:?}"),
            }
        }
    })
    .await;
    // None of the calls that timed out while the broker was down ran
    // later: they were never handed to the connection. (Anything buffered
    // would have reached the service before "after".)
    while let Ok(event) = events.try_recv() {
        if let Event::Started(name) = event {
            assert!(
                !name.starts_with("queued-"),
                "{name} ran after its caller gave up"
            );
        }
    }
}

#[tokio::test]
async fn a_call_in_flight_when_the_broker_dies_fails_at_once_with_an_unknown_outcome() {
    let mut server = nats_server();
    let (_h, mut events, _gate) = serve_greeter(&server, "a").await;
    let client = patient(connection(&server).await);
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.say_hello(&hello("forever-inflight")).await }
    });
    within("the handler starts", async {
        while events.recv().await != Some(Event::Started("forever-inflight".into())) {}
    })
    .await;
    server.stop();
    let outcome = within("the call ends", call).await.unwrap();
    assert!(
        matches!(outcome, Err(CallError::ConnectionLost)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_server_shuts_down_within_its_grace_while_the_broker_is_away() {
    // Before: shutdown() waited for the broker to confirm the drain and
    // the flush, so a server given SIGTERM during an outage never exited.
    let mut server = nats_server();
    let (handle, mut events, _gate) = serve_greeter(&server, "a").await;
    let client = patient(connection(&server).await);
    // A handler that waits until it is dropped, in flight across the outage.
    let call = tokio::spawn({
        let client = client.clone();
        async move { client.say_hello(&hello("forever")).await }
    });
    loop {
        match within("handler start", events.recv()).await {
            Some(Event::Started(name)) if name == "forever" => break,
            Some(_) => continue,
            None => panic!("the service is gone"),
        }
    }
    server.stop();
    until_not_connected(&client).await;
    let grace = Duration::from_millis(500);
    let finished = within("shutdown", handle.shutdown_timeout(grace)).await;
    assert!(!finished, "the handler did not finish, nothing was flushed");
    // The handler was dropped (its cancellation token fired).
    nrpc_tests::cancelled(&mut events, "forever").await;
    let outcome = within("the call", call).await.unwrap();
    assert!(outcome.is_err(), "{outcome:?}");
}

#[tokio::test]
async fn waiting_for_ready_wakes_when_connect_reconnects() {
    // A connection made by connect() wakes waiting calls on its Connected
    // event (a bare client's connection looks every few milliseconds).
    let mut server = nats_server();
    let (_h, _events, _gate) = serve_greeter(&server, "a").await;
    let conn = nrpc_runtime::ConnectOptions::new()
        .ignore_environment()
        .servers(server.url())
        .connect()
        .await
        .unwrap();
    let client = patient(conn);
    server.stop();
    until_not_connected(&client).await;
    let waiting = tokio::spawn({
        let client = client.clone();
        async move {
            let options = CallOptions::new()
                .timeout(Duration::from_secs(60))
                .wait_for_ready();
            client.say_hello_with(&hello("reconnected"), options).await
        }
    });
    server.restart().unwrap_or_else(|e| panic!("{e}"));
    // The service's own connection may resubscribe after the client's:
    // then nobody answers the first call yet, and a second one does.
    let reply = match within("the waiting call", waiting).await.unwrap() {
        Ok(reply) => reply.into_inner(),
        Err(CallError::NoResponders { .. }) => {
            within("again", async {
                loop {
                    match client.say_hello(&hello("reconnected")).await {
                        Ok(reply) => return reply,
                        Err(CallError::NoResponders { .. }) => continue,
                        Err(e) => panic!("{e:?}"),
                    }
                }
            })
            .await
        }
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!(reply.message, "Hello, reconnected");
}
