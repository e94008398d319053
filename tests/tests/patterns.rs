//! The three NATS patterns from generated clients: 1-of-N (queue group),
//! 1:N broadcast, 1:1 direct; plus fire-and-forget and events.

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use nrpc_runtime::{BroadcastOptions, Request, Response, ServerHandle, Status};
use nrpc_tests::alloptions::svc_custom_subject_client::SvcCustomSubjectClient;
use nrpc_tests::alloptions::svc_custom_subject_server::SvcCustomSubjectEvents;
use nrpc_tests::alloptions::svc_subject_params_client::SvcSubjectParamsClient;
use nrpc_tests::alloptions::svc_subject_params_server::{SvcSubjectParams, SvcSubjectParamsServer};
use nrpc_tests::alloptions::{SimpleStringReply, StringArg};
use nrpc_tests::{connection, nats, nats_server, serve, within, NatsServer};
use tokio::sync::mpsc;

/// Answers with its instance label; reports fire-and-forget calls.
struct Instance {
    label: String,
    no_reply_calls: mpsc::UnboundedSender<String>,
}

impl SvcSubjectParams for Instance {
    async fn mt_with_subject_params(
        &self,
        _: Request<()>,
    ) -> Result<Response<SimpleStringReply>, Status> {
        Ok(Response::new(SimpleStringReply {
            reply: self.label.clone(),
        }))
    }

    async fn mt_no_reply(&self, request: Request<()>) -> Result<(), Status> {
        let _ = self.no_reply_calls.send(format!(
            "{} {}",
            self.label,
            request.param("clientid").unwrap_or("?")
        ));
        Ok(())
    }

    async fn mt_poll(
        &self,
        request: Request<StringArg>,
    ) -> Result<Response<SimpleStringReply>, Status> {
        let arg = request.into_inner().arg1;
        if arg == "fail" {
            return Err(Status::not_found(format!("{} has nothing", self.label)));
        }
        Ok(Response::new(SimpleStringReply {
            reply: format!("{} {arg}", self.label),
        }))
    }
}

async fn instances(
    server: &NatsServer,
    n: usize,
) -> (Vec<ServerHandle>, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut handles = Vec::new();
    for i in 0..n {
        let svc = Instance {
            label: format!("i{i}"),
            no_reply_calls: tx.clone(),
        };
        handles.push(serve(server, SvcSubjectParamsServer::new(svc)).await);
    }
    (handles, rx)
}

fn patient() -> BroadcastOptions {
    // Long enough for a loaded CI machine; the stream ends earlier when
    // nobody is there (no responders).
    BroadcastOptions::new()
        .idle_gap(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
}

async fn poll_all(
    client: &SvcSubjectParamsClient,
    arg: &str,
) -> Vec<nrpc_runtime::BroadcastReply<SimpleStringReply>> {
    let stream = within(
        "broadcast",
        client.mt_poll_broadcast(&StringArg { arg1: arg.into() }, patient()),
    )
    .await
    .unwrap();
    within("broadcast replies", stream.collect::<Vec<_>>()).await
}

#[tokio::test]
async fn broadcast_reaches_every_instance_exactly_once() {
    let server = nats_server();
    let (mut handles, _rx) = instances(&server, 3).await;
    let ids: HashSet<String> = handles.iter().map(|h| h.instance_id().to_owned()).collect();
    let client = SvcSubjectParamsClient::new(connection(&server).await, "default", "me").unwrap();

    let replies = poll_all(&client, "hi").await;
    assert_eq!(replies.len(), 3, "{replies:?}");
    let got: HashSet<String> = replies.iter().map(|r| r.instance.clone()).collect();
    assert_eq!(got, ids, "one reply per instance, each with its id");
    let labels: HashSet<String> = replies
        .into_iter()
        .map(|r| r.result.unwrap().into_inner().reply)
        .collect();
    assert_eq!(
        labels,
        HashSet::from(["i0 hi".into(), "i1 hi".into(), "i2 hi".into()])
    );

    // The same instances still share ordinary calls through the queue group.
    let reply = within("unary", client.mt_poll(&StringArg { arg1: "one".into() }))
        .await
        .unwrap();
    assert!(reply.reply.ends_with(" one"));

    // Errors arrive per instance.
    let replies = poll_all(&client, "fail").await;
    assert_eq!(replies.len(), 3);
    for r in &replies {
        let status = r.result.as_ref().unwrap_err().status().unwrap();
        assert_eq!(status.code(), nrpc_runtime::Code::NotFound);
    }

    // One instance gone: two replies.
    handles.pop().unwrap().shutdown().await;
    assert_eq!(poll_all(&client, "hi").await.len(), 2);

    // None: an empty result at once (no responders), not an error.
    for h in handles {
        h.shutdown().await;
    }
    let long_idle = BroadcastOptions::new()
        .idle_gap(Duration::from_secs(600))
        .timeout(Duration::from_secs(600));
    let stream = client
        .mt_poll_broadcast(&StringArg::default(), long_idle)
        .await
        .unwrap();
    let replies = within("empty broadcast", stream.collect::<Vec<_>>()).await;
    assert!(replies.is_empty());
}

#[tokio::test]
async fn broadcast_stops_at_max_replies() {
    let server = nats_server();
    let (_handles, _rx) = instances(&server, 3).await;
    let client = SvcSubjectParamsClient::new(connection(&server).await, "default", "me").unwrap();
    let stream = client
        .mt_poll_broadcast(&StringArg::default(), patient().max_replies(2))
        .await
        .unwrap();
    assert_eq!(
        within("2 replies", stream.collect::<Vec<_>>()).await.len(),
        2
    );
}

#[tokio::test]
async fn broadcast_to_a_method_without_polling_is_refused() {
    let server = nats_server();
    let (_handles, _rx) = instances(&server, 1).await;
    // Forge a broadcast of a non-polling method with a raw request.
    let raw = nats(&server).await;
    let msg = within(
        "raw",
        raw.request(
            "_NRPC.all.root.default.svcsubjectparams.me.mtwithsubjectparams.a.b",
            "".into(),
        ),
    )
    .await
    .unwrap();
    let frame = nrpc_wire::ErrorFrame::decode(nrpc_runtime::Encoding::Protobuf, &msg.payload)
        .unwrap()
        .expect("error reply");
    assert!(
        frame.message.contains("does not accept broadcast"),
        "{}",
        frame.message
    );
}

#[tokio::test]
async fn direct_calls_reach_only_the_chosen_instance() {
    let server = nats_server();
    let (handles, _rx) = instances(&server, 3).await;
    let client = SvcSubjectParamsClient::new(connection(&server).await, "default", "me").unwrap();
    // Pick an instance from a broadcast reply, as a user would.
    let replies = poll_all(&client, "x").await;
    let chosen = &replies[1];
    let label = chosen
        .result
        .as_ref()
        .unwrap()
        .get_ref()
        .reply
        .replace(" x", "");
    let direct = client.clone().with_instance(&chosen.instance).unwrap();
    for _ in 0..30 {
        let reply = within("direct", direct.mt_with_subject_params("a", "b"))
            .await
            .unwrap();
        assert_eq!(reply.reply, label);
    }
    // An id nobody has: no responders.
    let nobody = client.clone().with_instance("NOSUCHINSTANCE").unwrap();
    let err = within("nobody", nobody.mt_with_subject_params("a", "b"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, nrpc_runtime::CallError::NoResponders { .. }),
        "{err:?}"
    );
    assert!(client.clone().with_instance("bad.id").is_err());
    drop(handles);
}

#[tokio::test]
async fn fire_and_forget_runs_once_and_is_never_answered() {
    let server = nats_server();
    let (_handles, mut rx) = instances(&server, 2).await;
    let client = SvcSubjectParamsClient::new(connection(&server).await, "default", "c42").unwrap();
    within("send", client.mt_no_reply()).await.unwrap();
    let call = within("handler", rx.recv()).await.unwrap();
    assert!(call.ends_with(" c42"), "{call}");

    // Even a request that asks for a reply gets none: the caller times out.
    let raw = nats(&server).await;
    let asked = tokio::time::timeout(
        Duration::from_millis(500),
        raw.request("root.default.svcsubjectparams.c7.mtnoreply", "".into()),
    )
    .await;
    assert!(
        asked.is_err() || asked.unwrap().is_err(),
        "a NoReply method must not answer"
    );
    let call = within("handler", rx.recv()).await.unwrap();
    assert!(call.ends_with(" c7"), "{call}");
}

#[tokio::test]
async fn events_reach_every_subscriber_or_one_per_queue_group() {
    let server = nats_server();
    let conn = connection(&server).await;
    let client = SvcCustomSubjectClient::new(conn.clone(), "default").unwrap();
    let mut plain_a = client.subscribe_mt_no_request(None).await.unwrap();
    let mut plain_b = client.subscribe_mt_no_request(None).await.unwrap();
    let queue_a = client
        .subscribe_mt_no_request(Some("workers"))
        .await
        .unwrap();
    let queue_b = client
        .subscribe_mt_no_request(Some("workers"))
        .await
        .unwrap();

    let publisher = SvcCustomSubjectEvents::new(connection(&server).await, "default").unwrap();
    for i in 0..10 {
        let event = SimpleStringReply {
            reply: format!("e{i}"),
        };
        publisher.publish_mt_no_request(&event).await.unwrap();
    }
    for i in 0..10 {
        let a = within("plain a", plain_a.next()).await.unwrap().unwrap();
        let b = within("plain b", plain_b.next()).await.unwrap().unwrap();
        assert_eq!(
            (a.reply.as_str(), b.reply.as_str()),
            (format!("e{i}").as_str(), format!("e{i}").as_str())
        );
    }
    let mut queue = futures::stream::select(queue_a, queue_b);
    let mut seen = HashSet::new();
    for _ in 0..10 {
        let e = within("queue member", queue.next()).await.unwrap().unwrap();
        assert!(
            seen.insert(e.reply),
            "each event reaches one member of the group"
        );
    }
    assert_eq!(seen.len(), 10);
}
