//! A separate process serving `main.SvcCustomSubject` and a
//! `greeter.v1.Greeter` (a [`TestGreeter`] named by the first argument), so
//! a test can kill a server mid-stream or mid-traffic. Connects to
//! `$NATS_URL`, prints `ready`, serves until killed.

use std::io::Write;

use nrpc_tests::alloptions::svc_custom_subject_server::SvcCustomSubjectServer;
use nrpc_tests::greeter::greeter_server::GreeterServer;
use nrpc_tests::{CustomSubject, TestGreeter};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (service, _events) = CustomSubject::new();
    let instance = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "process".to_owned());
    let (greeter, _greeter_events) = TestGreeter::new(&instance);
    // NATS_URL, as a service reads it.
    let conn = nrpc_runtime::connect().await?;
    let _handle = nrpc_runtime::Server::builder(&conn)
        .add_service(SvcCustomSubjectServer::new(service))
        .add_service(GreeterServer::new(greeter))
        .serve()
        .await?;
    println!("ready");
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}
