//! A separate process serving `main.SvcCustomSubject`, so a test can kill
//! a server mid-stream. Connects to `$NATS_URL`, prints `ready`, serves
//! until killed.

use std::io::Write;

use nrpc_tests::alloptions::svc_custom_subject_server::SvcCustomSubjectServer;
use nrpc_tests::CustomSubject;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("NATS_URL")?;
    let (service, _events) = CustomSubject::new();
    let _handle = nrpc_runtime::Server::builder(async_nats::connect(url).await?)
        .add_service(SvcCustomSubjectServer::new(service))
        .serve()
        .await?;
    println!("ready");
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}
