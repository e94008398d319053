//! A separate process consuming a durable command stream, so a test can
//! kill it (-9) in the middle of its handlers. Connects to `$NATS_URL`;
//! arguments: the stream, its subject, and how long each message takes
//! (milliseconds). Prints `ready` once connected, then `start <payload>` and
//! `done <payload>` for each message, until killed.

use std::io::Write;
use std::time::Duration;

use nrpc_runtime::durable::{ConsumerSpec, Durable, Policy, Start};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(stream), Some(subject), Some(work)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: durable_worker STREAM SUBJECT WORK_MS".into());
    };
    let work = Duration::from_millis(work.parse()?);
    let conn = nrpc_runtime::connect().await?;
    let spec = ConsumerSpec {
        service: "test.v1.Work".into(),
        stream,
        consumer: "nrpc".into(),
        subject,
        policy: Policy {
            ack_wait: Duration::from_secs(1),
            concurrency: 4,
            ..Policy::default()
        },
        start: Start::All,
    };
    let say = |line: String| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    // Ready before consuming: the first handler may start at once.
    say("ready".to_owned());
    let _consumer = Durable::new(&conn)
        .consume(spec, move |delivery| {
            let payload = String::from_utf8_lossy(&delivery.payload).into_owned();
            say(format!("start {payload}"));
            async move {
                tokio::time::sleep(work).await;
                say(format!("done {payload}"));
                Ok(())
            }
        })
        .await?;
    std::future::pending::<()>().await;
    Ok(())
}
