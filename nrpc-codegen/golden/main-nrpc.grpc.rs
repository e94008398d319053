/// gRPC (tonic) for the services of this package: tonic's client and
/// server modules, and `<Service>Grpc<T>` serving the nrpc trait over gRPC.
pub mod grpc {
    /// Generated client implementations.
    pub mod svc_custom_subject_client {
        #![allow(
            unused_variables,
            dead_code,
            missing_docs,
            clippy::wildcard_imports,
            clippy::let_unit_value,
        )]
        use tonic::codegen::*;
        use tonic::codegen::http::Uri;
        /// A service with a custom subject.
        #[derive(Debug, Clone)]
        pub struct SvcCustomSubjectClient<T> {
            inner: tonic::client::Grpc<T>,
        }
        impl SvcCustomSubjectClient<tonic::transport::Channel> {
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
        impl<T> SvcCustomSubjectClient<T>
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
            ) -> SvcCustomSubjectClient<InterceptedService<T, F>>
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
                SvcCustomSubjectClient::new(InterceptedService::new(inner, interceptor))
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
            /// A method with a custom subject.
            pub async fn mt_simple_reply(
                &mut self,
                request: impl tonic::IntoRequest<super::super::StringArg>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.SvcCustomSubject/MtSimpleReply",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(GrpcMethod::new("main.SvcCustomSubject", "MtSimpleReply"));
                self.inner.unary(req, path, codec).await
            }
            /// Takes nothing, returns nothing.
            pub async fn mt_void_reply(
                &mut self,
                request: impl tonic::IntoRequest<super::super::StringArg>,
            ) -> std::result::Result<
                tonic::Response<::nrpc_runtime::proto::Void>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.SvcCustomSubject/MtVoidReply",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(GrpcMethod::new("main.SvcCustomSubject", "MtVoidReply"));
                self.inner.unary(req, path, codec).await
            }
            /// Published by the server; clients subscribe.
            pub async fn mt_no_request(
                &mut self,
                request: impl tonic::IntoRequest<::nrpc_runtime::proto::NoRequest>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.SvcCustomSubject/MtNoRequest",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(GrpcMethod::new("main.SvcCustomSubject", "MtNoRequest"));
                self.inner.unary(req, path, codec).await
            }
            /// Streams its reply.
            pub async fn mt_streamed_reply(
                &mut self,
                request: impl tonic::IntoRequest<super::super::StringArg>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.SvcCustomSubject/MtStreamedReply",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(GrpcMethod::new("main.SvcCustomSubject", "MtStreamedReply"));
                self.inner.unary(req, path, codec).await
            }
            /// Streams nothing, endlessly.
            pub async fn mt_void_req_streamed_reply(
                &mut self,
                request: impl tonic::IntoRequest<::nrpc_runtime::proto::Void>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.SvcCustomSubject/MtVoidReqStreamedReply",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(
                        GrpcMethod::new("main.SvcCustomSubject", "MtVoidReqStreamedReply"),
                    );
                self.inner.unary(req, path, codec).await
            }
        }
    }
    /// Generated server implementations.
    pub mod svc_custom_subject_server {
        #![allow(
            unused_variables,
            dead_code,
            missing_docs,
            clippy::wildcard_imports,
            clippy::let_unit_value,
        )]
        use tonic::codegen::*;
        /// Generated trait containing gRPC methods that should be implemented for use with SvcCustomSubjectServer.
        #[async_trait]
        pub trait SvcCustomSubject: std::marker::Send + std::marker::Sync + 'static {
            /// A method with a custom subject.
            async fn mt_simple_reply(
                &self,
                request: tonic::Request<super::super::StringArg>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
                tonic::Status,
            >;
            /// Takes nothing, returns nothing.
            async fn mt_void_reply(
                &self,
                request: tonic::Request<super::super::StringArg>,
            ) -> std::result::Result<
                tonic::Response<::nrpc_runtime::proto::Void>,
                tonic::Status,
            >;
            /// Published by the server; clients subscribe.
            async fn mt_no_request(
                &self,
                request: tonic::Request<::nrpc_runtime::proto::NoRequest>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
                tonic::Status,
            >;
            /// Streams its reply.
            async fn mt_streamed_reply(
                &self,
                request: tonic::Request<super::super::StringArg>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
                tonic::Status,
            >;
            /// Streams nothing, endlessly.
            async fn mt_void_req_streamed_reply(
                &self,
                request: tonic::Request<::nrpc_runtime::proto::Void>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
                tonic::Status,
            >;
        }
        /// A service with a custom subject.
        #[derive(Debug)]
        pub struct SvcCustomSubjectServer<T> {
            inner: Arc<T>,
            accept_compression_encodings: EnabledCompressionEncodings,
            send_compression_encodings: EnabledCompressionEncodings,
            max_decoding_message_size: Option<usize>,
            max_encoding_message_size: Option<usize>,
        }
        impl<T> SvcCustomSubjectServer<T> {
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
        impl<T, B> tonic::codegen::Service<http::Request<B>> for SvcCustomSubjectServer<T>
        where
            T: SvcCustomSubject,
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
                    "/main.SvcCustomSubject/MtSimpleReply" => {
                        #[allow(non_camel_case_types)]
                        struct MtSimpleReplySvc<T: SvcCustomSubject>(pub Arc<T>);
                        impl<
                            T: SvcCustomSubject,
                        > tonic::server::UnaryService<super::super::StringArg>
                        for MtSimpleReplySvc<T> {
                            type Response = super::super::SimpleStringReply;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<super::super::StringArg>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as SvcCustomSubject>::mt_simple_reply(&inner, request)
                                        .await
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
                            let method = MtSimpleReplySvc(inner);
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
                            let res = grpc.unary(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    "/main.SvcCustomSubject/MtVoidReply" => {
                        #[allow(non_camel_case_types)]
                        struct MtVoidReplySvc<T: SvcCustomSubject>(pub Arc<T>);
                        impl<
                            T: SvcCustomSubject,
                        > tonic::server::UnaryService<super::super::StringArg>
                        for MtVoidReplySvc<T> {
                            type Response = ::nrpc_runtime::proto::Void;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<super::super::StringArg>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as SvcCustomSubject>::mt_void_reply(&inner, request)
                                        .await
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
                            let method = MtVoidReplySvc(inner);
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
                            let res = grpc.unary(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    "/main.SvcCustomSubject/MtNoRequest" => {
                        #[allow(non_camel_case_types)]
                        struct MtNoRequestSvc<T: SvcCustomSubject>(pub Arc<T>);
                        impl<
                            T: SvcCustomSubject,
                        > tonic::server::UnaryService<::nrpc_runtime::proto::NoRequest>
                        for MtNoRequestSvc<T> {
                            type Response = super::super::SimpleStringReply;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<::nrpc_runtime::proto::NoRequest>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as SvcCustomSubject>::mt_no_request(&inner, request)
                                        .await
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
                            let method = MtNoRequestSvc(inner);
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
                            let res = grpc.unary(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    "/main.SvcCustomSubject/MtStreamedReply" => {
                        #[allow(non_camel_case_types)]
                        struct MtStreamedReplySvc<T: SvcCustomSubject>(pub Arc<T>);
                        impl<
                            T: SvcCustomSubject,
                        > tonic::server::UnaryService<super::super::StringArg>
                        for MtStreamedReplySvc<T> {
                            type Response = super::super::SimpleStringReply;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<super::super::StringArg>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as SvcCustomSubject>::mt_streamed_reply(&inner, request)
                                        .await
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
                            let method = MtStreamedReplySvc(inner);
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
                            let res = grpc.unary(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    "/main.SvcCustomSubject/MtVoidReqStreamedReply" => {
                        #[allow(non_camel_case_types)]
                        struct MtVoidReqStreamedReplySvc<T: SvcCustomSubject>(pub Arc<T>);
                        impl<
                            T: SvcCustomSubject,
                        > tonic::server::UnaryService<::nrpc_runtime::proto::Void>
                        for MtVoidReqStreamedReplySvc<T> {
                            type Response = super::super::SimpleStringReply;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<::nrpc_runtime::proto::Void>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as SvcCustomSubject>::mt_void_req_streamed_reply(
                                            &inner,
                                            request,
                                        )
                                        .await
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
                            let method = MtVoidReqStreamedReplySvc(inner);
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
                            let res = grpc.unary(method, req).await;
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
        impl<T> Clone for SvcCustomSubjectServer<T> {
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
        pub const SERVICE_NAME: &str = "main.SvcCustomSubject";
        impl<T> tonic::server::NamedService for SvcCustomSubjectServer<T> {
            const NAME: &'static str = SERVICE_NAME;
        }
    }
    /// Serves an implementation of [`super::svc_custom_subject_server::SvcCustomSubject`] over gRPC as well: `SvcCustomSubjectGrpc::server(implementation)` is a tonic service for `main.SvcCustomSubject` to add to a `tonic::transport::Server`, beside the same implementation served over NATS.
    #[derive(Debug)]
    pub struct SvcCustomSubjectGrpc<T> {
        inner: ::nrpc_runtime::codegen::Arc<T>,
    }
    impl<T: super::svc_custom_subject_server::SvcCustomSubject> SvcCustomSubjectGrpc<T> {
        /// The tonic service for an implementation.
        pub fn server(inner: T) -> svc_custom_subject_server::SvcCustomSubjectServer<Self> {
            Self::from_arc(::nrpc_runtime::codegen::Arc::new(inner))
        }
        /// The tonic service for a shared implementation (the one a NATS server serves too).
        pub fn from_arc(inner: ::nrpc_runtime::codegen::Arc<T>) -> svc_custom_subject_server::SvcCustomSubjectServer<Self> {
            svc_custom_subject_server::SvcCustomSubjectServer::new(Self { inner })
        }
    }
    #[::tonic::async_trait]
    impl<T: super::svc_custom_subject_server::SvcCustomSubject> svc_custom_subject_server::SvcCustomSubject for SvcCustomSubjectGrpc<T> {
        async fn mt_simple_reply(
            &self,
            request: ::tonic::Request<super::StringArg>,
        ) -> Result<::tonic::Response<super::SimpleStringReply>, ::tonic::Status> {
            let inner = self.inner.clone();
            ::nrpc_runtime::codegen::grpc::unary(
                &super::SVC_CUSTOM_SUBJECT_SPEC,
                0,
                request,
                move |request| async move { inner.mt_simple_reply(request).await },
            ).await
        }
        async fn mt_void_reply(
            &self,
            request: ::tonic::Request<super::StringArg>,
        ) -> Result<::tonic::Response<::nrpc_runtime::proto::Void>, ::tonic::Status> {
            let inner = self.inner.clone();
            ::nrpc_runtime::codegen::grpc::unary(
                &super::SVC_CUSTOM_SUBJECT_SPEC,
                1,
                request,
                move |request| async move { inner.mt_void_reply(request).await.map(|reply| reply.map(|()| Default::default())) },
            ).await
        }
        async fn mt_no_request(
            &self,
            request: ::tonic::Request<::nrpc_runtime::proto::NoRequest>,
        ) -> Result<::tonic::Response<super::SimpleStringReply>, ::tonic::Status> {
            let _ = request;
            Err(::tonic::Status::unimplemented("main.SvcCustomSubject.MtNoRequest is an event: subscribe to it over NATS"))
        }
        async fn mt_streamed_reply(
            &self,
            request: ::tonic::Request<super::StringArg>,
        ) -> Result<::tonic::Response<super::SimpleStringReply>, ::tonic::Status> {
            let _ = request;
            Err(::tonic::Status::unimplemented("main.SvcCustomSubject.MtStreamedReply: its nRPC call shape (streamed_reply) has no gRPC face; call it over NATS"))
        }
        async fn mt_void_req_streamed_reply(
            &self,
            request: ::tonic::Request<::nrpc_runtime::proto::Void>,
        ) -> Result<::tonic::Response<super::SimpleStringReply>, ::tonic::Status> {
            let _ = request;
            Err(::tonic::Status::unimplemented("main.SvcCustomSubject.MtVoidReqStreamedReply: its nRPC call shape (streamed_reply) has no gRPC face; call it over NATS"))
        }
    }
    /// Generated client implementations.
    pub mod svc_subject_params_client {
        #![allow(
            unused_variables,
            dead_code,
            missing_docs,
            clippy::wildcard_imports,
            clippy::let_unit_value,
        )]
        use tonic::codegen::*;
        use tonic::codegen::http::Uri;
        /// A service with subject parameters at the service and method level.
        #[derive(Debug, Clone)]
        pub struct SvcSubjectParamsClient<T> {
            inner: tonic::client::Grpc<T>,
        }
        impl SvcSubjectParamsClient<tonic::transport::Channel> {
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
        impl<T> SvcSubjectParamsClient<T>
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
            ) -> SvcSubjectParamsClient<InterceptedService<T, F>>
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
                SvcSubjectParamsClient::new(InterceptedService::new(inner, interceptor))
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
            /// Takes two method parameters.
            pub async fn mt_with_subject_params(
                &mut self,
                request: impl tonic::IntoRequest<::nrpc_runtime::proto::Void>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.SvcSubjectParams/MtWithSubjectParams",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(GrpcMethod::new("main.SvcSubjectParams", "MtWithSubjectParams"));
                self.inner.unary(req, path, codec).await
            }
            /// Fire and forget.
            pub async fn mt_no_reply(
                &mut self,
                request: impl tonic::IntoRequest<::nrpc_runtime::proto::Void>,
            ) -> std::result::Result<
                tonic::Response<::nrpc_runtime::proto::NoReply>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.SvcSubjectParams/MtNoReply",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(GrpcMethod::new("main.SvcSubjectParams", "MtNoReply"));
                self.inner.unary(req, path, codec).await
            }
            /// Every instance may answer.
            pub async fn mt_poll(
                &mut self,
                request: impl tonic::IntoRequest<super::super::StringArg>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.SvcSubjectParams/MtPoll",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(GrpcMethod::new("main.SvcSubjectParams", "MtPoll"));
                self.inner.unary(req, path, codec).await
            }
        }
    }
    /// Generated server implementations.
    pub mod svc_subject_params_server {
        #![allow(
            unused_variables,
            dead_code,
            missing_docs,
            clippy::wildcard_imports,
            clippy::let_unit_value,
        )]
        use tonic::codegen::*;
        /// Generated trait containing gRPC methods that should be implemented for use with SvcSubjectParamsServer.
        #[async_trait]
        pub trait SvcSubjectParams: std::marker::Send + std::marker::Sync + 'static {
            /// Takes two method parameters.
            async fn mt_with_subject_params(
                &self,
                request: tonic::Request<::nrpc_runtime::proto::Void>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
                tonic::Status,
            >;
            /// Fire and forget.
            async fn mt_no_reply(
                &self,
                request: tonic::Request<::nrpc_runtime::proto::Void>,
            ) -> std::result::Result<
                tonic::Response<::nrpc_runtime::proto::NoReply>,
                tonic::Status,
            >;
            /// Every instance may answer.
            async fn mt_poll(
                &self,
                request: tonic::Request<super::super::StringArg>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
                tonic::Status,
            >;
        }
        /// A service with subject parameters at the service and method level.
        #[derive(Debug)]
        pub struct SvcSubjectParamsServer<T> {
            inner: Arc<T>,
            accept_compression_encodings: EnabledCompressionEncodings,
            send_compression_encodings: EnabledCompressionEncodings,
            max_decoding_message_size: Option<usize>,
            max_encoding_message_size: Option<usize>,
        }
        impl<T> SvcSubjectParamsServer<T> {
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
        impl<T, B> tonic::codegen::Service<http::Request<B>> for SvcSubjectParamsServer<T>
        where
            T: SvcSubjectParams,
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
                    "/main.SvcSubjectParams/MtWithSubjectParams" => {
                        #[allow(non_camel_case_types)]
                        struct MtWithSubjectParamsSvc<T: SvcSubjectParams>(pub Arc<T>);
                        impl<
                            T: SvcSubjectParams,
                        > tonic::server::UnaryService<::nrpc_runtime::proto::Void>
                        for MtWithSubjectParamsSvc<T> {
                            type Response = super::super::SimpleStringReply;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<::nrpc_runtime::proto::Void>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as SvcSubjectParams>::mt_with_subject_params(
                                            &inner,
                                            request,
                                        )
                                        .await
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
                            let method = MtWithSubjectParamsSvc(inner);
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
                            let res = grpc.unary(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    "/main.SvcSubjectParams/MtNoReply" => {
                        #[allow(non_camel_case_types)]
                        struct MtNoReplySvc<T: SvcSubjectParams>(pub Arc<T>);
                        impl<
                            T: SvcSubjectParams,
                        > tonic::server::UnaryService<::nrpc_runtime::proto::Void>
                        for MtNoReplySvc<T> {
                            type Response = ::nrpc_runtime::proto::NoReply;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<::nrpc_runtime::proto::Void>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as SvcSubjectParams>::mt_no_reply(&inner, request).await
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
                            let method = MtNoReplySvc(inner);
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
                            let res = grpc.unary(method, req).await;
                            Ok(res)
                        };
                        Box::pin(fut)
                    }
                    "/main.SvcSubjectParams/MtPoll" => {
                        #[allow(non_camel_case_types)]
                        struct MtPollSvc<T: SvcSubjectParams>(pub Arc<T>);
                        impl<
                            T: SvcSubjectParams,
                        > tonic::server::UnaryService<super::super::StringArg>
                        for MtPollSvc<T> {
                            type Response = super::super::SimpleStringReply;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<super::super::StringArg>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as SvcSubjectParams>::mt_poll(&inner, request).await
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
                            let method = MtPollSvc(inner);
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
                            let res = grpc.unary(method, req).await;
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
        impl<T> Clone for SvcSubjectParamsServer<T> {
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
        pub const SERVICE_NAME: &str = "main.SvcSubjectParams";
        impl<T> tonic::server::NamedService for SvcSubjectParamsServer<T> {
            const NAME: &'static str = SERVICE_NAME;
        }
    }
    /// Serves an implementation of [`super::svc_subject_params_server::SvcSubjectParams`] over gRPC as well: `SvcSubjectParamsGrpc::server(implementation)` is a tonic service for `main.SvcSubjectParams` to add to a `tonic::transport::Server`, beside the same implementation served over NATS.
    #[derive(Debug)]
    pub struct SvcSubjectParamsGrpc<T> {
        inner: ::nrpc_runtime::codegen::Arc<T>,
    }
    impl<T: super::svc_subject_params_server::SvcSubjectParams> SvcSubjectParamsGrpc<T> {
        /// The tonic service for an implementation.
        pub fn server(inner: T) -> svc_subject_params_server::SvcSubjectParamsServer<Self> {
            Self::from_arc(::nrpc_runtime::codegen::Arc::new(inner))
        }
        /// The tonic service for a shared implementation (the one a NATS server serves too).
        pub fn from_arc(inner: ::nrpc_runtime::codegen::Arc<T>) -> svc_subject_params_server::SvcSubjectParamsServer<Self> {
            svc_subject_params_server::SvcSubjectParamsServer::new(Self { inner })
        }
    }
    #[::tonic::async_trait]
    impl<T: super::svc_subject_params_server::SvcSubjectParams> svc_subject_params_server::SvcSubjectParams for SvcSubjectParamsGrpc<T> {
        async fn mt_with_subject_params(
            &self,
            request: ::tonic::Request<::nrpc_runtime::proto::Void>,
        ) -> Result<::tonic::Response<super::SimpleStringReply>, ::tonic::Status> {
            let inner = self.inner.clone();
            ::nrpc_runtime::codegen::grpc::unary(
                &super::SVC_SUBJECT_PARAMS_SPEC,
                0,
                request.map(|_| ()),
                move |request| async move { inner.mt_with_subject_params(request).await },
            ).await
        }
        async fn mt_no_reply(
            &self,
            request: ::tonic::Request<::nrpc_runtime::proto::Void>,
        ) -> Result<::tonic::Response<::nrpc_runtime::proto::NoReply>, ::tonic::Status> {
            let inner = self.inner.clone();
            ::nrpc_runtime::codegen::grpc::unary(
                &super::SVC_SUBJECT_PARAMS_SPEC,
                1,
                request.map(|_| ()),
                move |request| async move { inner.mt_no_reply(request).await.map(|()| ::nrpc_runtime::codegen::Response::new(Default::default())) },
            ).await
        }
        async fn mt_poll(
            &self,
            request: ::tonic::Request<super::StringArg>,
        ) -> Result<::tonic::Response<super::SimpleStringReply>, ::tonic::Status> {
            let inner = self.inner.clone();
            ::nrpc_runtime::codegen::grpc::unary(
                &super::SVC_SUBJECT_PARAMS_SPEC,
                2,
                request,
                move |request| async move { inner.mt_poll(request).await },
            ).await
        }
    }
    /// Generated client implementations.
    pub mod no_request_service_client {
        #![allow(
            unused_variables,
            dead_code,
            missing_docs,
            clippy::wildcard_imports,
            clippy::let_unit_value,
        )]
        use tonic::codegen::*;
        use tonic::codegen::http::Uri;
        /// Generated with neither options nor params: the package prefix still applies.
        #[derive(Debug, Clone)]
        pub struct NoRequestServiceClient<T> {
            inner: tonic::client::Grpc<T>,
        }
        impl NoRequestServiceClient<tonic::transport::Channel> {
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
        impl<T> NoRequestServiceClient<T>
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
            ) -> NoRequestServiceClient<InterceptedService<T, F>>
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
                NoRequestServiceClient::new(InterceptedService::new(inner, interceptor))
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
            pub async fn mt_no_request(
                &mut self,
                request: impl tonic::IntoRequest<::nrpc_runtime::proto::NoRequest>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
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
                let path = http::uri::PathAndQuery::from_static(
                    "/main.NoRequestService/MtNoRequest",
                );
                let mut req = request.into_request();
                req.extensions_mut()
                    .insert(GrpcMethod::new("main.NoRequestService", "MtNoRequest"));
                self.inner.unary(req, path, codec).await
            }
        }
    }
    /// Generated server implementations.
    pub mod no_request_service_server {
        #![allow(
            unused_variables,
            dead_code,
            missing_docs,
            clippy::wildcard_imports,
            clippy::let_unit_value,
        )]
        use tonic::codegen::*;
        /// Generated trait containing gRPC methods that should be implemented for use with NoRequestServiceServer.
        #[async_trait]
        pub trait NoRequestService: std::marker::Send + std::marker::Sync + 'static {
            async fn mt_no_request(
                &self,
                request: tonic::Request<::nrpc_runtime::proto::NoRequest>,
            ) -> std::result::Result<
                tonic::Response<super::super::SimpleStringReply>,
                tonic::Status,
            >;
        }
        /// Generated with neither options nor params: the package prefix still applies.
        #[derive(Debug)]
        pub struct NoRequestServiceServer<T> {
            inner: Arc<T>,
            accept_compression_encodings: EnabledCompressionEncodings,
            send_compression_encodings: EnabledCompressionEncodings,
            max_decoding_message_size: Option<usize>,
            max_encoding_message_size: Option<usize>,
        }
        impl<T> NoRequestServiceServer<T> {
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
        impl<T, B> tonic::codegen::Service<http::Request<B>> for NoRequestServiceServer<T>
        where
            T: NoRequestService,
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
                    "/main.NoRequestService/MtNoRequest" => {
                        #[allow(non_camel_case_types)]
                        struct MtNoRequestSvc<T: NoRequestService>(pub Arc<T>);
                        impl<
                            T: NoRequestService,
                        > tonic::server::UnaryService<::nrpc_runtime::proto::NoRequest>
                        for MtNoRequestSvc<T> {
                            type Response = super::super::SimpleStringReply;
                            type Future = BoxFuture<
                                tonic::Response<Self::Response>,
                                tonic::Status,
                            >;
                            fn call(
                                &mut self,
                                request: tonic::Request<::nrpc_runtime::proto::NoRequest>,
                            ) -> Self::Future {
                                let inner = Arc::clone(&self.0);
                                let fut = async move {
                                    <T as NoRequestService>::mt_no_request(&inner, request)
                                        .await
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
                            let method = MtNoRequestSvc(inner);
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
                            let res = grpc.unary(method, req).await;
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
        impl<T> Clone for NoRequestServiceServer<T> {
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
        pub const SERVICE_NAME: &str = "main.NoRequestService";
        impl<T> tonic::server::NamedService for NoRequestServiceServer<T> {
            const NAME: &'static str = SERVICE_NAME;
        }
    }
    /// Serves an implementation of [`super::no_request_service_server::NoRequestService`] over gRPC as well: `NoRequestServiceGrpc::server(implementation)` is a tonic service for `main.NoRequestService` to add to a `tonic::transport::Server`, beside the same implementation served over NATS.
    #[derive(Debug)]
    pub struct NoRequestServiceGrpc<T> {
        #[allow(dead_code)] // no method is served over gRPC
        inner: ::nrpc_runtime::codegen::Arc<T>,
    }
    impl<T: super::no_request_service_server::NoRequestService> NoRequestServiceGrpc<T> {
        /// The tonic service for an implementation.
        pub fn server(inner: T) -> no_request_service_server::NoRequestServiceServer<Self> {
            Self::from_arc(::nrpc_runtime::codegen::Arc::new(inner))
        }
        /// The tonic service for a shared implementation (the one a NATS server serves too).
        pub fn from_arc(inner: ::nrpc_runtime::codegen::Arc<T>) -> no_request_service_server::NoRequestServiceServer<Self> {
            no_request_service_server::NoRequestServiceServer::new(Self { inner })
        }
    }
    #[::tonic::async_trait]
    impl<T: super::no_request_service_server::NoRequestService> no_request_service_server::NoRequestService for NoRequestServiceGrpc<T> {
        async fn mt_no_request(
            &self,
            request: ::tonic::Request<::nrpc_runtime::proto::NoRequest>,
        ) -> Result<::tonic::Response<super::SimpleStringReply>, ::tonic::Status> {
            let _ = request;
            Err(::tonic::Status::unimplemented("main.NoRequestService.MtNoRequest is an event: subscribe to it over NATS"))
        }
    }
}
