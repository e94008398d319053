//! A service defined in Rust with `#[nats_service]`: no .proto, same wire.
//!
//! ```text
//! cargo run -p nrpc-examples --bin rust_defined
//! ```
//!
//! Serves and calls it, then prints the `.proto` a Go or Python team would
//! generate their side from.

use std::error::Error;

use nrpc_examples::Nats;
use nrpc_runtime::prost;
use nrpc_runtime::{nats_service, ConnectOptions, Request, Response, Server, Status};

/// A hand-written prost message; `prost::Name` gives its proto name.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(prost_path = "::nrpc_runtime::prost")]
pub struct Quote {
    #[prost(string, tag = "1")]
    pub text: String,
    #[prost(uint32, tag = "2")]
    pub number: u32,
}

impl prost::Name for Quote {
    const NAME: &'static str = "Quote";
    const PACKAGE: &'static str = "quotes.v1";
}

// ANCHOR: service
/// Quotes of the day, per region.
#[nats_service(package = "quotes", service_params = ["region"], proto_package = "quotes.v1")]
pub trait Quotes {
    /// Today's quote.
    async fn today(&self) -> Result<Quote, Status>;
    /// Stores a quote; `author` travels in the subject.
    #[nrpc(params = ["author"])]
    async fn add(&self, request: Quote) -> Result<(), Status>;
}
// ANCHOR_END: service

struct Store;

impl quotes_server::Quotes for Store {
    async fn today(&self, request: Request<()>) -> Result<Response<Quote>, Status> {
        let region = request.param("region").unwrap_or("?");
        Ok(Response::new(Quote {
            text: format!("Subjects are addresses ({region})"),
            number: 1,
        }))
    }

    async fn add(&self, request: Request<Quote>) -> Result<Response<()>, Status> {
        let author = request.param("author").unwrap_or_default().to_owned();
        if request.get_ref().text.is_empty() {
            return Err(Status::invalid_argument(format!(
                "{author} sent an empty quote"
            )));
        }
        Ok(Response::new(()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let nats = Nats::from_env()?;
    let conn = ConnectOptions::new().servers(&nats.url).connect().await?;
    let server = Server::builder(&conn)
        .add_service(quotes_server::QuotesServer::new(Store))
        .serve()
        .await?;

    let client = quotes_client::QuotesClient::new(conn, "eu")?;
    println!("today: {}", client.today().await?.text);
    match client.add("ada", &Quote::default()).await {
        Err(e) => println!("add refused: {e}"),
        Ok(()) => println!("add accepted"),
    }

    println!("\n{}", quotes_proto(&["quotes/v1/messages.proto"]));
    server.shutdown().await;
    Ok(())
}
