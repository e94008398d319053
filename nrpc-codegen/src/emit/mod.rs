//! The one emitter: a [`Service`] model becomes Rust tokens. Both front
//! ends (the .proto adapter and `#[nats_service]`) call [`service`].
//!
//! Generated code names only `::nrpc_runtime::codegen` (and the message
//! types), so it keeps compiling when the runtime's dependencies move;
//! the client and server modules import it as `__nrpc`.

mod client;
mod server;

use nrpc_wire::names;
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::model::{MessageType, Service};

/// Which sides to emit.
#[derive(Debug, Clone, Copy)]
pub struct Sides {
    /// Emit the `<snake>_client` module.
    pub client: bool,
    /// Emit the `<snake>_server` module.
    pub server: bool,
    /// Emit `<snake>_proto(imports)`, which returns the service as `.proto`
    /// text (for services defined in Rust; messages must implement
    /// `prost::Name`).
    pub proto_source: bool,
}

/// Emits the spec static, the client module and the server module of `svc`.
pub fn service(svc: &Service, sides: Sides) -> TokenStream {
    let spec = spec(svc);
    let client = sides.client.then(|| client::emit(svc));
    let server = sides.server.then(|| server::emit(svc));
    let proto = sides.proto_source.then(|| proto_source(svc));
    quote! { #spec #client #server #proto }
}

/// The identifier of the `ServiceSpec` static, e.g. `GREETER_SPEC`.
pub(crate) fn spec_ident(svc: &Service) -> Ident {
    ident(&names::spec_static(&svc.name))
}

/// `Cow::Borrowed("…")` for spec text.
fn text(s: &str) -> TokenStream {
    quote! { ::nrpc_runtime::codegen::Cow::Borrowed(#s) }
}

/// `Cow::Borrowed(&[…])` for a list of spec names.
fn texts<S: AsRef<str>>(list: &[S]) -> TokenStream {
    let items = list.iter().map(|s| text(s.as_ref()));
    quote! { ::nrpc_runtime::codegen::Cow::Borrowed(&[#(#items),*]) }
}

fn spec(svc: &Service) -> TokenStream {
    let static_ident = spec_ident(svc);
    let s = &svc.spec;
    let full_name = text(&s.name);
    let description = text(&s.description);
    let pkg = text(&s.package_subject);
    let pkg_params = texts(&s.package_params);
    let svc_subject = text(&s.service_subject);
    let svc_params = texts(&s.service_params);
    let methods = s.methods.iter().map(|m| {
        let name = text(&m.name);
        let subject = text(&m.subject);
        let params = texts(&m.params);
        let polling = m.polling;
        let kind = ident(&format!("{:?}", m.kind));
        quote! {
            ::nrpc_runtime::codegen::MethodSpec {
                name: #name,
                subject: #subject,
                params: #params,
                kind: ::nrpc_runtime::codegen::MethodKind::#kind,
                polling: #polling,
            }
        }
    });
    let doc = format!(" Subjects and methods of `{}`.", s.name);
    quote! {
        #[doc = #doc]
        pub static #static_ident: ::nrpc_runtime::codegen::ServiceSpec = ::nrpc_runtime::codegen::ServiceSpec {
            name: #full_name,
            description: #description,
            package_subject: #pkg,
            package_params: #pkg_params,
            service_subject: #svc_subject,
            service_params: #svc_params,
            methods: ::nrpc_runtime::codegen::Cow::Borrowed(&[#(#methods),*]),
        };
    }
}

fn proto_source(svc: &Service) -> TokenStream {
    let ident = ident(&names::proto_fn(&svc.name));
    let spec = spec_ident(svc);
    let name_of = |ty: &MessageType| match ty {
        MessageType::Void => quote! { None },
        MessageType::Message(_) => {
            let t = rust_type(ty, false);
            quote! { Some(<#t as ::nrpc_runtime::codegen::prost::Name>::full_name()) }
        }
    };
    let methods = svc.methods.iter().map(|m| {
        let (input, output) = (name_of(&m.input), name_of(&m.output));
        let docs = &m.docs;
        quote! {
            ::nrpc_runtime::codegen::MethodText { input: #input, output: #output, docs: &[#(#docs),*] }
        }
    });
    let svc_docs = &svc.docs;
    let doc = format!(
        " The service part of a `.proto` file for `{}`, importing `imports` (the files that define its messages).",
        svc.spec.name
    );
    quote! {
        #[doc = #doc]
        pub fn #ident(imports: &[&str]) -> String {
            ::nrpc_runtime::codegen::service_proto(&#spec, &[#(#svc_docs),*], &[#(#methods),*], imports)
        }
    }
}

/// `#[doc]` attributes for documentation lines.
fn docs(lines: &[String]) -> TokenStream {
    let lines = lines.iter().map(|l| {
        let l = if l.starts_with(' ') || l.is_empty() {
            l.clone()
        } else {
            format!(" {l}")
        };
        quote! { #[doc = #l] }
    });
    quote! { #(#lines)* }
}

/// Rust's strict and reserved keywords (2024 edition), which need `r#` as
/// identifiers.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "Self", "static", "struct", "super", "trait", "true", "try", "type",
    "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Whether `name` is a Rust keyword.
pub(crate) fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Whether `name` is a plain identifier (letters, digits, `_`; not a digit
/// first).
fn is_plain_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// An identifier, raw if it is a keyword. (Checked by hand: parsing each
/// identifier with syn made code generation several times slower.)
fn ident(name: &str) -> Ident {
    let name = name.strip_prefix("r#").unwrap_or(name);
    // Path keywords (`super::x`) cannot be raw.
    let path_keyword = matches!(name, "self" | "Self" | "super" | "crate");
    if is_keyword(name) && !path_keyword {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// The type path of a message as seen from a module nested one level below
/// where the service is generated.
fn nested_type(ty: &MessageType) -> TokenStream {
    rust_type(ty, true)
}

/// The type path of a message, from the generated module itself or (if
/// `nested`) from a module one level below it.
fn rust_type(ty: &MessageType, nested: bool) -> TokenStream {
    match ty {
        MessageType::Void => quote! { () },
        MessageType::Message(path) => {
            let absolute = path.starts_with("::") || path.starts_with("crate::") || path == "()";
            let path = if absolute || !nested {
                path.clone()
            } else {
                format!("super::{path}")
            };
            path_tokens(&path)
        }
    }
}

/// A type path (`a::b::C`, `::a::C`, `()`) as tokens. Front ends hand
/// over valid Rust paths; anything else is left to syn, which reports it.
fn path_tokens(path: &str) -> TokenStream {
    let (global, rest) = match path.strip_prefix("::") {
        Some(rest) => (true, rest),
        None => (false, path),
    };
    let plain = rest
        .split("::")
        .all(|s| is_plain_ident(s.strip_prefix("r#").unwrap_or(s)));
    if !plain {
        return syn::parse_str::<syn::Type>(path)
            .map(|t| quote! { #t })
            .unwrap_or_else(|e| syn::Error::new(Span::call_site(), e).to_compile_error());
    }
    let segments = rest.split("::").map(ident);
    if global {
        quote! { #(::#segments)* }
    } else {
        quote! { #(#segments)::* }
    }
}

/// The runtime codec that encodes a message type.
fn codec(ty: &MessageType) -> TokenStream {
    match ty {
        MessageType::Void => quote! { __nrpc::Void },
        MessageType::Message(_) => {
            let t = nested_type(ty);
            quote! { __nrpc::Proto<#t> }
        }
    }
}

/// Name of the static holding a generated file's descriptor set.
const DESCRIPTOR_SET_STATIC: &str = "NRPC_DESCRIPTOR_SET";

/// The descriptor set of a generated file, embedded once and shared by its
/// services' constructors: `file` names the encoded `FileDescriptorSet`
/// beside the generated file.
pub fn descriptor_set(file: &str) -> TokenStream {
    let name = ident(DESCRIPTOR_SET_STATIC);
    quote! {
        /// The descriptors of the `.proto` files this module was generated
        /// from (an encoded `FileDescriptorSet`; nrpc registers it for JSON).
        pub static #name: &[u8] = include_bytes!(#file);
    }
}

/// Registers the descriptor set for JSON, if the service has one (from the
/// service's module, one level below the generated file).
fn register_descriptors(svc: &Service) -> TokenStream {
    let name = ident(DESCRIPTOR_SET_STATIC);
    match &svc.descriptor_set_file {
        Some(_) => quote! {
            __nrpc::register_descriptors(super::#name);
        },
        None => quote! {},
    }
}
