//! The one pass over the descriptor pool that fills the model: nRPC's
//! options (read by name from nrpc.proto's extensions), comments and the
//! places problems point at (`file:line:column`).

use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor, Value};

use std::time::Duration;

use nrpc_wire::durable::{parse_duration, Policy, Storage};
use nrpc_wire::subject::SubjectRule;

use super::{Diagnostic, PackageSubjectFallback, DESCRIPTOR_SET_FILE};
use crate::model::{self, MessageType, MethodKind, MethodPart, MethodSpec, ServiceSpec, Site};

fn ext<'a>(
    pool: &DescriptorPool,
    options: &'a DynamicMessage,
    name: &str,
) -> Option<std::borrow::Cow<'a, Value>> {
    let ext = pool.get_extension_by_name(name)?;
    options
        .has_extension(&ext)
        .then(|| options.get_extension(&ext))
}

fn ext_str(pool: &DescriptorPool, options: &DynamicMessage, name: &str) -> Option<String> {
    ext(pool, options, name).and_then(|v| v.as_str().map(str::to_owned))
}

fn ext_list(pool: &DescriptorPool, options: &DynamicMessage, name: &str) -> Vec<model::Text> {
    ext(pool, options, name)
        .and_then(|v| {
            v.as_list().map(|l| {
                l.iter()
                    .filter_map(|s| s.as_str().map(|s| model::Text::from(s.to_owned())))
                    .collect()
            })
        })
        .unwrap_or_default()
}

fn ext_bool(pool: &DescriptorPool, options: &DynamicMessage, name: &str) -> bool {
    ext(pool, options, name)
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

fn subject_rule(pool: &DescriptorPool, options: &DynamicMessage, name: &str) -> SubjectRule {
    // The option's value by its name in nrpc.proto, not its number.
    let value = ext(pool, options, name).and_then(|v| v.as_enum_number());
    value
        .and_then(|n| pool.get_enum_by_name("nrpc.SubjectRule")?.get_value(n))
        .and_then(|v| SubjectRule::from_proto_name(v.name()))
        .unwrap_or_default()
}

/// Comment lines as prost-build gives them (leading comments, one line each).
pub(super) fn comment_lines(text: &str) -> Vec<String> {
    text.lines().map(|l| l.trim_end().to_owned()).collect()
}

/// Source locations of one file, by descriptor path.
struct Places<'a> {
    file: &'a FileDescriptor,
    info: Option<&'a prost_types::SourceCodeInfo>,
}

impl Places<'_> {
    fn location(&self, path: &[i32]) -> Option<&prost_types::source_code_info::Location> {
        self.info?.location.iter().find(|l| l.path == path)
    }

    /// The leading comment of the element at `path`.
    fn docs(&self, path: &[i32]) -> Vec<String> {
        self.location(path)
            .and_then(|l| l.leading_comments.as_deref())
            .map(comment_lines)
            .unwrap_or_default()
    }

    /// A diagnostic at the first of `paths` that has a location.
    fn diagnostic(&self, paths: &[Vec<i32>], message: String) -> Diagnostic {
        let (line, column) = paths
            .iter()
            .find_map(|p| self.location(p))
            .and_then(|l| Some((l.span.first()? + 1, l.span.get(1)? + 1)))
            .map_or((0, 0), |(l, c)| {
                (u32::try_from(l).unwrap_or(0), u32::try_from(c).unwrap_or(0))
            });
        Diagnostic {
            file: self.file.name().to_owned(),
            line,
            column,
            message,
        }
    }
}

// Field numbers in descriptor.proto, for source location paths.
const FILE_PACKAGE: i32 = 2;
const FILE_SERVICE: i32 = 6;
const FILE_OPTIONS: i32 = 8;
const SERVICE_METHOD: i32 = 2;
const SERVICE_OPTIONS: i32 = 3;
const METHOD_NAME: i32 = 1;
const METHOD_OPTIONS: i32 = 4;

/// Reads the services of one file into validated models; problems are
/// added to `problems` with their places.
pub(super) fn read_services(
    file: &FileDescriptor,
    fallback: PackageSubjectFallback,
    problems: &mut Vec<Diagnostic>,
) -> Vec<model::Service> {
    let pool = file.parent_pool();
    let places = Places {
        file,
        info: file.file_descriptor_proto().source_code_info.as_ref(),
    };
    let ext_number = |name: &str| {
        pool.get_extension_by_name(name)
            .map_or(0, |e| i32::try_from(e.number()).unwrap_or(0))
    };
    let fopts = file.options();
    let package_subject = match ext_str(pool, &fopts, "nrpc.packageSubject") {
        Some(s) => s,
        None => match fallback {
            PackageSubjectFallback::GoCompatible
                if file.file_descriptor_proto().options.is_some() =>
            {
                String::new()
            }
            PackageSubjectFallback::GoCompatible | PackageSubjectFallback::PackageName => {
                file.package_name().to_owned()
            }
            PackageSubjectFallback::None => String::new(),
        },
    };
    let package_params = ext_list(pool, &fopts, "nrpc.packageSubjectParams");
    let service_rule = subject_rule(pool, &fopts, "nrpc.serviceSubjectRule");
    let method_rule = subject_rule(pool, &fopts, "nrpc.methodSubjectRule");

    let mut out = Vec::new();
    for (si, svc) in file.services().enumerate() {
        let si = i32::try_from(si).unwrap_or(i32::MAX);
        let svc_path = vec![FILE_SERVICE, si];
        let sopts = svc.options();
        let spec = ServiceSpec {
            name: svc.full_name().to_owned().into(),
            description: "".into(),
            package_subject: package_subject.clone().into(),
            package_params: package_params.clone().into(),
            service_subject: ext_str(pool, &sopts, "nrpc.serviceSubject")
                .unwrap_or_else(|| service_rule.apply(svc.name()))
                .into(),
            service_params: ext_list(pool, &sopts, "nrpc.serviceSubjectParams").into(),
            methods: Vec::new().into(),
        };
        let mut service = model::Service::new(svc.name(), places.docs(&svc_path), spec);
        service.descriptor_set_file = Some(DESCRIPTOR_SET_FILE.to_owned());
        let mut shape_problems = Vec::new();
        for (mi, m) in svc.methods().enumerate() {
            let mopts = m.options();
            let input_name = m.input().full_name().to_owned();
            let output_name = m.output().full_name().to_owned();
            let streamed_reply =
                ext_bool(pool, &mopts, "nrpc.streamedReply") || m.is_server_streaming();
            let kind = if m.is_client_streaming() {
                if input_name == "nrpc.NoRequest" || output_name == "nrpc.NoReply" {
                    shape_problems.push(model::Problem {
                        site: Site::Method(mi, MethodPart::Kind),
                        message: format!(
                            "rpc {}: a client-streaming method cannot use nrpc.NoRequest or nrpc.NoReply",
                            m.name()
                        ),
                    });
                }
                if streamed_reply {
                    MethodKind::Bidirectional
                } else {
                    MethodKind::ClientStreaming
                }
            } else if input_name == "nrpc.NoRequest" {
                MethodKind::NoRequest
            } else if output_name == "nrpc.NoReply" {
                MethodKind::NoReply
            } else if streamed_reply {
                MethodKind::StreamedReply
            } else {
                MethodKind::Unary
            };
            let durable = ext(pool, &mopts, "nrpc.durable").and_then(|v| match v.as_message() {
                Some(options) => match durable_policy(options) {
                    Ok(policy) => Some(policy),
                    Err(why) => {
                        shape_problems.push(model::Problem {
                            site: Site::Method(mi, MethodPart::Durable),
                            message: format!("rpc {}: (nrpc.durable): {why}", m.name()),
                        });
                        None
                    }
                },
                None => None,
            });
            let mi_path = i32::try_from(mi).unwrap_or(i32::MAX);
            service.push(
                MethodSpec {
                    name: m.name().to_owned().into(),
                    subject: ext_str(pool, &mopts, "nrpc.methodSubject")
                        .unwrap_or_else(|| method_rule.apply(m.name()))
                        .into(),
                    params: ext_list(pool, &mopts, "nrpc.methodSubjectParams").into(),
                    kind,
                    polling: ext_bool(pool, &mopts, "nrpc.pollingEnabled"),
                    durable,
                },
                model::Method {
                    rust_name: nrpc_wire::names::method_fn(m.name()),
                    docs: places.docs(&[FILE_SERVICE, si, SERVICE_METHOD, mi_path]),
                    input: message_type(&format!(".{input_name}"), &input_name),
                    output: message_type(&format!(".{output_name}"), &output_name),
                },
            );
        }
        let mut found = service.validate();
        found.extend(shape_problems);
        for problem in found {
            let paths = problem_paths(&problem.site, si, &ext_number);
            problems.push(places.diagnostic(&paths, problem.message));
        }
        out.push(service);
    }
    out
}

/// Where in the file a problem's site is, most precise first: the option
/// that sets it, else the element it belongs to.
fn problem_paths(site: &Site, service: i32, ext_number: &dyn Fn(&str) -> i32) -> Vec<Vec<i32>> {
    let svc = vec![FILE_SERVICE, service];
    let svc_option = |name: &str| vec![FILE_SERVICE, service, SERVICE_OPTIONS, ext_number(name)];
    let file_option = |name: &str| vec![FILE_OPTIONS, ext_number(name)];
    match *site {
        Site::Service => vec![svc],
        Site::PackageSubject => vec![file_option("nrpc.packageSubject"), vec![FILE_PACKAGE], svc],
        Site::PackageParams => vec![file_option("nrpc.packageSubjectParams"), svc],
        Site::ServiceSubject => vec![svc_option("nrpc.serviceSubject"), svc],
        Site::ServiceParams => vec![svc_option("nrpc.serviceSubjectParams"), svc],
        Site::Method(i, part) => {
            let m = vec![
                FILE_SERVICE,
                service,
                SERVICE_METHOD,
                i32::try_from(i).unwrap_or(i32::MAX),
            ];
            let option = |name: &str| {
                let mut p = m.clone();
                p.extend([METHOD_OPTIONS, ext_number(name)]);
                p
            };
            let mut name = m.clone();
            name.push(METHOD_NAME);
            match part {
                MethodPart::Name => vec![name, m],
                MethodPart::Subject => vec![option("nrpc.methodSubject"), m],
                MethodPart::Params => vec![option("nrpc.methodSubjectParams"), m],
                MethodPart::Kind => vec![
                    option("nrpc.pollingEnabled"),
                    option("nrpc.streamedReply"),
                    m,
                ],
                MethodPart::Durable => vec![option("nrpc.durable"), m],
            }
        }
    }
}

/// The policy an `(nrpc.durable)` option declares: each field set
/// replaces the default.
fn durable_policy(options: &DynamicMessage) -> Result<Policy, String> {
    let mut policy = Policy::default();
    let field = |name: &str| {
        options
            .has_field_by_name(name)
            .then(|| options.get_field_by_name(name))
            .flatten()
    };
    let duration = |name: &str| -> Result<Option<Duration>, String> {
        field(name)
            .and_then(|v| v.as_str().map(str::to_owned))
            .map(|text| parse_duration(&text).map_err(|e| format!("{name}: {e}")))
            .transpose()
    };
    let number = |name: &str| field(name).and_then(|v| v.as_u32());
    if let Some(n) = number("max_deliveries") {
        policy.max_deliveries = n;
    }
    if let Some(list) = field("backoff") {
        let delays = list
            .as_list()
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str())
            .map(|text| parse_duration(text).map_err(|e| format!("backoff: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        policy.backoff = delays.into();
    }
    if let Some(d) = duration("ack_wait")? {
        policy.ack_wait = d;
    }
    if let Some(d) = duration("handler_timeout")? {
        policy.handler_timeout = d;
    }
    if let Some(n) = number("concurrency") {
        policy.concurrency = n;
    }
    if let Some(d) = duration("dedup_window")? {
        policy.dedup_window = d;
    }
    policy.max_age = duration("max_age")?;
    if field("storage").and_then(|v| v.as_enum_number()) == Some(1) {
        policy.storage = Storage::Memory;
    }
    if let Some(n) = number("replicas") {
        policy.replicas = u8::try_from(n).map_err(|_| format!("replicas {n} is not 1 to 5"))?;
    }
    if let Some(on) = field("dead_letter").and_then(|v| v.as_bool()) {
        policy.dead_letter = on;
    }
    Ok(policy)
}

/// `()` for the empty messages, else the Rust path prost-build resolved.
pub(super) fn message_type(proto_type: &str, rust_type: &str) -> MessageType {
    match proto_type {
        ".nrpc.Void" | ".google.protobuf.Empty" => MessageType::Void,
        _ => MessageType::Message(rust_type.to_owned()),
    }
}
