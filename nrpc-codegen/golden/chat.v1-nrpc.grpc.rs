/// gRPC (tonic) for the services of this package: tonic's client and
/// server modules, and `<Service>Grpc<T>` serving the nrpc trait over gRPC.
pub mod grpc {
    /// Generated client implementations.
    pub mod chat_client {
        #![allow(
            unused_variables,
            dead_code,
            missing_docs,
            clippy::wildcard_imports,
            clippy::let_unit_value,
        )]
        use tonic::codegen::*;
        use tonic::codegen::http::Uri;
        /// Words in, words out.
        #[derive(Debug, Clone)]
        pub struct ChatClient<T> {
            inner: tonic::client::Grpc<T>,
        }
        impl ChatClient<tonic::transport::Channel> {
            /// Attempt to create a new client by connecting to a given endpoint.
            pub async fn connect<D>(dst: D) -> Result<Self, tonic::transport::Error>
            where
                D: TryInto<tonic::transport::Endpoint>,
                D::Error: Into<StdError>,
            {
                let conn = tonic::transport::Endpoint::new(dst)?.connect().await?;
                Ok(Self::new(conn))
            }
        }
        impl<T> ChatClient<T>
        where
            T: tonic::client::GrpcService<tonic::body::Body>,
            T::Error: Into<StdError>,
            T::ResponseBody: Body<Data = Bytes> + std::marker::Send + 'static,
            <T::ResponseBody as Body>::Error: Into<StdError> + std::marker::Send,
        {
            pub fn new(inner: T) -> Self {
                let inner = tonic::client::Grpc::new(inner);
                Self { inner }
            }
            pub fn with_origin(inner: T, origin: Uri) -> Self {
                let inner = tonic::client::Grpc::with_origin(inner, origin);
                Self { inner }
            }
            pub fn with_interceptor<F>(
                inner: T,
                interceptor: F,
            ) -> ChatClient<InterceptedService<T, F>>
            where
                F: tonic::service::Interceptor,
                T::ResponseBody: Default,
                T: tonic::codegen::Service<
                    http::Request<tonic::body::Body>,
                    Response = http::Response<
                        <T as tonic::client::GrpcService<tonic::body::Body>>::ResponseBody,
                    >,
                >,
                <T as tonic::codegen::Service<
                    http::Request<tonic::body::Body>,
                >>::Error: Into<StdError> + std::marker::Send + std::marker::Sync,
            {
                ChatClient::new(InterceptedService::new(inner, interceptor))
            }
            /// Compress requests with the given encoding.
            ///
            /// This requires the server to support it otherwise it might respond with an
            /// error.
            #[must_use]
            pub fn send_compressed(mut self, encoding: CompressionEncoding) -> Self {
                self.inner = self.inner.send_compressed(encoding);
                self
            }
            /// Enable decompressing responses.
            #[must_use]
            pub fn accept_compressed(mut self, encoding: CompressionEncoding) -> Self {
                self.inner = self.inner.accept_compressed(encoding);
                self
            }
            /// Limits the maximum size of a decoded message.
            ///
            /// Default: `4MB`
            #[must_use]
            pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
                self.inner = self.inner.max_decoding_message_size(limit);
                self
            }
            /// Limits the maximum size of an encoded message.
            ///
            /// Default: `usize::MAX`
            #[must_use]
            pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
                self.inner = self.inner.max_encoding_message_size(limit);
                self
            }
            /// Joins every word the client streams into one sentence.
            pub async fn collect(
                &mut self,
                request: impl tonic::IntoStreamingRequest<Message = super::super::Word>,
            ) -> std::result::Result<
                tonic::Response<super::super::Sentence>,
                tonic::Status,
            > {
                self.inner
                    .ready()
                    .await
                    .map_err(|e| {
                        tonic::Status::unknown(
                            format!("Service was not ready: {}", e.into()),
                        )
                    })?;
                let codec = ::nrpc_runtime::codegen::grpc::ProstCodec::default();
                let path = http::uri::PathAndQuery::from_static("/chat.v1.Chat/Collect");
                let mut req = request.into_streaming_request();
                req.extensions_mut().insert(GrpcMethod::new("chat.v1.Chat", "Collect"));
                self.inner.client_streaming(req, path, codec).await
            }
            /// Answers every word as it arrives.
            pub async fn echo(
                &mut self,
                request: impl tonic::IntoStreamingRequest<Message = super::super::Word>,
            ) -> std::result::Result<
                tonic::Response<tonic::codec::Streaming<super::super::Word>>,
                tonic::Status,
            > {
                self.inner
                    .ready()
                    .await
                    .map_err(|e| {
                        tonic::Status::unknown(
                            format!("Service was not ready: {}", e.into()),
                        )
                    })?;
                let codec = ::nrpc_runtime::codegen::grpc::ProstCodec::default();
                let path = http::uri::PathAndQuery::from_static("/chat.v1.Chat/Echo");
                let mut req = request.into_streaming_request();
                req.extensions_mut().insert(GrpcMethod::new("chat.v1.Chat", "Echo"));
                self.inner.streaming(req, path, codec).await
            }
            /// Spells a word letter by letter.
            pub async fn spell(
                &mut self,
                request: impl tonic::IntoRequest<super::super::Word>,
            ) -> std::result::Result<
                tonic::Response<tonic::codec::Streaming<super::super::Word>>,
                tonic::Status,
            > {
                self.inner
                    .ready()
                    .await
                    .map_err(|e| {
                        tonic::Status::unknown(
                            format!("Service was not ready: {}", e.into()),
                        )
                    })?;
                let codec = ::nrpc_runtime::codegen::grpc::ProstCodec::default();
                let path = http::uri::PathAndQuery::from_static("/chat.v1.Chat/Spell");
                let mut req = request.into_request();
                req.extensions_mut().insert(GrpcMethod::new("chat.v1.Chat", "Spell"));
                self.inner.server_streaming(req, path, codec).await
            }
        }
    }
    /// Generated server implementations.
    pub mod chat_server {
        #![allow(
            unused_variables,
            dead_code,
            missing_docs,
            clippy::wildcard_imports,
            clippy::let_unit_value,
        )]
        use tonic::codegen::*;
        /// Generated trait containing gRPC methods that should be implemented for use with ChatServer.
        #[async_trait]
        pub trait Chat: std::marker::Send + std::marker::Sync + 'static {
            /// Joins every word the client streams into one sentence.
            async fn collect(
                &self,
                request: tonic::Request<tonic::Streaming<super::super::Word>>,
            ) -> std::result::Result<tonic::Response<super::super::Sentence>, tonic::Status>;
            /// Server streaming response type for the Echo method.
            type EchoStream: tonic::codegen::tokio_stream::Stream<
                    Item = std::result::Result<super::super::Word, tonic::Status>,
                >
                + std::marker::Send
                + 'static;
            /// Answers every word as it arrives.
            async fn echo(
                &self,
                request: tonic::Request<tonic::Streaming<super::super::Word>>,
            ) -> std::result::Result<tonic::Response<Self::EchoStream>, tonic::Status>;
            /// Server streaming response type for the Spell method.
            type SpellStream: tonic::codegen::tokio_stream::Stream<
                    Item = std::result::Result<super::super::Word, tonic::Status>,
                >
                + std::marker::Send
                + 'static;
            /// Spells a word letter by letter.
            async fn spell(
                &self,
                request: tonic::Request<super::super::Word>,
            ) -> std::result::Result<tonic::Response<Self::SpellStream>, tonic::Status>;
        }
        /// Words in, words out.
        #[derive(Debug)]
        pub struct ChatServer<T> {
            inner: Arc<T>,
            accept_compression_encodings: EnabledCompressionEncodings,
            send_compression_encodings: EnabledCompressionEncodings,
            max_decoding_message_size: Option<usize>,
            max_encoding_message_size: Option<usize>,
        }
        impl<T> ChatServer<T> {
            pub fn new(inner: T) -> Self {
                Self::from_arc(Arc::new(inner))
            }
            pub fn from_arc(inner: Arc<T>) -> Self {
                Self {
                    inner,
                    accept_compression_encodings: Default::default(),
                    send_compression_encodings: Default::default(),
                    max_decoding_message_size: None,
                    max_encoding_message_size: None,
                }
            }
            pub fn with_interceptor<F>(
                inner: T,
                interceptor: F,
            ) -> InterceptedService<Self, F>
            where
                F: tonic::service::Interceptor,
            {
                InterceptedService::new(Self::new(inner), interceptor)
            }
            /// Enable decompressing requests with the given encoding.
            #[must_use]
            pub fn accept_compressed(mut self, encoding: CompressionEncoding) -> Self {
                self.accept_compression_encodings.enable(encoding);
                self
            }
            /// Compress responses with the given encoding, if the client supports it.
            #[must_use]
            pub fn send_compressed(mut self, encoding: CompressionEncoding) -> Self {
                self.send_compression_encodings.enable(encoding);
                self
            }
            /// Limits the maximum size of a decoded message.
            ///
            /// Default: `4MB`
            #[must_use]
            pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
                self.max_decoding_message_size = Some(limit);
                self
            }
            /// Limits the maximum size of an encoded message.
            ///
            /// Default: `usize::MAX`
            #[must_use]
            pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
                self.max_encoding_message_size = Some(limit);
                self
            }
        }
        impl<T, B> tonic::codegen::Service<http::Request<B>> for ChatServer<T>
        where
            T: Chat,
            B: Body + std::marker::Send + 'static,
            B::Error: Into<StdError> + std::marker::Send + 'static,
        {
            type Response = http::Response<tonic::body::Body>;
            type Error = std::convert::Infallible;
            type Future = BoxFuture<Self::Response, Self::Error>;
            fn poll_ready(
                &mut self,
                _cx: &mut Context<'_>,
            ) -> Poll<std::result::Result<(), Self::Error>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, req: http::Request<B>) -> Self::Future {
                match req.uri().path() {
                    "/chat.v1.Chat/Collect" => {
                        #[allow(non_camel_case_types)]
                        struct CollectSvc<T: Chat>(pub Arc<T>);
                        impl<
                            T: Chat,
                        > tonic::server::ClientStreamingService<super::super::Word>
                        for CollectSvc<T> {
                            type Response = super::super::Sentence;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<tonic::Streaming<super::super::Word>>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as Chat>::collect(&inner, request).await
                                };
                                Box::pin(fut)
                            }
                        }
                        let accept_compression_encodings = self.accept_compression_encodings;
                        let send_compression_encodings = self.send_compression_encodings;
                        let max_decoding_message_size = self.max_decoding_message_size;
                        let max_encoding_message_size = self.max_encoding_message_size;
                        let inner = self.inner.clone();
                        let fut = async move {
                            let method = CollectSvc(inner);
                            let codec = ::nrpc_runtime::codegen::grpc::ProstCodec::default();
                            let mut grpc = tonic::server::Grpc::new(codec)
                                .apply_compression_config(
                                    accept_compression_encodings,
                                    send_compression_encodings,
                                )
                                .apply_max_message_size_config(
                                    max_decoding_message_size,
                                    max_encoding_message_size,
                                );
                            let res = grpc.client_streaming(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    "/chat.v1.Chat/Echo" => {
                        #[allow(non_camel_case_types)]
                        struct EchoSvc<T: Chat>(pub Arc<T>);
                        impl<T: Chat> tonic::server::StreamingService<super::super::Word>
                        for EchoSvc<T> {
                            type Response = super::super::Word;
                            type ResponseStream = T::EchoStream;
                            type Future = BoxFuture<
                                tonic::Response<Self::ResponseStream>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<tonic::Streaming<super::super::Word>>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as Chat>::echo(&inner, request).await
                                };
                                Box::pin(fut)
                            }
                        }
                        let accept_compression_encodings = self.accept_compression_encodings;
                        let send_compression_encodings = self.send_compression_encodings;
                        let max_decoding_message_size = self.max_decoding_message_size;
                        let max_encoding_message_size = self.max_encoding_message_size;
                        let inner = self.inner.clone();
                        let fut = async move {
                            let method = EchoSvc(inner);
                            let codec = ::nrpc_runtime::codegen::grpc::ProstCodec::default();
                            let mut grpc = tonic::server::Grpc::new(codec)
                                .apply_compression_config(
                                    accept_compression_encodings,
                                    send_compression_encodings,
                                )
                                .apply_max_message_size_config(
                                    max_decoding_message_size,
                                    max_encoding_message_size,
                                );
                            let res = grpc.streaming(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    "/chat.v1.Chat/Spell" => {
                        #[allow(non_camel_case_types)]
                        struct SpellSvc<T: Chat>(pub Arc<T>);
                        impl<
                            T: Chat,
                        > tonic::server::ServerStreamingService<super::super::Word>
                        for SpellSvc<T> {
                            type Response = super::super::Word;
                            type ResponseStream = T::SpellStream;
                            type Future = BoxFuture<
                                tonic::Response<Self::ResponseStream>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<super::super::Word>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as Chat>::spell(&inner, request).await
                                };
                                Box::pin(fut)
                            }
                        }
                        let accept_compression_encodings = self.accept_compression_encodings;
                        let send_compression_encodings = self.send_compression_encodings;
                        let max_decoding_message_size = self.max_decoding_message_size;
                        let max_encoding_message_size = self.max_encoding_message_size;
                        let inner = self.inner.clone();
                        let fut = async move {
                            let method = SpellSvc(inner);
                            let codec = ::nrpc_runtime::codegen::grpc::ProstCodec::default();
                            let mut grpc = tonic::server::Grpc::new(codec)
                                .apply_compression_config(
                                    accept_compression_encodings,
                                    send_compression_encodings,
                                )
                                .apply_max_message_size_config(
                                    max_decoding_message_size,
                                    max_encoding_message_size,
                                );
                            let res = grpc.server_streaming(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    _ => {
                        Box::pin(async move {
                            let mut response = http::Response::new(
                                tonic::body::Body::default(),
                            );
                            let headers = response.headers_mut();
                            headers
                                .insert(
                                    tonic::Status::GRPC_STATUS,
                                    (tonic::Code::Unimplemented as i32).into(),
                                );
                            headers
                                .insert(
                                    http::header::CONTENT_TYPE,
                                    tonic::metadata::GRPC_CONTENT_TYPE,
                                );
                            Ok(response)
                        })
                    }
                }
            }
        }
        impl<T> Clone for ChatServer<T> {
            fn clone(&self) -> Self {
                let inner = self.inner.clone();
                Self {
                    inner,
                    accept_compression_encodings: self.accept_compression_encodings,
                    send_compression_encodings: self.send_compression_encodings,
                    max_decoding_message_size: self.max_decoding_message_size,
                    max_encoding_message_size: self.max_encoding_message_size,
                }
            }
        }
        /// Generated gRPC service name
        pub const SERVICE_NAME: &str = "chat.v1.Chat";
        impl<T> tonic::server::NamedService for ChatServer<T> {
            const NAME: &'static str = SERVICE_NAME;
        }
    }
    /// Serves an implementation of [`super::chat_server::Chat`] over gRPC as well: `ChatGrpc::server(implementation)` is a tonic service for `chat.v1.Chat` to add to a `tonic::transport::Server`, beside the same implementation served over NATS.
    #[derive(Debug)]
    pub struct ChatGrpc<T> {
        inner: ::nrpc_runtime::codegen::Arc<T>,
    }
    impl<T: super::chat_server::Chat> ChatGrpc<T> {
        /// The tonic service for an implementation.
        pub fn server(inner: T) -> chat_server::ChatServer<Self> {
            Self::from_arc(::nrpc_runtime::codegen::Arc::new(inner))
        }
        /// The tonic service for a shared implementation (the one a NATS server serves too).
        pub fn from_arc(inner: ::nrpc_runtime::codegen::Arc<T>) -> chat_server::ChatServer<Self> {
            chat_server::ChatServer::new(Self { inner })
        }
    }
    #[::tonic::async_trait]
    impl<T: super::chat_server::Chat> chat_server::Chat for ChatGrpc<T> {
        async fn collect(
            &self,
            request: ::tonic::Request<::tonic::Streaming<super::Word>>,
        ) -> Result<::tonic::Response<super::Sentence>, ::tonic::Status> {
            let inner = self.inner.clone();
            ::nrpc_runtime::codegen::grpc::client_stream(
                &super::CHAT_SPEC,
                0,
                request,
                move |request| async move { inner.collect(request).await },
            ).await
        }
        type EchoStream = ::nrpc_runtime::codegen::grpc::ReplyStream<super::Word>;
        async fn echo(
            &self,
            request: ::tonic::Request<::tonic::Streaming<super::Word>>,
        ) -> Result<::tonic::Response<Self::EchoStream>, ::tonic::Status> {
            let inner = self.inner.clone();
            ::nrpc_runtime::codegen::grpc::bidi_stream(
                &super::CHAT_SPEC,
                1,
                request,
                move |request, sink| async move { inner.echo(request, sink).await },
            )
        }
        type SpellStream = ::nrpc_runtime::codegen::grpc::ReplyStream<super::Word>;
        async fn spell(
            &self,
            request: ::tonic::Request<super::Word>,
        ) -> Result<::tonic::Response<Self::SpellStream>, ::tonic::Status> {
            let inner = self.inner.clone();
            ::nrpc_runtime::codegen::grpc::server_stream(
                &super::CHAT_SPEC,
                2,
                request,
                move |request, sink| async move { inner.spell(request, sink).await },
            )
        }
    }
}
