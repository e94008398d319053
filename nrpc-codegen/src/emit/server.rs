//! The `<snake>_server` module: the trait users implement and the adapter
//! the runtime serves.

use nrpc_wire::names;
use proc_macro2::TokenStream;
use quote::quote;

use super::client::{constructor, param_ident};
use super::{codec, docs, ident, nested_type, register_descriptors, spec_ident};
use crate::model::{MethodKind, Service};

pub(super) fn emit(svc: &Service) -> TokenStream {
    let module = ident(&names::server_module(&svc.name));
    let trait_name = ident(&svc.name);
    let adapter = ident(&names::server_adapter(&svc.name));
    let spec_static = spec_ident(svc);
    let register = register_descriptors(svc);
    let full_name = &svc.spec.name;

    let callable_methods: Vec<_> = svc
        .methods()
        .filter(|(_, spec, _)| spec.kind.is_callable())
        .collect();

    let trait_methods = callable_methods.iter().map(|(_, spec, m)| {
        let name = ident(&m.rust_name);
        let method_docs = docs(&m.docs);
        let input = nested_type(&m.input);
        let item = nested_type(&m.output);
        let input = if spec.kind.streams_requests() {
            quote! { __nrpc::Streaming<#input> }
        } else {
            input
        };
        let (sink, output) = match spec.kind {
            // Nothing is sent back: the handler only reports failure (logged, counted).
            MethodKind::NoReply => (quote! {}, quote! { () }),
            MethodKind::StreamedReply | MethodKind::Bidirectional => {
                (quote! { sink: __nrpc::Sink<#item>, }, quote! { () })
            }
            _ => (quote! {}, quote! { __nrpc::Response<#item> }),
        };
        quote! {
            #method_docs
            fn #name(
                &self,
                request: __nrpc::Request<#input>,
                #sink
            ) -> impl __nrpc::Future<
                Output = Result<#output, __nrpc::Status>,
            > + Send;
        }
    });

    let arms = callable_methods.iter().map(|(index, spec, m)| {
        let name = ident(&m.rust_name);
        let req_codec = codec(&m.input);
        let resp_codec = codec(&m.output);
        match spec.kind {
            MethodKind::ClientStreaming => quote! {
                #index => __nrpc::client_stream::<#req_codec, #resp_codec, _, _>(
                    call,
                    move |request| async move { inner.#name(request).await },
                ),
            },
            MethodKind::Bidirectional => quote! {
                #index => __nrpc::bidi_stream::<#req_codec, #resp_codec, _, _>(
                    call,
                    move |request, sink| async move { inner.#name(request, sink).await },
                ),
            },
            MethodKind::StreamedReply => quote! {
                #index => __nrpc::server_stream::<#req_codec, #resp_codec, _, _>(
                    call,
                    move |request, sink| async move { inner.#name(request, sink).await },
                ),
            },
            MethodKind::NoReply => quote! {
                #index => __nrpc::no_reply::<#req_codec, _, _>(
                    call,
                    move |request| async move { inner.#name(request).await },
                ),
            },
            _ => quote! {
                #index => __nrpc::unary::<#req_codec, #resp_codec, _, _>(
                    call,
                    move |request| async move { inner.#name(request).await },
                ),
            },
        }
    });

    let dispatch = if callable_methods.is_empty() {
        quote! {
            let _ = method;
            __nrpc::unimplemented(call)
        }
    } else {
        quote! {
            let inner = self.inner.clone();
            match method {
                #(#arms)*
                _ => __nrpc::unimplemented(call),
            }
        }
    };
    let events = events(svc);
    let module_doc = format!(" Server side of `{full_name}`.");
    let trait_doc =
        format!(" The methods of `{full_name}`; serve an implementation with [`{adapter}`].");
    let svc_docs = docs(&svc.docs);
    quote! {
        #[doc = #module_doc]
        pub mod #module {
            use ::nrpc_runtime::codegen as __nrpc;
            #[doc = #trait_doc]
            #[doc = ""]
            #svc_docs
            pub trait #trait_name: Send + Sync + 'static {
                #(#trait_methods)*
            }

            /// Adapter that lets an `nrpc_runtime::Server` serve the trait.
            #[derive(Debug)]
            pub struct #adapter<T> {
                inner: __nrpc::Arc<T>,
            }

            impl<T: #trait_name> #adapter<T> {
                /// Wraps an implementation.
                pub fn new(inner: T) -> Self {
                    Self::from_arc(__nrpc::Arc::new(inner))
                }

                /// Wraps a shared implementation.
                pub fn from_arc(inner: __nrpc::Arc<T>) -> Self {
                    #register
                    Self { inner }
                }

                /// The wrapped implementation.
                pub fn get_ref(&self) -> &T {
                    &self.inner
                }
            }

            impl<T: #trait_name> __nrpc::Service for #adapter<T> {
                fn spec(&self) -> &'static __nrpc::ServiceSpec {
                    &super::#spec_static
                }

                fn call(
                    &self,
                    method: usize,
                    call: __nrpc::Call,
                ) -> __nrpc::BoxFuture<
                    'static,
                    Result<__nrpc::Reply, __nrpc::Status>,
                > {
                    #dispatch
                }
            }

            #events
        }
    }
}

/// `<Svc>Events`: publishes the events of the service's `NoRequest`
/// methods, if it has any.
fn events(svc: &Service) -> TokenStream {
    let publishers: Vec<_> = svc
        .methods()
        .filter(|(_, spec, _)| spec.kind == MethodKind::NoRequest)
        .map(|(index, spec, m)| {
            let name = ident(&names::publish(&m.rust_name));
            let params: Vec<_> = spec.params.iter().map(|p| param_ident(p)).collect();
            let event = nested_type(&m.output);
            let event_codec = codec(&m.output);
            let method_docs = docs(&m.docs);
            let doc = format!(" Publishes one `{}` event to its subscribers.", spec.name);
            quote! {
                #method_docs
                #[doc = ""]
                #[doc = #doc]
                pub async fn #name(
                    &self,
                    #(#params: &str,)*
                    event: &#event,
                ) -> Result<(), __nrpc::CallError> {
                    self.inner.publish_event::<#event_codec>(#index, &[#(#params),*], event).await
                }
            }
        })
        .collect();
    if publishers.is_empty() {
        return quote! {};
    }
    let events = ident(&names::events_struct(&svc.name));
    let constructor = constructor(svc, "publisher of the events");
    let doc = format!(" Publishes the events of `{}`.", svc.spec.name);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        pub struct #events {
            inner: __nrpc::ServiceClient,
        }

        impl #events {
            #constructor

            /// Publishes in `encoding` (default protobuf; JSON for
            /// subscribers on the `.json` subjects).
            pub fn with_encoding(
                mut self,
                encoding: __nrpc::Encoding,
            ) -> Self {
                self.inner.set_encoding(encoding);
                self
            }

            #(#publishers)*
        }
    }
}
