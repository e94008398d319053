//! Parses a `#[nats_service]` trait into nrpc-codegen's service model and
//! hands it to the same emitter the `.proto` front end uses.
//!
//! Every problem found is reported, each at its own tokens, before the
//! expansion gives up.

use nrpc_codegen::emit::{self, Sides};
use nrpc_codegen::model::{
    MessageType, Method, MethodKind, MethodPart, MethodSpec, Service, ServiceSpec, Site, Text,
};
use std::time::Duration;

use nrpc_wire::durable::{parse_duration, Policy, Storage};
use nrpc_wire::subject::SubjectRule;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Lit, Meta, Pat, ReturnType, Token, TraitItem, Type};

const SERVICE_KEYS: &str =
    "package, package_params, service, service_params, service_rule, method_rule, proto_package";
const METHOD_KEYS: &str =
    "subject, params, poll, no_reply, event, stream, client_stream, durable(…)";
const DURABLE_KEYS: &str = "max_deliveries, backoff, ack_wait, handler_timeout, concurrency, dedup_window, max_age, storage, replicas, dead_letter";

/// Collects errors so all of them are reported at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        let e = syn::Error::new(span, message);
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// A value with the span of the tokens that gave it.
struct Given<T> {
    value: T,
    span: Span,
}

#[derive(Default)]
struct ServiceArgs {
    package: Option<Given<String>>,
    package_params: Option<Given<Vec<String>>>,
    service: Option<Given<String>>,
    service_params: Option<Given<Vec<String>>>,
    service_rule: SubjectRule,
    method_rule: SubjectRule,
    proto_package: Option<String>,
}

#[derive(Default)]
struct MethodArgs {
    subject: Option<Given<String>>,
    params: Option<Given<Vec<String>>>,
    poll: bool,
    no_reply: bool,
    event: bool,
    stream: bool,
    client_stream: bool,
    durable: Option<Given<Policy>>,
}

/// Where each part of one parsed method was written, for problems found
/// by `Service::validate`.
struct MethodSpans {
    name: Span,
    subject: Span,
    params: Span,
    kind: Span,
    durable: Span,
}

fn string(expr: &Expr, errors: &mut Errors) -> Option<String> {
    if let Expr::Lit(lit) = expr {
        if let Lit::Str(s) = &lit.lit {
            return Some(s.value());
        }
    }
    errors.push(expr.span(), "expected a string literal");
    None
}

fn strings(expr: &Expr, errors: &mut Errors) -> Vec<String> {
    match expr {
        Expr::Array(a) => a.elems.iter().filter_map(|e| string(e, errors)).collect(),
        _ => {
            errors.push(
                expr.span(),
                "expected an array of string literals, e.g. [\"a\", \"b\"]",
            );
            Vec::new()
        }
    }
}

fn rule(expr: &Expr, errors: &mut Errors) -> SubjectRule {
    match string(expr, errors).as_deref() {
        Some("tolower") => SubjectRule::ToLower,
        Some("copy") | None => SubjectRule::Copy,
        Some(other) => {
            errors.push(
                expr.span(),
                format!("unknown subject rule {other:?}; use \"copy\" or \"tolower\""),
            );
            SubjectRule::Copy
        }
    }
}

fn spanned<T>(expr: &Expr, value: Option<T>) -> Option<Given<T>> {
    value.map(|value| Given {
        value,
        span: expr.span(),
    })
}

fn parse_metas(tokens: TokenStream, errors: &mut Errors) -> Vec<Meta> {
    match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(p) => p.into_iter().collect(),
        Err(e) => {
            errors.push(e.span(), e);
            Vec::new()
        }
    }
}

fn key(meta: &Meta) -> String {
    meta.path().to_token_stream().to_string().replace(' ', "")
}

impl ServiceArgs {
    fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for meta in parse_metas(tokens, errors) {
            let key = key(&meta);
            let Meta::NameValue(nv) = &meta else {
                errors.push(
                    meta.span(),
                    format!("unknown nats_service argument `{key}`; expected `key = value` with one of: {SERVICE_KEYS}"),
                );
                continue;
            };
            let value = &nv.value;
            match key.as_str() {
                "package" => args.package = spanned(value, string(value, errors)),
                "package_params" => {
                    args.package_params = spanned(value, Some(strings(value, errors)));
                }
                "service" => args.service = spanned(value, string(value, errors)),
                "service_params" => {
                    args.service_params = spanned(value, Some(strings(value, errors)));
                }
                "service_rule" => args.service_rule = rule(value, errors),
                "method_rule" => args.method_rule = rule(value, errors),
                "proto_package" => args.proto_package = string(value, errors),
                _ => errors.push(
                    nv.path.span(),
                    format!(
                        "unknown nats_service argument `{key}`; expected one of: {SERVICE_KEYS}"
                    ),
                ),
            }
        }
        args
    }
}

impl MethodArgs {
    fn parse(attr: &syn::Attribute, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        let tokens = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            other => {
                errors.push(other.span(), format!("expected #[nrpc({METHOD_KEYS})]"));
                return args;
            }
        };
        for meta in parse_metas(tokens, errors) {
            let key = key(&meta);
            match (&meta, key.as_str()) {
                (Meta::Path(_), "poll") => args.poll = true,
                (Meta::Path(_), "no_reply") => args.no_reply = true,
                (Meta::Path(_), "event") => args.event = true,
                (Meta::Path(_), "stream") => args.stream = true,
                (Meta::Path(_), "client_stream") => args.client_stream = true,
                (Meta::Path(p), "durable") => {
                    args.durable = Some(Given {
                        value: Policy::default(),
                        span: p.span(),
                    });
                }
                (Meta::List(list), "durable") => {
                    args.durable = Some(Given {
                        value: durable_policy(list.tokens.clone(), errors),
                        span: list.span(),
                    });
                }
                (Meta::NameValue(nv), "subject") => {
                    args.subject = spanned(&nv.value, string(&nv.value, errors));
                }
                (Meta::NameValue(nv), "params") => {
                    args.params = spanned(&nv.value, Some(strings(&nv.value, errors)));
                }
                _ => errors.push(
                    meta.span(),
                    format!("unknown nrpc method argument `{key}`; expected one of: subject = \"…\", params = [\"…\"], poll, no_reply, event, stream, client_stream, durable(…)"),
                ),
            }
        }
        args
    }
}

/// `durable(max_deliveries = 5, backoff = ["1s", "30s"], …)`: each key
/// given replaces the default; durations as in `nrpc/durable.proto`.
fn durable_policy(tokens: TokenStream, errors: &mut Errors) -> Policy {
    let mut policy = Policy::default();
    for meta in parse_metas(tokens, errors) {
        let key = key(&meta);
        let Meta::NameValue(nv) = &meta else {
            errors.push(
                meta.span(),
                format!("expected `key = value` in durable(…), with one of: {DURABLE_KEYS}"),
            );
            continue;
        };
        let value = &nv.value;
        let duration = |errors: &mut Errors| {
            let text = string(value, errors)?;
            parse_duration(&text)
                .map_err(|e| errors.push(value.span(), e))
                .ok()
        };
        let number = |errors: &mut Errors| match value {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(n), ..
            }) => n
                .base10_parse::<u32>()
                .map_err(|e| errors.push(value.span(), e))
                .ok(),
            _ => {
                errors.push(value.span(), "expected a whole number");
                None
            }
        };
        match key.as_str() {
            "max_deliveries" => {
                policy.max_deliveries = number(errors).unwrap_or(policy.max_deliveries)
            }
            "concurrency" => policy.concurrency = number(errors).unwrap_or(policy.concurrency),
            "replicas" => match number(errors).map(u8::try_from) {
                Some(Ok(n)) => policy.replicas = n,
                Some(Err(_)) => errors.push(value.span(), "replicas is 1 to 5"),
                None => {}
            },
            "backoff" => {
                let delays: Vec<Duration> = strings(value, errors)
                    .iter()
                    .filter_map(|text| {
                        parse_duration(text)
                            .map_err(|e| errors.push(value.span(), e))
                            .ok()
                    })
                    .collect();
                policy.backoff = delays.into();
            }
            "ack_wait" => policy.ack_wait = duration(errors).unwrap_or(policy.ack_wait),
            "handler_timeout" => {
                policy.handler_timeout = duration(errors).unwrap_or(policy.handler_timeout);
            }
            "dedup_window" => policy.dedup_window = duration(errors).unwrap_or(policy.dedup_window),
            "max_age" => policy.max_age = duration(errors),
            "storage" => match string(value, errors).as_deref() {
                Some("file") => policy.storage = Storage::File,
                Some("memory") => policy.storage = Storage::Memory,
                Some(other) => errors.push(
                    value.span(),
                    format!("unknown storage {other:?}; use \"file\" or \"memory\""),
                ),
                None => {}
            },
            "dead_letter" => match value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Bool(b), ..
                }) => policy.dead_letter = b.value,
                _ => errors.push(value.span(), "expected true or false"),
            },
            _ => errors.push(
                nv.path.span(),
                format!("unknown durable setting `{key}`; expected one of: {DURABLE_KEYS}"),
            ),
        }
    }
    policy
}

fn docs(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(l) => match &l.lit {
                    Lit::Str(s) => Some(s.value()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `Result<T, Status>` → the reply type, or an error message.
fn reply_type(output: &ReturnType) -> Result<MessageType, (Span, &'static str)> {
    const WRONG: &str = "nats_service methods return `Result<Reply, Status>` (`Result<(), Status>` for no reply value)";
    let ReturnType::Type(_, ty) = output else {
        return Err((output.span(), WRONG));
    };
    let Type::Path(path) = &**ty else {
        return Err((ty.span(), WRONG));
    };
    let Some(last) = path.path.segments.last() else {
        return Err((ty.span(), WRONG));
    };
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return Err((ty.span(), WRONG));
    };
    let types: Vec<&Type> = args
        .args
        .iter()
        .filter_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    let is_status = |t: &Type| match t {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Status"),
        _ => false,
    };
    if last.ident != "Result" || types.len() != 2 || !is_status(types[1]) {
        return Err((ty.span(), WRONG));
    }
    message_type(types[0]).map_err(|msg| (types[0].span(), msg))
}

fn message_type(ty: &Type) -> Result<MessageType, &'static str> {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => Ok(MessageType::Void),
        Type::Reference(_) => Err("messages are passed by value: remove the `&`"),
        Type::Path(p) if p.qself.is_none() => Ok(MessageType::Message(
            ty.to_token_stream().to_string().replace(' ', ""),
        )),
        _ => Err("expected a prost message type (a path such as `pb::HelloRequest`) or `()`"),
    }
}

fn parse_method(
    f: &syn::TraitItemFn,
    rule: SubjectRule,
    errors: &mut Errors,
) -> Option<(MethodSpec, Method, MethodSpans)> {
    let sig = &f.sig;
    let name = sig.ident.to_string();
    let mut method_errors = Errors::default();
    let e = &mut method_errors;
    if sig.asyncness.is_none() {
        e.push(
            sig.fn_token.span(),
            format!("`{name}` must be an `async fn`"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        e.push(
            sig.generics.span(),
            format!(
                "`{name}` cannot be generic: request and reply must be concrete prost messages"
            ),
        );
    }
    if let Some(t) = &sig.constness {
        e.push(t.span(), "nats_service methods cannot be `const`");
    }
    if let Some(t) = &sig.unsafety {
        e.push(t.span(), "nats_service methods cannot be `unsafe`");
    }
    if let Some(v) = &sig.variadic {
        e.push(v.span(), "nats_service methods cannot be variadic");
    }
    if let Some(body) = &f.default {
        e.push(
            body.span(),
            "nats_service methods have no default body; end the declaration with `;`",
        );
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r))
            if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() => {}
        Some(FnArg::Receiver(r)) => e.push(r.span(), format!("`{name}` must take `&self`")),
        _ => e.push(
            sig.ident.span(),
            format!("`{name}` must take `&self` as its first argument"),
        ),
    }
    let mut input = MessageType::Void;
    for (i, arg) in inputs.enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        if i > 0 {
            e.push(
                pt.span(),
                "a method takes at most one request message; declare subject parameters with #[nrpc(params = [\"…\"])]",
            );
            continue;
        }
        match &*pt.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {}
            other => e.push(
                other.span(),
                "use a plain argument name, e.g. `request: HelloRequest`",
            ),
        }
        match message_type(&pt.ty) {
            Ok(t) => input = t,
            Err(msg) => e.push(pt.ty.span(), msg),
        }
    }
    let output = match reply_type(&sig.output) {
        Ok(t) => Some(t),
        Err((span, msg)) => {
            e.push(span, msg);
            None
        }
    };
    let mut args = MethodArgs::default();
    let mut nrpc_attr = None;
    for attr in &f.attrs {
        if attr.path().is_ident("nrpc") {
            args = MethodArgs::parse(attr, e);
            nrpc_attr = Some(attr.span());
        } else if !attr.path().is_ident("doc") {
            e.push(
                attr.span(),
                "only #[nrpc(…)] and doc comments are allowed on nats_service methods",
            );
        }
    }
    let attr_span = nrpc_attr.unwrap_or_else(|| sig.ident.span());
    let kind = match (args.stream, args.no_reply, args.event) {
        (false, false, false) if args.client_stream => MethodKind::ClientStreaming,
        (true, false, false) if args.client_stream => MethodKind::Bidirectional,
        _ if args.client_stream => {
            e.push(attr_span, "`client_stream` combines only with `stream`");
            MethodKind::Unary
        }
        (false, false, false) => MethodKind::Unary,
        (true, false, false) => MethodKind::StreamedReply,
        (false, true, false) => {
            if output.as_ref().is_some_and(|o| *o != MessageType::Void) {
                e.push(
                    sig.output.span(),
                    "a `no_reply` method returns `Result<(), Status>`: nothing is sent back",
                );
            }
            MethodKind::NoReply
        }
        (false, false, true) => {
            if input != MessageType::Void {
                e.push(
                    sig.inputs.span(),
                    "an `event` method takes only `&self`: the server publishes its return type",
                );
            }
            MethodKind::NoRequest
        }
        _ => {
            e.push(
                attr_span,
                "a method is one of `stream`, `no_reply` or `event`",
            );
            MethodKind::Unary
        }
    };
    let failed = method_errors.0.is_some();
    if let Some(err) = method_errors.0 {
        match &mut errors.0 {
            Some(all) => all.combine(err),
            None => errors.0 = Some(err),
        }
    }
    if failed {
        return None;
    }
    let proto_name = nrpc_wire::names::rpc_name(&name);
    let spans = MethodSpans {
        name: sig.ident.span(),
        subject: args.subject.as_ref().map_or(attr_span, |s| s.span),
        params: args.params.as_ref().map_or(attr_span, |p| p.span),
        kind: attr_span,
        durable: args.durable.as_ref().map_or(attr_span, |d| d.span),
    };
    let spec = MethodSpec {
        subject: args
            .subject
            .map_or_else(|| rule.apply(&proto_name), |s| s.value)
            .into(),
        name: proto_name.into(),
        params: texts(args.params.map(|p| p.value)),
        kind,
        polling: args.poll,
        durable: args.durable.map(|d| d.value),
    };
    let method = Method {
        rust_name: name,
        docs: docs(&f.attrs),
        input,
        output: output?,
    };
    Some((spec, method, spans))
}

fn texts(list: Option<Vec<String>>) -> std::borrow::Cow<'static, [Text]> {
    list.unwrap_or_default()
        .into_iter()
        .map(Text::from)
        .collect::<Vec<_>>()
        .into()
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let item: syn::ItemTrait = syn::parse2(item).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[nats_service] goes on a trait: `pub trait Greeter { … }`",
        )
    })?;
    let mut errors = Errors::default();
    let args = ServiceArgs::parse(attr, &mut errors);
    if !item.generics.params.is_empty() {
        errors.push(
            item.generics.span(),
            "a nats_service trait cannot be generic",
        );
    }
    if !item.supertraits.is_empty() {
        errors.push(
            item.supertraits.span(),
            "a nats_service trait has no supertraits (the generated trait is `Send + Sync + 'static`)",
        );
    }
    let name = item.ident.to_string();
    let spec = ServiceSpec {
        name: match &args.proto_package {
            Some(p) if !p.is_empty() => format!("{p}.{name}"),
            _ => name.clone(),
        }
        .into(),
        description: "".into(),
        package_subject: args
            .package
            .as_ref()
            .map_or_else(String::new, |p| p.value.clone())
            .into(),
        package_params: texts(args.package_params.as_ref().map(|p| p.value.clone())),
        service_subject: args
            .service
            .as_ref()
            .map_or_else(|| args.service_rule.apply(&name), |s| s.value.clone())
            .into(),
        service_params: texts(args.service_params.as_ref().map(|p| p.value.clone())),
        methods: Vec::new().into(),
    };
    let mut service = Service::new(name.clone(), docs(&item.attrs), spec);
    let mut spans = Vec::new();
    for trait_item in &item.items {
        let TraitItem::Fn(f) = trait_item else {
            errors.push(
                trait_item.span(),
                "a nats_service trait holds only `async fn` declarations",
            );
            continue;
        };
        if let Some((spec, method, method_spans)) = parse_method(f, args.method_rule, &mut errors) {
            service.push(spec, method);
            spans.push(method_spans);
        }
    }
    // The wire and naming rules, shared with the .proto front end.
    let trait_span = item.ident.span();
    let at = |arg: &Option<Given<_>>| arg.as_ref().map_or(trait_span, |a: &Given<_>| a.span);
    for problem in service.validate() {
        let span = match problem.site {
            Site::Service => trait_span,
            Site::PackageSubject => at(&args.package),
            Site::ServiceSubject => at(&args.service),
            Site::PackageParams => args.package_params.as_ref().map_or(trait_span, |a| a.span),
            Site::ServiceParams => args.service_params.as_ref().map_or(trait_span, |a| a.span),
            Site::Method(i, part) => spans.get(i).map_or(trait_span, |m| match part {
                MethodPart::Name => m.name,
                MethodPart::Subject => m.subject,
                MethodPart::Params => m.params,
                MethodPart::Kind => m.kind,
                MethodPart::Durable => m.durable,
            }),
        };
        errors.push(span, problem.message);
    }
    errors.finish()?;

    // The trait is consumed; check its return types as written, so a
    // `Status` other than nrpc's is an error and the user's import of
    // `Status` counts as used. (Message types are used by the generated code.)
    let checks = item
        .items
        .iter()
        .filter_map(|i| match i {
            TraitItem::Fn(f) => Some(&f.sig),
            _ => None,
        })
        .map(|sig| {
            let ret = match &sig.output {
                ReturnType::Type(_, t) => t.to_token_stream(),
                ReturnType::Default => quote::quote! { () },
            };
            let args = sig.inputs.iter().filter_map(|a| match a {
                FnArg::Typed(pt) => Some(&pt.ty),
                FnArg::Receiver(_) => None,
            });
            quote::quote! {
                let _: ::core::option::Option<#ret> = ::core::option::Option::<
                    ::core::result::Result<_, ::nrpc_runtime::Status>,
                >::None;
                #(let _: ::core::option::Option<#args> = ::core::option::Option::None;)*
            }
        });
    let checks = quote::quote! {
        const _: fn() = || { #(#checks)* };
    };

    let generated: TokenStream = emit::service(
        &service,
        Sides {
            client: true,
            server: true,
            proto_source: true,
        },
    )
    .parse()
    .map_err(|e| {
        syn::Error::new(
            Span::call_site(),
            format!("nrpc generated code that does not lex (a bug): {e}"),
        )
    })?;
    Ok(quote::quote! { #checks #generated })
}
