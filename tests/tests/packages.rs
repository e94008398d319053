//! A crate with several protobuf packages that refer to each other, built
//! with `include_file` (tests/build.rs): the generated service uses
//! another package's message, in protobuf and JSON.

use nrpc_runtime::{Encoding, Request, Response, Status};
use nrpc_tests::shop::common::v1::Money;
use nrpc_tests::shop::orders::v1::orders_client::OrdersClient;
use nrpc_tests::shop::orders::v1::orders_server::{Orders, OrdersServer};
use nrpc_tests::shop::orders::v1::QuoteRequest;
use nrpc_tests::{connection, nats_server, serve, within};

struct Shop;

impl Orders for Shop {
    async fn quote(&self, request: Request<QuoteRequest>) -> Result<Response<Money>, Status> {
        let items = request.into_inner().items;
        let currency = items
            .first()
            .map(|m| m.currency.clone())
            .unwrap_or_default();
        if items.iter().any(|m| m.currency != currency) {
            return Err(Status::invalid_argument("one currency per order"));
        }
        Ok(Response::new(Money {
            currency,
            cents: items.iter().map(|m| m.cents).sum(),
        }))
    }
}

#[tokio::test]
async fn a_service_using_another_packages_messages() {
    let server = nats_server();
    let _h = serve(&server, OrdersServer::new(Shop)).await;
    let eur = |cents| Money {
        currency: "EUR".into(),
        cents,
    };
    let request = QuoteRequest {
        items: vec![eur(250), eur(199)],
    };
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let client = OrdersClient::new(connection(&server).await).with_encoding(encoding);
        assert_eq!(client.service_client().prefix(), "shop.Orders");
        let total = within("quote", client.quote(&request)).await.unwrap();
        assert_eq!(total, eur(449), "{encoding:?}");
    }
}
