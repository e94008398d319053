//! The `<snake>_client` module: a `Clone` client whose methods take `&self`.

use nrpc_wire::names;
use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::{codec, docs, ident, nested_type, register_descriptors, spec_ident};
use crate::model::{MessageType, MethodKind, Service};

/// A Rust argument name for a subject parameter.
pub(crate) fn param_ident(name: &str) -> Ident {
    ident(&names::param(name))
}

pub(super) fn emit(svc: &Service) -> TokenStream {
    let module = ident(&names::client_module(&svc.name));
    let client = ident(&names::client_struct(&svc.name));
    let full_name = &svc.spec.name;

    let constructor = constructor(svc, "client");

    let subjects = svc.methods().map(|(index, spec, m)| {
        let name = ident(&names::subject_fn(&m.rust_name));
        let params: Vec<Ident> = spec.params.iter().map(|p| param_ident(p)).collect();
        let doc = format!(
            " The subject of `{}` with these parameters, in `encoding` (what the client sends to, or subscribes to for events).",
            spec.name
        );
        quote! {
            #[doc = #doc]
            pub fn #name(
                &self,
                #(#params: &str,)*
                encoding: __nrpc::Encoding,
            ) -> Result<String, __nrpc::InvalidToken> {
                self.inner.subject(#index, &[#(#params),*], encoding)
            }
        }
    });

    let methods = svc.methods().map(|(index, spec, m)| {
        let name = ident(&m.rust_name);
        let plain_name = names::plain(&m.rust_name);
        let name_with = ident(&names::with_options(&m.rust_name));
        let method_docs = docs(&m.docs);
        let params: Vec<Ident> = spec.params.iter().map(|p| param_ident(p)).collect();
        let req_codec = codec(&m.input);
        let resp_codec = codec(&m.output);
        let out = nested_type(&m.output);
        let (req_arg, req_expr, req_pass) = match &m.input {
            MessageType::Void => (quote! {}, quote! { &() }, quote! {}),
            ty => {
                let t = nested_type(ty);
                (quote! { request: &#t, }, quote! { request }, quote! { request, })
            }
        };
        let with_doc = format!(
            " [`{plain_name}`](Self::{plain_name}) with per-call options; the reply keeps its metadata headers."
        );
        match spec.kind {
            MethodKind::Unary => {
                let broadcast = spec.polling.then(|| {
                    let name_broadcast = ident(&names::broadcast(&m.rust_name));
                    let doc = format!(
                        " Calls [`{plain_name}`](Self::{plain_name}) on every live instance and streams their replies, each with the instance id."
                    );
                    quote! {
                        #[doc = #doc]
                        pub async fn #name_broadcast(
                            &self,
                            #(#params: &str,)*
                            #req_arg
                            options: __nrpc::BroadcastOptions,
                        ) -> Result<
                            __nrpc::Broadcast<#out>,
                            __nrpc::CallError,
                        > {
                            self.inner
                                .broadcast::<#req_codec, #resp_codec>(#index, &[#(#params),*], #req_expr, options)
                                .await
                        }
                    }
                });
                quote! {
                    #method_docs
                    pub async fn #name(
                        &self,
                        #(#params: &str,)*
                        #req_arg
                    ) -> Result<#out, __nrpc::CallError> {
                        self.#name_with(#(#params,)* #req_pass __nrpc::CallOptions::new())
                            .await
                            .map(__nrpc::Response::into_inner)
                    }

                    #[doc = #with_doc]
                    pub async fn #name_with(
                        &self,
                        #(#params: &str,)*
                        #req_arg
                        options: __nrpc::CallOptions,
                    ) -> Result<__nrpc::Response<#out>, __nrpc::CallError> {
                        self.inner
                            .unary::<#req_codec, #resp_codec>(#index, &[#(#params),*], #req_expr, Some(options))
                            .await
                    }

                    #broadcast
                }
            }
            MethodKind::NoReply => {
                let with_doc = format!(" [`{plain_name}`](Self::{plain_name}) with per-call headers and encoding.");
                quote! {
                    #method_docs
                    #[doc = ""]
                    #[doc = " Fire-and-forget: returns once the request is handed to NATS; the server never answers."]
                    pub async fn #name(
                        &self,
                        #(#params: &str,)*
                        #req_arg
                    ) -> Result<(), __nrpc::CallError> {
                        self.inner.send::<#req_codec>(#index, &[#(#params),*], #req_expr, None).await
                    }

                    #[doc = #with_doc]
                    pub async fn #name_with(
                        &self,
                        #(#params: &str,)*
                        #req_arg
                        options: __nrpc::CallOptions,
                    ) -> Result<(), __nrpc::CallError> {
                        self.inner.send::<#req_codec>(#index, &[#(#params),*], #req_expr, Some(options)).await
                    }
                }
            }
            MethodKind::NoRequest => {
                let subscribe = ident(&names::subscribe(&m.rust_name));
                let doc = format!(
                    " Subscribes to the `{}` events the service publishes; in `queue_group`, each event reaches one member of the group.",
                    spec.name
                );
                quote! {
                    #method_docs
                    #[doc = ""]
                    #[doc = #doc]
                    pub async fn #subscribe(
                        &self,
                        #(#params: &str,)*
                        queue_group: Option<&str>,
                    ) -> Result<
                        __nrpc::BoxStream<'static, Result<#out, __nrpc::CallError>>,
                        __nrpc::CallError,
                    > {
                        self.inner.subscribe_events::<#resp_codec>(#index, &[#(#params),*], queue_group).await
                    }
                }
            }
            MethodKind::ClientStreaming | MethodKind::Bidirectional => {
                let item = nested_type(&m.input);
                let bidi = spec.kind == MethodKind::Bidirectional;
                let (ret, finish, what) = if bidi {
                    (
                        quote! { __nrpc::ReplyStream<#out> },
                        quote! { Ok(replies) },
                        "Streams `requests` to the server and its replies back",
                    )
                } else {
                    (
                        quote! { #out },
                        quote! { __nrpc::single_reply(replies).await },
                        "Streams `requests` to the server and returns its one reply",
                    )
                };
                let doc = format!(" {what}, each direction within the other side's credit; dropping the call cancels the server's handler.");
                let with_doc = format!(" [`{plain_name}`](Self::{plain_name}) with per-call options (the timeout is the inactivity timeout).");
                quote! {
                    #method_docs
                    #[doc = ""]
                    #[doc = #doc]
                    pub async fn #name(
                        &self,
                        #(#params: &str,)*
                        requests: impl __nrpc::Stream<Item = #item> + Send + 'static,
                    ) -> Result<#ret, __nrpc::CallError> {
                        self.#name_with(#(#params,)* requests, __nrpc::CallOptions::new()).await
                    }

                    #[doc = #with_doc]
                    pub async fn #name_with(
                        &self,
                        #(#params: &str,)*
                        requests: impl __nrpc::Stream<Item = #item> + Send + 'static,
                        options: __nrpc::CallOptions,
                    ) -> Result<#ret, __nrpc::CallError> {
                        let replies = self
                            .inner
                            .open_stream::<#req_codec, #resp_codec>(
                                #index,
                                &[#(#params),*],
                                __nrpc::boxed(requests),
                                Some(options),
                            )
                            .await?;
                        #finish
                    }
                }
            }
            MethodKind::StreamedReply => {
                let with_doc = format!(
                    " [`{plain_name}`](Self::{plain_name}) with per-call options (the timeout is the inactivity timeout)."
                );
                quote! {
                    #method_docs
                    #[doc = ""]
                    #[doc = " Streams the reply items in order; dropping the stream cancels the server's handler."]
                    pub async fn #name(
                        &self,
                        #(#params: &str,)*
                        #req_arg
                    ) -> Result<
                        __nrpc::ReplyStream<#out>,
                        __nrpc::CallError,
                    > {
                        self.inner
                            .server_stream::<#req_codec, #resp_codec>(#index, &[#(#params),*], #req_expr, None)
                            .await
                    }

                    #[doc = #with_doc]
                    pub async fn #name_with(
                        &self,
                        #(#params: &str,)*
                        #req_arg
                        options: __nrpc::CallOptions,
                    ) -> Result<
                        __nrpc::ReplyStream<#out>,
                        __nrpc::CallError,
                    > {
                        self.inner
                            .server_stream::<#req_codec, #resp_codec>(#index, &[#(#params),*], #req_expr, Some(options))
                            .await
                    }
                }
            }
        }
    });

    let module_doc = format!(" Client for `{full_name}`.");
    let svc_docs = docs(&svc.docs);
    quote! {
        #[doc = #module_doc]
        pub mod #module {
            use ::nrpc_runtime::codegen as __nrpc;
            #svc_docs
            #[derive(Debug, Clone)]
            pub struct #client {
                inner: __nrpc::ServiceClient,
            }

            impl #client {
                #constructor

                /// Sets the timeout of every call, also sent to the server as the call's deadline (without one: 5 s, not sent).
                pub fn with_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                    self.inner.set_timeout(timeout);
                    self
                }

                /// Sets the default payload encoding of every call.
                pub fn with_encoding(mut self, encoding: __nrpc::Encoding) -> Self {
                    self.inner.set_encoding(encoding);
                    self
                }

                /// Sets metadata headers sent with every call (per-call
                /// headers are added to them).
                pub fn with_headers(mut self, headers: __nrpc::HeaderMap) -> Self {
                    self.inner.set_headers(headers);
                    self
                }

                /// Replaces the package subject prefix (may be empty).
                pub fn with_package_subject(
                    mut self,
                    package_subject: &str,
                ) -> Result<Self, __nrpc::InvalidToken> {
                    self.inner.set_package_subject(package_subject)?;
                    Ok(self)
                }

                /// Sends every call to the instance `id` only (its NATS
                /// services id, from discovery or a broadcast reply).
                pub fn with_instance(
                    mut self,
                    id: &str,
                ) -> Result<Self, __nrpc::InvalidToken> {
                    self.inner.set_instance(id)?;
                    Ok(self)
                }

                /// Sends broadcasts to this subject (default: nrpc's routing
                /// prefix; `BroadcastVia::MethodSubject` polls Go nRPC servers).
                pub fn with_broadcast_via(
                    mut self,
                    via: __nrpc::BroadcastVia,
                ) -> Self {
                    self.inner.set_broadcast_via(via);
                    self
                }

                /// The untyped client underneath.
                pub fn service_client(&self) -> &__nrpc::ServiceClient {
                    &self.inner
                }

                #(#methods)*

                #(#subjects)*
            }
        }
    }
}

/// `new(conn, params…)` of a struct wrapping a `ServiceClient` in `inner`.
pub(super) fn constructor(svc: &Service, what: &str) -> TokenStream {
    let spec = spec_ident(svc);
    let register = register_descriptors(svc);
    let full_name = &svc.spec.name;
    let ctor_params: Vec<Ident> = svc
        .spec
        .package_params
        .iter()
        .chain(svc.spec.service_params.iter())
        .map(|p| param_ident(p))
        .collect();
    let ctor_doc = format!(" A {what} for `{full_name}` on `conn`.");
    if ctor_params.is_empty() {
        quote! {
            #[doc = #ctor_doc]
            pub fn new(conn: __nrpc::Connection) -> Self {
                #register
                let inner = __nrpc::ServiceClient::new(conn, &super::#spec, &[])
                    .expect("a service without subject parameters always has a valid subject");
                Self { inner }
            }
        }
    } else {
        let doc2 = " Fails if a parameter is not a single subject token.";
        quote! {
            #[doc = #ctor_doc]
            #[doc = ""]
            #[doc = #doc2]
            pub fn new(
                conn: __nrpc::Connection,
                #(#ctor_params: &str),*
            ) -> Result<Self, __nrpc::InvalidToken> {
                #register
                let inner = __nrpc::ServiceClient::new(
                    conn, &super::#spec, &[#(#ctor_params),*])?;
                Ok(Self { inner })
            }
        }
    }
}
