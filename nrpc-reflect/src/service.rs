//! Finding a named service (from discovery and its published schema, or
//! from `.proto` files) and one of its methods, with the message types
//! needed to speak JSON to it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use nrpc_runtime::discovery::{service_name, Discovery, InfoResponse};
use nrpc_runtime::schema::SchemaResponse;
use nrpc_runtime::{Connection, MethodSpec, ServiceSpec, SharedSpec};
use nrpc_wire::names;
use prost_reflect::{DescriptorPool, MessageDescriptor};

use crate::{Error, Result};

/// A request or reply type of a method.
#[derive(Debug, Clone)]
pub enum Message {
    /// `nrpc.Void`: `{}` in JSON, empty on the wire.
    Void,
    /// A message whose descriptor is known.
    Known(MessageDescriptor),
    /// A message the schema names but does not describe.
    Unknown(String),
}

impl Message {
    fn find(pool: &DescriptorPool, name: Option<&str>) -> Self {
        match name {
            None | Some("nrpc.Void" | "google.protobuf.Empty") => Message::Void,
            Some(n) => pool
                .get_message_by_name(n)
                .map_or_else(|| Message::Unknown(n.to_owned()), Message::Known),
        }
    }
}

/// A service learned at run time, to describe and call with JSON.
#[derive(Debug)]
pub struct DynamicService {
    /// Its spec as served, shared with the clients made for it and freed
    /// with the last of them.
    pub spec: SharedSpec,
    /// Method indexes by every name [`method`](Self::method) accepts.
    index: HashMap<String, usize>,
    /// Per method of the spec: request and reply types.
    pub types: Vec<(Message, Message)>,
    /// The descriptors known for it.
    pub pool: DescriptorPool,
    /// The service's documentation, one line per entry.
    pub docs: Vec<String>,
    /// Per method of the spec: its documentation.
    pub method_docs: Vec<Vec<String>>,
    /// The `.proto` text the schema carries (Rust-defined services).
    pub proto: Option<String>,
    /// Where the definition came from, for messages.
    pub origin: String,
    /// Per method of the spec: whether it is durable (its messages go
    /// through its JetStream stream). A spec from `.proto` files carries
    /// the policy itself; one from a schema only says it is durable.
    pub durable: Vec<bool>,
}

impl DynamicService {
    /// The service named `wanted` (its full name, NATS services name, or
    /// last part when unambiguous), from the schema its instances publish;
    /// `timeout` bounds discovery.
    pub async fn discover(
        conn: &Connection,
        timeout: Duration,
        wanted: &str,
    ) -> Result<DynamicService> {
        from_discovery(conn, timeout, wanted).await
    }

    /// The service named `wanted` among those `files` define (imports
    /// resolved in `includes`; if none are given, each file's directory).
    pub fn from_protos(
        wanted: &str,
        files: &[PathBuf],
        includes: &[PathBuf],
    ) -> Result<DynamicService> {
        from_protos(wanted, files, includes)
    }

    /// Every service `files` define (imports resolved in `includes`; if
    /// none are given, each file's directory).
    pub fn all_from_protos(files: &[PathBuf], includes: &[PathBuf]) -> Result<Vec<DynamicService>> {
        all_from_protos(files, includes)
    }

    /// The service a published schema describes (what an instance answers
    /// on its schema subject); `origin` says where it came from, for
    /// messages.
    pub fn from_schema(schema: SchemaResponse, origin: String) -> Result<DynamicService> {
        let spec = schema.spec().map_err(|e| {
            Error::InvalidSchema(format!(
                "the schema of {} is not valid: {e}",
                schema.service
            ))
        })?;
        let mut pool = schema
            .descriptor_pool()
            .map_err(|e| Error::InvalidSchema(format!("the schema of {}: {e}", schema.service)))?;
        // A service defined in Rust: its messages come as descriptors, the
        // service as `.proto` text; compiled, it is described like any
        // other (gRPC reflection). Calls need only the messages, so text
        // that does not compile costs the description, not the service.
        if let (None, Some(text)) = (pool.get_service_by_name(&spec.name), &schema.proto) {
            if let Some(with_service) = describe_rust_service(&spec, text, &pool) {
                pool = with_service;
            }
        }
        let types = schema
            .methods
            .iter()
            .map(|m| {
                (
                    Message::find(&pool, m.input.as_deref()),
                    Message::find(&pool, m.output.as_deref()),
                )
            })
            .collect();
        Ok(DynamicService {
            durable: schema.methods.iter().map(|m| m.durable.is_some()).collect(),
            docs: schema.docs,
            method_docs: schema.methods.into_iter().map(|m| m.docs).collect(),
            proto: schema.proto,
            origin,
            ..DynamicService::new(spec, types, pool)
        })
    }

    /// The method named `wanted` (as in the service definition, any case,
    /// or the Rust method name), with its index.
    pub fn method(&self, wanted: &str) -> Result<(usize, &MethodSpec)> {
        let methods: &[MethodSpec] = &self.spec.methods;
        let found = self
            .index
            .get(wanted)
            .or_else(|| self.index.get(&wanted.to_ascii_lowercase()));
        match found.and_then(|&i| Some((i, methods.get(i)?))) {
            Some(found) => Ok(found),
            None => {
                let names: Vec<&str> = methods.iter().map(|m| &*m.name).collect();
                Err(Error::UnknownMethod(format!(
                    "{} has no method {wanted:?}{}",
                    self.spec.name,
                    suggest(wanted, &names)
                )))
            }
        }
    }
}

/// Method indexes by the names a method may be called by: as declared,
/// in lower case (any case matches), and the Rust method name. A name
/// declared exactly wins over another method's other spelling.
fn method_index(spec: &ServiceSpec) -> HashMap<String, usize> {
    let mut index = HashMap::new();
    for (i, m) in spec.methods.iter().enumerate() {
        index.entry(m.name.to_ascii_lowercase()).or_insert(i);
        // The Rust name, raw (`r#type`) or not (`type`).
        let rust = names::method_fn(&m.name);
        index.entry(names::plain(&rust).to_owned()).or_insert(i);
        index.entry(rust).or_insert(i);
    }
    for (i, m) in spec.methods.iter().enumerate() {
        index.insert(m.name.to_string(), i);
    }
    index
}

impl DynamicService {
    fn new(spec: ServiceSpec, types: Vec<(Message, Message)>, pool: DescriptorPool) -> Self {
        Self {
            durable: spec.methods.iter().map(|m| m.durable.is_some()).collect(),
            index: method_index(&spec),
            spec: spec.into(),
            types,
            pool,
            docs: Vec::new(),
            method_docs: Vec::new(),
            proto: None,
            origin: String::new(),
        }
    }
}

/// Splits `SERVICE.METHOD` at its last dot.
pub fn split_method(name: &str) -> Result<(&str, &str)> {
    match name.rsplit_once('.') {
        Some((s, m)) if !s.is_empty() && !m.is_empty() => Ok((s, m)),
        _ => Err(Error::UnknownMethod(format!(
            "{name:?} is not SERVICE.METHOD (e.g. greeter.v1.Greeter.SayHello)"
        ))),
    }
}

/// ` (did you mean …?)` for the names close to `wanted`, or nothing.
pub fn suggest(wanted: &str, names: &[&str]) -> String {
    let lower = wanted.to_ascii_lowercase();
    let mut close: Vec<(f64, &str)> = names
        .iter()
        .map(|n| (strsim::jaro_winkler(&lower, &n.to_ascii_lowercase()), *n))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    close.dedup_by(|a, b| a.1 == b.1);
    let close: Vec<&str> = close.iter().take(3).map(|(_, n)| *n).collect();
    if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    }
}

/// The full proto name of the service an INFO reply describes (its
/// `nrpc.service` metadata), else its NATS services name.
pub fn full_name(info: &InfoResponse) -> &str {
    info.metadata
        .as_ref()
        .and_then(|m| m.get("nrpc.service"))
        .map_or(&info.name, String::as_str)
}

/// Whether `wanted` names the service `full` (NATS name `nats_name`): the
/// full name, the NATS name, or the last part of the full name.
fn names(wanted: &str, full: &str, nats_name: &str) -> bool {
    wanted == full
        || wanted == nats_name
        || full
            .rsplit_once('.')
            .is_some_and(|(_, short)| short == wanted)
}

/// The instances of the one service `wanted` names, from `infos`.
pub fn pick<'a>(infos: &'a [InfoResponse], wanted: &str) -> Result<Vec<&'a InfoResponse>> {
    let mut services: Vec<&str> = infos
        .iter()
        .filter(|i| names(wanted, full_name(i), &i.name))
        .map(full_name)
        .collect();
    services.sort_unstable();
    services.dedup();
    match services.as_slice() {
        [one] => Ok(infos.iter().filter(|i| full_name(i) == *one).collect()),
        [] => {
            let mut all: Vec<&str> = infos.iter().map(full_name).collect();
            all.sort_unstable();
            all.dedup();
            if all.is_empty() {
                Err(Error::UnknownService(format!(
                    "no service {wanted:?}: no service answers discovery here"
                )))
            } else {
                let short: Vec<&str> = all
                    .iter()
                    .map(|n| n.rsplit_once('.').map_or(*n, |(_, s)| s))
                    .collect();
                let mut candidates = all.clone();
                candidates.extend(short);
                Err(Error::UnknownService(format!(
                    "no service {wanted:?}{}",
                    suggest(wanted, &candidates)
                )))
            }
        }
        many => Err(Error::UnknownService(format!(
            "{wanted:?} is ambiguous: {}; give the full name",
            many.join(", ")
        ))),
    }
}

/// How long discovery of one named service waits for one more instance.
const TARGETED_IDLE_GAP: Duration = Duration::from_millis(50);

/// How many instances' schemas are compared when a service is learned.
const MAX_SCHEMAS: usize = 16;

async fn from_discovery(
    conn: &Connection,
    timeout: Duration,
    wanted: &str,
) -> Result<DynamicService> {
    let discovery = Discovery::new(conn.clone()).with_timeout(timeout);
    // A full or NATS name is asked of that service alone, whose instances
    // answer together: a short wait for stragglers is enough. Anything
    // else (a short name, a typo to suggest against) asks every service.
    let mut infos = if wanted.is_empty() {
        Vec::new()
    } else {
        discovery
            .clone()
            .with_idle_gap(TARGETED_IDLE_GAP)
            .info(Some(&service_name(wanted)))
            .await?
    };
    infos.retain(|i| names(wanted, full_name(i), &i.name));
    if infos.is_empty() {
        infos = discovery.info(None).await?;
    }
    let instances = pick(&infos, wanted)?;
    // Every instance's schema: they must agree on where calls go, or the
    // name is claimed by more than one service and none is used.
    let schemas =
        nrpc_runtime::futures::future::join_all(instances.iter().take(MAX_SCHEMAS).map(|&info| {
            let discovery = &discovery;
            async move { (info, discovery.schema(info).await) }
        }))
        .await;
    let mut chosen: Option<(&str, DynamicService)> = None;
    for (info, schema) in schemas {
        let Some(schema) = schema? else {
            continue;
        };
        let service =
            DynamicService::from_schema(schema, format!("the schema of instance {}", info.id))?;
        match &chosen {
            None => chosen = Some((&info.id, service)),
            Some((first, known)) if !known.spec.routes_like(&service.spec) => {
                return Err(Error::Conflict(format!(
                    "instances {first} and {} describe {} with different subjects                      ({:?} vs {:?}); its calls are refused until they agree                      (or its definition is given as .proto files)",
                    info.id,
                    known.spec.name,
                    known.spec.package_subject,
                    service.spec.package_subject,
                )));
            }
            Some(_) => {}
        }
    }
    if let Some((_, service)) = chosen {
        return Ok(service);
    }
    let name = instances.first().map_or(wanted, |i| full_name(i));
    Err(Error::NoSchema(format!(
        "{name} publishes no schema (not an nrpc server, or an older one); \
         give its definition as .proto files"
    )))
}

/// The pool with the service a Rust-defined schema gives as `.proto` text.
/// That text is written for nRPC generators (a streamed reply is a unary
/// rpc with nRPC's `streamedReply` option); nobody generated gRPC code
/// from it, so its descriptor takes the gRPC shape of each method's kind,
/// which is how the gateway serves it.
fn describe_rust_service(
    spec: &ServiceSpec,
    text: &str,
    known: &DescriptorPool,
) -> Option<DescriptorPool> {
    let name = format!("{}.proto", spec.name);
    let compiled = nrpc_codegen::compile_with_descriptors(&name, text, known).ok()?;
    let mut files: Vec<_> = compiled.file_descriptor_protos().cloned().collect();
    let methods = files
        .iter_mut()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.service.iter_mut())
        .flat_map(|s| s.method.iter_mut());
    for method in methods {
        let shape = spec
            .methods
            .iter()
            .find(|m| *m.name == *method.name())
            .and_then(|m| m.kind.grpc_streams());
        if let Some((client, server)) = shape {
            method.client_streaming = Some(client);
            method.server_streaming = Some(server);
        }
    }
    DescriptorPool::from_file_descriptor_set(prost_reflect::prost_types::FileDescriptorSet {
        file: files,
    })
    .ok()
}

fn from_protos(wanted: &str, files: &[PathBuf], includes: &[PathBuf]) -> Result<DynamicService> {
    let mut services = all_from_protos(files, includes)?;
    let matching: Vec<usize> = (0..services.len())
        .filter(|&i| {
            let name = &services[i].spec.name;
            names(wanted, name, &service_name(name))
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok(services.swap_remove(*one)),
        [] => {
            let all: Vec<&str> = services.iter().map(|s| &*s.spec.name).collect();
            Err(Error::UnknownService(format!(
                "the .proto files define no service {wanted:?}{} (they define: {})",
                suggest(wanted, &all),
                if all.is_empty() {
                    "none".to_owned()
                } else {
                    all.join(", ")
                }
            )))
        }
        many => {
            let all: Vec<&str> = many.iter().map(|&i| &*services[i].spec.name).collect();
            Err(Error::UnknownService(format!(
                "{wanted:?} is ambiguous: {}",
                all.join(", ")
            )))
        }
    }
}

fn all_from_protos(files: &[PathBuf], includes: &[PathBuf]) -> Result<Vec<DynamicService>> {
    let mut includes = includes.to_vec();
    // A file is found relative to an include directory: its own, if none.
    if includes.is_empty() {
        for f in files {
            let dir = f
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            includes.push(if dir.as_os_str().is_empty() {
                ".".into()
            } else {
                dir
            });
        }
    }
    let (services, descriptors) = nrpc_codegen::configure()
        .read_services_with_descriptors(files, &includes)
        .map_err(|e| Error::Proto(e.to_string()))?;
    let pool = DescriptorPool::decode(descriptors.as_slice())
        .map_err(|e| Error::Proto(format!("the .proto files' descriptors: {e}")))?;
    let proto_name = |t: &nrpc_codegen::model::MessageType| match t {
        nrpc_codegen::model::MessageType::Void => None,
        nrpc_codegen::model::MessageType::Message(n) => Some(n.clone()),
    };
    Ok(services
        .into_iter()
        .map(|service| {
            let types = service
                .methods
                .iter()
                .map(|m| {
                    (
                        Message::find(&pool, proto_name(&m.input).as_deref()),
                        Message::find(&pool, proto_name(&m.output).as_deref()),
                    )
                })
                .collect();
            DynamicService {
                docs: service.docs.clone(),
                method_docs: service.methods.iter().map(|m| m.docs.clone()).collect(),
                origin: "the .proto files".to_owned(),
                ..DynamicService::new(service.spec, types, pool.clone())
            }
        })
        .collect())
}
