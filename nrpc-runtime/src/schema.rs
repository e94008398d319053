//! Published schemas, an nrpc extension to NATS services discovery: every
//! served instance answers `_NRPC.schema.<name>.<id>` (named by the
//! `nrpc.schema` metadata entry of its INFO reply) with a
//! [`SchemaResponse`]: the service's subjects and call kinds, its message
//! types, and the protobuf descriptors that define them, so a tool can
//! call any method with JSON.
//!
//! The reply is made once when the server starts; nothing on the call path.

use std::collections::HashSet;

use base64::Engine as _;
use prost::Message as _;
use prost_reflect::{DescriptorPool, FileDescriptor};
use serde::{Deserialize, Serialize};

use crate::describe::{service_proto, MethodText};
use nrpc_wire::{MethodKind, MethodSpec, ServiceSpec};

/// `type` of a schema reply.
pub const SCHEMA_TYPE: &str = "io.nrpc.v1.schema_response";

/// The INFO metadata entry that names an instance's schema subject.
pub const SCHEMA_METADATA: &str = "nrpc.schema";

/// What a service's schema needs beyond its [`ServiceSpec`]: the
/// documentation and each method's message types. Generated adapters
/// provide it ([`Service::describe`](crate::server::Service::describe)).
#[derive(Debug, Clone, Default)]
pub struct Description {
    /// The service's documentation, one line per entry.
    pub docs: &'static [&'static str],
    /// One per method of the spec, in order.
    pub methods: Vec<MethodText>,
}

/// One method in a [`SchemaResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodSchema {
    /// The method name, e.g. `SayHello`.
    pub name: String,
    /// Its subject token(s).
    pub subject: String,
    /// Its subject parameter names, in order.
    #[serde(default)]
    pub params: Vec<String>,
    /// How it is called ([`MethodKind::as_str`]).
    pub kind: String,
    /// Whether every instance may be asked at once.
    #[serde(default)]
    pub polling: bool,
    /// `command` or `event` if it is durable (its stream is
    /// `nrpc_wire::durable::stream_name`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durable: Option<String>,
    /// Proto full name of the request type; absent for `nrpc.Void`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Proto full name of the reply type; absent for `nrpc.Void`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Its documentation, one line per entry (as written after `//`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docs: Vec<String>,
}

/// The reply on an instance's schema subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaResponse {
    /// Always [`SCHEMA_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The NATS services name (as in INFO).
    pub name: String,
    /// The instance id.
    pub id: String,
    /// The service's full proto name, e.g. `greeter.v1.Greeter`.
    pub service: String,
    /// What the service does (its documentation on one line).
    #[serde(default)]
    pub description: String,
    /// The service's documentation, one line per entry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docs: Vec<String>,
    /// The package subject the instance serves under (after any
    /// server-side override), without the subject prefix.
    #[serde(default)]
    pub package_subject: String,
    /// Package subject parameter names.
    #[serde(default)]
    pub package_params: Vec<String>,
    /// The service subject token(s).
    pub service_subject: String,
    /// Service subject parameter names.
    #[serde(default)]
    pub service_params: Vec<String>,
    /// The subject prefix the instance serves under (`NRPC_PREFIX`),
    /// empty for none.
    #[serde(default)]
    pub subject_prefix: String,
    /// The methods, in declaration order.
    pub methods: Vec<MethodSchema>,
    /// An encoded `google.protobuf.FileDescriptorSet`, base64 (standard
    /// alphabet, padded): the file that defines the service, if known, and
    /// the files of its message types, each after the files it imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor_set: Option<String>,
    /// The service as `.proto` text, for services whose own descriptor is
    /// not in the set (defined in Rust with `#[nats_service]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
}

/// Why a published schema does not describe a service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A method's kind is none nrpc knows.
    #[error("method {method}: unknown kind {kind:?}")]
    UnknownKind {
        /// The method.
        method: String,
        /// The kind it names.
        kind: String,
    },
    /// The service breaks the rules generated code follows.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<nrpc_wire::Problem>),
    /// `descriptor_set` is not base64.
    #[error("descriptor_set is not base64: {0}")]
    NotBase64(#[source] base64::DecodeError),
    /// `descriptor_set` is not a valid `FileDescriptorSet`.
    #[error("descriptor_set is not a valid FileDescriptorSet: {0}")]
    Descriptors(#[source] prost_reflect::DescriptorError),
}

impl SchemaResponse {
    /// The schema of `spec` as served under `package_subject` and
    /// `subject_prefix` by instance `id` (NATS services name `name`), with
    /// the descriptors the process's global pool holds.
    pub(crate) fn new(
        spec: &ServiceSpec,
        description: Option<Description>,
        (name, id): (&str, &str),
        package_subject: &str,
        subject_prefix: &str,
    ) -> Self {
        crate::codec::register_linked();
        let pool = DescriptorPool::global();
        let service_desc = pool.get_service_by_name(&spec.name);
        // Message names: from the adapter, else from the pool's service.
        let names: Vec<(Option<String>, Option<String>)> = match (&description, &service_desc) {
            (Some(d), _) => d
                .methods
                .iter()
                .map(|m| (m.input.clone(), m.output.clone()))
                .collect(),
            (None, Some(s)) => s
                .methods()
                .map(|m| {
                    let named = |full: &str| (!is_void(full)).then(|| full.to_owned());
                    (named(m.input().full_name()), named(m.output().full_name()))
                })
                .collect(),
            (None, None) => Vec::new(),
        };
        let methods = spec
            .methods
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let (input, output) = names.get(i).cloned().unwrap_or_default();
                let docs = description
                    .as_ref()
                    .and_then(|d| d.methods.get(i))
                    .map(|t| t.docs.iter().map(|l| (*l).to_owned()).collect())
                    .unwrap_or_default();
                MethodSchema {
                    name: m.name.to_string(),
                    subject: m.subject.to_string(),
                    params: m.params.iter().map(ToString::to_string).collect(),
                    kind: m.kind.as_str().to_owned(),
                    polling: m.polling,
                    durable: m
                        .durable
                        .as_ref()
                        .and_then(|_| nrpc_wire::durable::durability(m.kind))
                        .map(|d| d.as_str().to_owned()),
                    input,
                    output,
                    docs,
                }
            })
            .collect::<Vec<_>>();
        // The files that define the messages: what the service's `.proto`
        // text imports, and (with the service's own file) the roots of
        // the descriptor set.
        let mut message_files: Vec<FileDescriptor> = Vec::new();
        for m in &methods {
            for ty in [&m.input, &m.output].into_iter().flatten() {
                if let Some(msg) = pool.get_message_by_name(ty) {
                    let file = msg.parent_file();
                    if !message_files.contains(&file) {
                        message_files.push(file);
                    }
                }
            }
        }
        let proto = match (&service_desc, &description) {
            (None, Some(d)) => {
                let imports: Vec<&str> = message_files.iter().map(|f| f.name()).collect();
                Some(service_proto(spec, d.docs, &d.methods, &imports))
            }
            _ => None,
        };
        let roots: Vec<FileDescriptor> = service_desc
            .iter()
            .map(|s| s.parent_file())
            .chain(message_files)
            .collect();
        let files = with_imports(&roots);
        let descriptor_set = (!files.is_empty()).then(|| {
            let set = prost_types::FileDescriptorSet { file: files };
            base64::engine::general_purpose::STANDARD.encode(set.encode_to_vec())
        });
        Self {
            kind: SCHEMA_TYPE.to_owned(),
            name: name.to_owned(),
            id: id.to_owned(),
            service: spec.name.to_string(),
            description: spec.description.to_string(),
            docs: description
                .as_ref()
                .map(|d| d.docs.iter().map(|l| (*l).to_owned()).collect())
                .unwrap_or_default(),
            package_subject: package_subject.to_owned(),
            package_params: spec
                .package_params
                .iter()
                .map(ToString::to_string)
                .collect(),
            service_subject: spec.service_subject.to_string(),
            service_params: spec
                .service_params
                .iter()
                .map(ToString::to_string)
                .collect(),
            subject_prefix: subject_prefix.to_owned(),
            methods,
            descriptor_set,
            proto,
        }
    }

    /// The service as a [`ServiceSpec`], checked by the same rules as
    /// generated code ([`ServiceSpec::validate`]); the error names each
    /// problem.
    pub fn spec(&self) -> Result<ServiceSpec, SchemaError> {
        let methods = self
            .methods
            .iter()
            .map(|m| {
                let kind =
                    MethodKind::from_name(&m.kind).ok_or_else(|| SchemaError::UnknownKind {
                        method: m.name.clone(),
                        kind: m.kind.clone(),
                    })?;
                Ok(MethodSpec {
                    name: m.name.clone().into(),
                    subject: m.subject.clone().into(),
                    params: texts(&m.params),
                    kind,
                    polling: m.polling,
                    durable: None,
                })
            })
            .collect::<Result<Vec<_>, SchemaError>>()?;
        let spec = ServiceSpec {
            name: self.service.clone().into(),
            description: self.description.clone().into(),
            package_subject: self.package_subject.clone().into(),
            package_params: texts(&self.package_params),
            service_subject: self.service_subject.clone().into(),
            service_params: texts(&self.service_params),
            methods: methods.into(),
        };
        let problems = spec.validate();
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(SchemaError::Invalid(problems))
        }
    }

    /// The descriptors of the schema as a pool (empty if it has none).
    pub fn descriptor_pool(&self) -> Result<DescriptorPool, SchemaError> {
        let Some(b64) = &self.descriptor_set else {
            return Ok(DescriptorPool::new());
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(SchemaError::NotBase64)?;
        DescriptorPool::decode(bytes.as_slice()).map_err(SchemaError::Descriptors)
    }
}

fn texts(list: &[String]) -> std::borrow::Cow<'static, [nrpc_wire::spec::Text]> {
    list.iter()
        .map(|s| nrpc_wire::spec::Text::from(s.clone()))
        .collect::<Vec<_>>()
        .into()
}

/// `nrpc.Void` and `google.protobuf.Empty` are `()` on both sides.
fn is_void(full_name: &str) -> bool {
    matches!(full_name, "nrpc.Void" | "google.protobuf.Empty")
}

/// `roots` and every file they import, each after its imports, once.
fn with_imports(roots: &[FileDescriptor]) -> Vec<prost_types::FileDescriptorProto> {
    fn visit(
        f: &FileDescriptor,
        seen: &mut HashSet<String>,
        out: &mut Vec<prost_types::FileDescriptorProto>,
    ) {
        if !seen.insert(f.name().to_owned()) {
            return;
        }
        for dep in f.dependencies() {
            visit(&dep, seen, out);
        }
        out.push(f.file_descriptor_proto().clone());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in roots {
        visit(f, &mut seen, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nrpc_wire::Text;
    use std::borrow::Cow;

    fn spec() -> ServiceSpec {
        ServiceSpec {
            name: "shop.v1.Orders".into(),
            description: "Takes orders.".into(),
            package_subject: "shop".into(),
            package_params: Cow::Owned(vec![Text::from("region")]),
            service_subject: "Orders".into(),
            service_params: Cow::Borrowed(&[]),
            methods: Cow::Owned(vec![MethodSpec {
                name: "Watch".into(),
                subject: "Watch".into(),
                params: Cow::Owned(vec![Text::from("id")]),
                kind: MethodKind::StreamedReply,
                polling: false,
                durable: None,
            }]),
        }
    }

    #[test]
    fn a_schema_gives_back_the_spec_it_was_made_from() {
        let schema = SchemaResponse::new(&spec(), None, ("shop_v1_Orders", "i1"), "shop", "");
        let json = serde_json::to_string(&schema).unwrap_or_default();
        let back: SchemaResponse = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, schema);
        assert_eq!(back.spec().ok(), Some(spec()));
        assert!(
            back.descriptor_set.is_none(),
            "nothing registered for these types"
        );
        assert!(back.descriptor_pool().is_ok_and(|p| p.files().len() == 0));
    }

    #[test]
    fn a_schema_that_breaks_the_rules_is_refused() {
        let mut schema = SchemaResponse::new(&spec(), None, ("shop_v1_Orders", "i1"), "shop", "");
        schema.methods[0].kind = "sideways".into();
        assert!(schema
            .spec()
            .is_err_and(|e| e.to_string().contains("unknown kind \"sideways\"")));
        schema.methods[0].kind = "unary".into();
        schema.methods[0].subject = "a b".into();
        let invalid = schema.spec().unwrap_err();
        assert!(invalid.to_string().contains("Watch"), "{invalid}");
        assert!(matches!(invalid, SchemaError::Invalid(p) if !p.is_empty()));
        schema.descriptor_set = Some("not base64!".into());
        assert!(matches!(
            schema.descriptor_pool(),
            Err(SchemaError::NotBase64(_))
        ));
    }
}
