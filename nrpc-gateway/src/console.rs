//! The web console: one page (`console.html` with its `console.js` and
//! `console.css`; no build step, no outside assets, no inline script, under
//! a strict content security policy) and the two JSON resources it reads — the services with their
//! instances and live stats (from discovery) and their durable streams'
//! backlogs (from JetStream), and one service's methods
//! with the fields of their requests (from its schema or `.proto` files).
//! Calls from its form go through the gateway's own JSON door.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use nrpc_reflect::Message;
use nrpc_runtime::discovery::{Discovery, InfoResponse, StatsResponse};
use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{json, Value};

use crate::call::Failure;
use crate::Shared;

const PAGE: &str = include_str!("console.html");
const SCRIPT: &str = include_str!("console.js");
const STYLE: &str = include_str!("console.css");

/// The page runs its own script and style only, talks to the gateway only,
/// and may not be framed (clickjacking).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// Adds the console's routes: `/` and its script and stylesheet,
/// `/_nrpc/services`, `/_nrpc/services/{name}`.
pub(crate) fn routes(router: axum::Router, shared: Arc<Shared>) -> axum::Router {
    use http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
    let page = || async {
        (
            [(CONTENT_SECURITY_POLICY, CSP), (X_FRAME_OPTIONS, "DENY")],
            Html(PAGE),
        )
    };
    let script = || async { ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT) };
    let style = || async { ([(CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) };
    router.merge(
        axum::Router::new()
            .route("/", get(page))
            .route("/_nrpc/console.js", get(script))
            .route("/_nrpc/console.css", get(style))
            .route("/_nrpc/services", get(services))
            .route("/_nrpc/services/{name}", get(service))
            .with_state(shared),
    )
}

/// Every service that answers discovery (and every one defined by
/// `.proto` files), with its instances and their endpoints' stats.
/// The console's resources need what calls need.
fn authenticated(shared: &Shared, parts: &http::request::Parts) -> Result<(), Failure> {
    match &shared.auth {
        Some(auth) => auth
            .authenticate(&parts.headers, &parts.extensions)
            .map(|_| ()),
        None => Ok(()),
    }
}

async fn services(State(shared): State<Arc<Shared>>, parts: http::request::Parts) -> Response {
    if let Err(refused) = authenticated(&shared, &parts) {
        return refused.into_response();
    }
    let catalog = &shared.catalog;
    let discovery =
        Discovery::new(catalog.connection().clone()).with_timeout(catalog.discovery_timeout());
    let (infos, stats) = tokio::join!(discovery.info(None), discovery.stats(None));
    let infos = match infos {
        Ok(infos) => infos,
        Err(e) => return Failure::from(e).into_response(),
    };
    let stats: Vec<StatsResponse> = stats.unwrap_or_default();
    let exposure = catalog.exposure();
    let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
    for info in &infos {
        let full = nrpc_reflect::full_name(info).to_owned();
        if !exposure.service(&full) {
            continue;
        }
        let entry = by_name.entry(full.clone()).or_insert_with(|| {
            json!({
                "name": full,
                "nats_name": info.name,
                "description": info.description,
                "instances": [],
            })
        });
        if let Some(list) = entry["instances"].as_array_mut() {
            list.push(instance(info, stats.iter().find(|s| s.id == info.id)));
        }
    }
    for defined in catalog.defined() {
        if !exposure.service(&defined.spec.name) {
            continue;
        }
        by_name
            .entry(defined.spec.name.to_string())
            .or_insert_with(|| {
                json!({
                    "name": defined.spec.name,
                    "nats_name": nrpc_runtime::discovery::service_name(&defined.spec.name),
                    "description": defined.spec.description,
                    "instances": [],
                })
            });
    }
    if !exposure.is_everything() {
        // Only services with an exposed method (learned once, then known).
        let names: Vec<String> = by_name.keys().cloned().collect();
        let shown =
            futures::future::join_all(names.iter().map(|name| async move {
                catalog.find(name).await.is_ok_and(|t| catalog.shows(&t))
            }))
            .await;
        for (name, shown) in names.iter().zip(shown) {
            if !shown {
                by_name.remove(name);
            }
        }
    }
    // Durable streams: each consumer's lag, and the dead letters.
    let durable = nrpc_runtime::durable::Durable::new(catalog.connection());
    let names: Vec<String> = by_name.keys().cloned().collect();
    let backlogs =
        futures::future::join_all(names.iter().map(|name| durable.service_backlog(name))).await;
    for (name, backlog) in names.iter().zip(backlogs) {
        match backlog {
            Ok(b) if !b.streams.is_empty() => {
                if let Some(entry) = by_name.get_mut(name) {
                    entry["durable"] = backlog_json(&b);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!("console: durable backlog of {name}: {e}"),
        }
    }
    axum::Json(json!({
        "services": by_name.into_values().collect::<Vec<_>>(),
        "read_only": shared.options.console_read_only,
    }))
    .into_response()
}

fn backlog_json(b: &nrpc_runtime::durable::ServiceBacklog) -> Value {
    let streams: Vec<Value> = b
        .streams
        .iter()
        .map(|s| {
            let consumers: Vec<Value> = s
                .consumers
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name,
                        "lag": c.pending,
                        "unacked": c.ack_pending,
                        "redelivered": c.redelivered,
                    })
                })
                .collect();
            json!({ "stream": s.stream, "messages": s.messages, "consumers": consumers })
        })
        .collect();
    json!({ "streams": streams, "dead_letters": b.dead_letters })
}

fn instance(info: &InfoResponse, stats: Option<&StatsResponse>) -> Value {
    let endpoints: Vec<Value> = info
        .endpoints
        .iter()
        .map(|e| {
            let s = stats.and_then(|s| s.endpoints.iter().find(|x| x.name == e.name));
            json!({
                "name": e.name,
                "subject": e.subject,
                "queue_group": e.queue_group,
                "requests": s.map(|s| s.num_requests),
                "errors": s.map(|s| s.num_errors),
                "average_ns": s.map(|s| s.average_processing_time),
                "last_error": s.map(|s| s.last_error.clone()),
            })
        })
        .collect();
    json!({
        "id": info.id,
        "version": info.version,
        "started": stats.map(|s| s.started.clone()),
        "endpoints": endpoints,
    })
}

/// One service: its methods, their kinds, subject parameters, docs and
/// request fields, for the console's form.
async fn service(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    parts: http::request::Parts,
) -> Response {
    if let Err(refused) = authenticated(&shared, &parts) {
        return refused.into_response();
    }
    let catalog = &shared.catalog;
    let unknown = || Failure::unknown("service", &name).into_response();
    if !catalog.exposure().service(&name) {
        return unknown();
    }
    let target = match catalog.find(&name).await {
        Ok(t) if catalog.shows(&t) => t,
        Ok(_) => return unknown(),
        Err(e) if !catalog.exposure().is_everything() => {
            tracing::debug!("console: {e}");
            return unknown();
        }
        Err(e) => return Failure::from(e).into_response(),
    };
    let service = &target.service;
    let spec = &service.spec;
    let methods: Vec<Value> = spec
        .methods
        .iter()
        .enumerate()
        .filter(|(_, m)| catalog.exposure().method(&spec.name, &m.name))
        .map(|(i, m)| {
            let (input, output) = &service.types[i];
            let params: Vec<&str> = spec.param_names(i).collect();
            json!({
                "name": m.name,
                "kind": m.kind.as_str(),
                "polling": m.polling,
                "params": params,
                "docs": service.method_docs.get(i),
                "input": message(input, 0),
                "output": message_name(output),
            })
        })
        .collect();
    axum::Json(json!({
        "name": spec.name,
        "docs": service.docs,
        "origin": service.origin,
        "methods": methods,
    }))
    .into_response()
}

fn message_name(m: &Message) -> Value {
    match m {
        Message::Void => json!("nrpc.Void"),
        Message::Known(d) => json!(d.full_name()),
        Message::Unknown(n) => json!(n),
    }
}

/// How deep nested messages are described (recursive types stop here).
const MAX_DEPTH: usize = 4;

fn message(m: &Message, depth: usize) -> Value {
    match m {
        Message::Void => json!({ "name": "nrpc.Void", "fields": [] }),
        Message::Known(d) => describe(d, depth),
        Message::Unknown(n) => json!({ "name": n, "fields": null }),
    }
}

fn describe(d: &MessageDescriptor, depth: usize) -> Value {
    let fields: Vec<Value> = d
        .fields()
        .map(|f| {
            let (kind, nested, values) = match f.kind() {
                Kind::Message(m) if !f.is_map() => (
                    "message",
                    (depth < MAX_DEPTH).then(|| describe(&m, depth + 1)),
                    None,
                ),
                Kind::Message(_) => ("map", None, None),
                Kind::Enum(e) => (
                    "enum",
                    None,
                    Some(e.values().map(|v| v.name().to_owned()).collect::<Vec<_>>()),
                ),
                Kind::String => ("string", None, None),
                Kind::Bytes => ("bytes", None, None),
                Kind::Bool => ("bool", None, None),
                Kind::Double | Kind::Float => ("float", None, None),
                Kind::Int64 | Kind::Uint64 | Kind::Sint64 | Kind::Fixed64 | Kind::Sfixed64 => {
                    ("int64", None, None)
                }
                _ => ("int", None, None),
            };
            json!({
                "name": f.json_name(),
                "type": kind,
                "repeated": f.is_list(),
                "message": nested,
                "values": values,
            })
        })
        .collect();
    json!({ "name": d.full_name(), "fields": fields })
}
