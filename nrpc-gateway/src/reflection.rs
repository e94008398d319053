//! gRPC server reflection (`grpc.reflection.v1` and `v1alpha`, which
//! grpcurl and other tools ask) over the gateway's catalog: the services
//! that answer discovery, and each one's descriptors from its published
//! schema or `.proto` files. A service is learned when a tool first asks
//! for it, as when it is first called.

use std::collections::HashSet;
use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt};
use nrpc_runtime::discovery::Discovery;
use prost::Message as _;
use prost_reflect::{DescriptorPool, FileDescriptor};

use crate::catalog::Catalog;
use crate::expose::Exposure;

/// What a reflection request asks, whichever version of the protocol.
enum Ask {
    FileByFilename(String),
    FileContainingSymbol(String),
    Extensions(String),
    ListServices,
    Unsupported,
}

/// The answer, whichever version of the protocol.
enum Answer {
    /// Encoded `FileDescriptorProto`s: the one asked for, then the files
    /// it depends on.
    Files(Vec<Vec<u8>>),
    Services(Vec<String>),
    /// No extensions are known (grpcurl expects an answer, not an error).
    Extensions(String),
    NotFound(String),
}

const REFLECTION_SERVICES: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Whether `service` is one of the reflection services.
pub(crate) fn is_reflection(service: &str) -> bool {
    REFLECTION_SERVICES.contains(&service)
}

/// `file` and every file it imports, each once, encoded, without the
/// services and methods that are not exposed.
fn with_dependencies(file: FileDescriptor, exposure: &Exposure) -> Vec<Vec<u8>> {
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    let mut stack = vec![file];
    while let Some(f) = stack.pop() {
        if !seen.insert(f.name().to_owned()) {
            continue;
        }
        stack.extend(f.dependencies());
        let mut proto = f.file_descriptor_proto().clone();
        if !exposure.is_everything() {
            let package = proto.package().to_owned();
            proto.service.retain_mut(|service| {
                let full = match package.as_str() {
                    "" => service.name().to_owned(),
                    p => format!("{p}.{}", service.name()),
                };
                service.method.retain(|m| exposure.method(&full, m.name()));
                !service.method.is_empty()
            });
        }
        order.push(proto.encode_to_vec());
    }
    order
}

async fn answer(catalog: &Arc<Catalog>, ask: Ask) -> Answer {
    match ask {
        Ask::ListServices => {
            let discovery = Discovery::new(catalog.connection().clone())
                .with_timeout(catalog.discovery_timeout());
            let mut names: Vec<String> = discovery
                .info(None)
                .await
                .unwrap_or_default()
                .iter()
                // HTTP services over NATS are not gRPC services.
                .filter(|i| {
                    i.metadata
                        .as_ref()
                        .is_none_or(|m| !m.contains_key("nrpc.http.host"))
                })
                .map(|i| nrpc_reflect::full_name(i).to_owned())
                .chain(catalog.defined().map(|s| s.spec.name.to_string()))
                .collect();
            names.sort_unstable();
            names.dedup();
            if !catalog.exposure().is_everything() {
                // Only services with an exposed method: learn each to know.
                names.retain(|name| catalog.exposure().service(name));
                let shown = futures::future::join_all(names.iter().map(|name| async move {
                    catalog.find(name).await.is_ok_and(|t| catalog.shows(&t))
                }))
                .await;
                let mut shown = shown.into_iter();
                names.retain(|_| shown.next().unwrap_or(false));
            }
            names.extend(REFLECTION_SERVICES.iter().map(|s| (*s).to_owned()));
            Answer::Services(names)
        }
        Ask::FileByFilename(name) => find_in_pools(catalog, |pool| pool.get_file_by_name(&name))
            .map_or_else(
                || Answer::NotFound(format!("no known file {name:?}")),
                |f| Answer::Files(with_dependencies(f, catalog.exposure())),
            ),
        Ask::FileContainingSymbol(symbol) => symbol_file(catalog, &symbol).await.map_or_else(
            || Answer::NotFound(format!("no known symbol {symbol:?}")),
            |f| Answer::Files(with_dependencies(f, catalog.exposure())),
        ),
        Ask::Extensions(name) => Answer::Extensions(name),
        Ask::Unsupported => Answer::NotFound("extensions are not supported".to_owned()),
    }
}

fn find_in_pools(
    catalog: &Catalog,
    find: impl Fn(&DescriptorPool) -> Option<FileDescriptor>,
) -> Option<FileDescriptor> {
    catalog.known().iter().find_map(|t| find(&t.service.pool))
}

/// The file that defines `symbol`: a service (learned now if need be), one
/// of its methods, or a message, enum or extension of a known service.
async fn symbol_file(catalog: &Arc<Catalog>, symbol: &str) -> Option<FileDescriptor> {
    let exposure = catalog.exposure();
    let exposed = |s: &prost_reflect::ServiceDescriptor| {
        s.methods()
            .any(|m| exposure.method(s.full_name(), m.name()))
    };
    // A service or method that is not exposed is not there.
    let hidden = |pool: &DescriptorPool| {
        let (parent, name) = symbol.rsplit_once('.').unwrap_or(("", symbol));
        pool.get_service_by_name(symbol)
            .is_some_and(|s| !exposed(&s))
            || pool
                .get_service_by_name(parent)
                .is_some_and(|s| !exposure.method(s.full_name(), name))
    };
    if catalog.known().iter().any(|t| hidden(&t.service.pool)) {
        return None;
    }
    let in_pool = |pool: &DescriptorPool| {
        pool.get_service_by_name(symbol)
            .map(|s| s.parent_file())
            .or_else(|| pool.get_message_by_name(symbol).map(|m| m.parent_file()))
            .or_else(|| pool.get_enum_by_name(symbol).map(|e| e.parent_file()))
            .or_else(|| pool.get_extension_by_name(symbol).map(|e| e.parent_file()))
    };
    if let Some(file) = find_in_pools(catalog, in_pool) {
        return Some(file);
    }
    // A service or a method of one, by its full name.
    let parent = symbol.rsplit_once('.').map(|(p, _)| p);
    for service in std::iter::once(symbol).chain(parent) {
        if !catalog.exposure().service(service) {
            continue;
        }
        if let Ok(target) = catalog.find(service).await {
            if hidden(&target.service.pool) {
                return None;
            }
            if let Some(s) = target.service.pool.get_service_by_name(service) {
                return Some(s.parent_file());
            }
        }
    }
    None
}

/// One reflection service per protocol version, from the same template:
/// the two versions' messages are the same but distinct Rust types.
macro_rules! reflection_version {
    ($version:ident, $service:ident) => {
        pub(crate) mod $version {
            use super::*;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
            use tonic_reflection::pb::$version::server_reflection_server::{
                ServerReflection, ServerReflectionServer,
            };
            use tonic_reflection::pb::$version::{
                ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse,
                ListServiceResponse, ServerReflectionRequest, ServerReflectionResponse,
                ServiceResponse,
            };

            #[derive(Debug)]
            pub(crate) struct $service(pub(crate) Arc<Catalog>);

            /// The tonic service answering reflection over `catalog`.
            pub(crate) fn server(catalog: Arc<Catalog>) -> ServerReflectionServer<$service> {
                ServerReflectionServer::new($service(catalog))
            }

            fn ask(request: &ServerReflectionRequest) -> Ask {
                match &request.message_request {
                    Some(MessageRequest::FileByFilename(f)) => Ask::FileByFilename(f.clone()),
                    Some(MessageRequest::FileContainingSymbol(s)) => {
                        Ask::FileContainingSymbol(s.clone())
                    }
                    Some(MessageRequest::AllExtensionNumbersOfType(t)) => {
                        Ask::Extensions(t.clone())
                    }
                    Some(MessageRequest::ListServices(_)) => Ask::ListServices,
                    Some(MessageRequest::FileContainingExtension(_)) | None => Ask::Unsupported,
                }
            }

            fn response(
                request: ServerReflectionRequest,
                answer: Answer,
            ) -> ServerReflectionResponse {
                let message = match answer {
                    Answer::Files(file_descriptor_proto) => {
                        MessageResponse::FileDescriptorResponse(FileDescriptorResponse {
                            file_descriptor_proto,
                        })
                    }
                    Answer::Services(names) => {
                        MessageResponse::ListServicesResponse(ListServiceResponse {
                            service: names
                                .into_iter()
                                .map(|name| ServiceResponse { name })
                                .collect(),
                        })
                    }
                    Answer::Extensions(base_type_name) => {
                        MessageResponse::AllExtensionNumbersResponse(ExtensionNumberResponse {
                            base_type_name,
                            extension_number: Vec::new(),
                        })
                    }
                    Answer::NotFound(error_message) => {
                        MessageResponse::ErrorResponse(ErrorResponse {
                            error_code: tonic::Code::NotFound as i32,
                            error_message,
                        })
                    }
                };
                ServerReflectionResponse {
                    valid_host: request.host.clone(),
                    original_request: Some(request),
                    message_response: Some(message),
                }
            }

            #[tonic::async_trait]
            impl ServerReflection for $service {
                type ServerReflectionInfoStream =
                    BoxStream<'static, Result<ServerReflectionResponse, tonic::Status>>;

                async fn server_reflection_info(
                    &self,
                    request: tonic::Request<tonic::Streaming<ServerReflectionRequest>>,
                ) -> Result<tonic::Response<Self::ServerReflectionInfoStream>, tonic::Status>
                {
                    let catalog = self.0.clone();
                    // One answer per request, in order, while the client asks.
                    let answers = request.into_inner().then(move |request| {
                        let catalog = catalog.clone();
                        async move {
                            let request = request?;
                            let answer = answer(&catalog, ask(&request)).await;
                            Ok(response(request, answer))
                        }
                    });
                    Ok(tonic::Response::new(answers.boxed()))
                }
            }
        }
    };
}

reflection_version!(v1, ReflectionV1);
reflection_version!(v1alpha, ReflectionV1Alpha);
