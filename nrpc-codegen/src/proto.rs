//! The `.proto` front end: protox parses, the nRPC options are read from
//! the descriptor pool, prost-build writes the messages and calls back for
//! each service, and the emitter writes the service code.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor, Value};
use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

use crate::emit::{self, Sides};
use crate::model::{self, MessageType, MethodKind};

/// Name of the descriptor set file written beside the generated code.
const DESCRIPTOR_SET_FILE: &str = "nrpc-descriptors.bin";

/// Where the package subject comes from when a file sets no
/// `packageSubject` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PackageSubjectFallback {
    /// What Go's protoc-gen-nrpc does today: the proto package name if the
    /// file has no options at all, otherwise no prefix (a file with
    /// `go_package`, for example, gets none).
    #[default]
    GoCompatible,
    /// Always the proto package name (nRPC's Python generator and its old
    /// documentation).
    PackageName,
    /// Never a prefix.
    None,
}

/// Why code generation failed. Each message names the `.proto` file.
#[derive(Debug)]
pub enum Error {
    /// The `.proto` files could not be parsed or resolved.
    Parse(String),
    /// A service uses options or types nrpc cannot generate code for.
    Invalid {
        /// The `.proto` file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Writing the output failed.
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse(m) => write!(f, "nrpc-codegen: {m}"),
            Error::Invalid { file, message } => write!(f, "nrpc-codegen: {file}: {message}"),
            Error::Io(e) => write!(f, "nrpc-codegen: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Settings for generating code; start with [`configure`].
pub struct Builder {
    client: bool,
    server: bool,
    out_dir: Option<PathBuf>,
    fallback: PackageSubjectFallback,
    prost: prost_build::Config,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("client", &self.client)
            .field("server", &self.server)
            .field("out_dir", &self.out_dir)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

/// A [`Builder`] that generates clients and servers into `OUT_DIR`.
pub fn configure() -> Builder {
    Builder {
        client: true,
        server: true,
        out_dir: None,
        fallback: PackageSubjectFallback::default(),
        prost: prost_build::Config::new(),
    }
}

impl Builder {
    /// Whether to generate `<service>_client` modules (default on).
    pub fn build_client(mut self, yes: bool) -> Self {
        self.client = yes;
        self
    }

    /// Whether to generate `<service>_server` modules (default on).
    pub fn build_server(mut self, yes: bool) -> Self {
        self.server = yes;
        self
    }

    /// Where to write the generated files (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The package subject of files without a `packageSubject` option.
    pub fn package_subject_fallback(mut self, fallback: PackageSubjectFallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// Passed to prost-build: use an existing Rust type for a proto path.
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.prost.extern_path(proto_path, rust_path);
        self
    }

    /// Passed to prost-build: add an attribute to matching messages and enums.
    pub fn type_attribute(mut self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.prost.type_attribute(path, attribute);
        self
    }

    /// Passed to prost-build: add an attribute to matching fields.
    pub fn field_attribute(mut self, path: impl AsRef<str>, attribute: impl AsRef<str>) -> Self {
        self.prost.field_attribute(path, attribute);
        self
    }

    /// Passed to prost-build: use `bytes::Bytes` for matching `bytes` fields.
    pub fn bytes(mut self, paths: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        self.prost.bytes(paths);
        self
    }

    /// Gives access to every other prost-build setting.
    pub fn prost_config(mut self, f: impl FnOnce(&mut prost_build::Config)) -> Self {
        f(&mut self.prost);
        self
    }

    /// Reads the services of `protos` into models without writing code:
    /// subjects, params and call kinds as generated code would have them;
    /// message types are given by their proto full names (`pkg.Msg`).
    pub fn read_services(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Vec<model::Service>, Error> {
        let (_, services) = self.parse(protos, includes)?;
        let mut services: Vec<_> = services.into_values().collect();
        services.sort_by(|a, b| a.full_name.cmp(&b.full_name));
        Ok(services)
    }

    fn parse(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(protox::Compiler, HashMap<String, model::Service>), Error> {
        let mut resolver = ChainFileResolver::new();
        for include in includes {
            resolver.add(IncludeFileResolver::new(include.as_ref().to_owned()));
        }
        resolver.add(NrpcFileResolver);
        resolver.add(GoogleFileResolver::new());
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true).include_source_info(true);
        for proto in protos {
            compiler
                .open_file(proto.as_ref())
                .map_err(|e| Error::Parse(format!("{}: {e:?}", proto.as_ref().display())))?;
        }
        let opened: HashSet<String> = compiler
            .files()
            .filter(|f| !f.is_import())
            .map(|f| f.name().to_owned())
            .collect();
        let pool = compiler.descriptor_pool();
        let mut services = HashMap::new();
        for file in pool.files().filter(|f| opened.contains(f.name())) {
            for svc in read_services(&file, self.fallback)? {
                services.insert(svc.full_name.clone(), svc);
            }
        }
        Ok((compiler, services))
    }

    /// Parses `protos` (found through `includes`) and writes one Rust file
    /// per proto package into the output directory.
    pub fn compile_protos(
        self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(), Error> {
        let (compiler, services) = self.parse(protos, includes)?;
        if std::env::var_os("CARGO").is_some() && std::env::var_os("OUT_DIR").is_some() {
            for f in compiler.files() {
                if let Some(path) = f.path() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
        let opened: HashSet<String> = compiler
            .files()
            .filter(|f| !f.is_import())
            .map(|f| f.name().to_owned())
            .collect();

        let out_dir = match self.out_dir {
            Some(d) => d,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| Error::Parse("OUT_DIR is not set; call out_dir()".into()))?,
        };
        std::fs::create_dir_all(&out_dir).map_err(Error::Io)?;

        // Descriptors for JSON at run time, without source info.
        let fds = compiler.file_descriptor_set();
        let mut runtime_fds = fds.clone();
        for f in &mut runtime_fds.file {
            f.source_code_info = None;
        }
        std::fs::write(
            out_dir.join(DESCRIPTOR_SET_FILE),
            runtime_fds.encode_to_vec(),
        )
        .map_err(Error::Io)?;

        let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut prost = self.prost;
        prost
            .out_dir(&out_dir)
            .enable_type_names()
            .prost_path("::nrpc_runtime::codegen::prost")
            .extern_path(".nrpc", "::nrpc_runtime::proto")
            .service_generator(Box::new(ServiceGenerator {
                services,
                sides: Sides {
                    client: self.client,
                    server: self.server,
                    proto_source: false,
                },
                errors: errors.clone(),
            }));
        // prost-build panics on some inputs; report them as errors too.
        let files: Vec<String> = opened.iter().cloned().collect();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prost.compile_fds(fds)))
            .map_err(|_| Error::Parse(format!("prost-build failed on {}", files.join(", "))))?
            .map_err(Error::Io)?;
        let errors = std::mem::take(&mut *errors.lock().unwrap_or_else(|e| e.into_inner()));
        match errors.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Serves the shipped `nrpc/nrpc.proto`, and `nrpc.proto` (Go's helloworld
/// spelling) as a file that publicly imports it, so both spellings work
/// even together.
struct NrpcFileResolver;

impl FileResolver for NrpcFileResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match name {
            "nrpc/nrpc.proto" => File::from_source(name, crate::NRPC_PROTO),
            "nrpc.proto" => File::from_source(
                name,
                "syntax = \"proto3\";\npackage nrpc;\nimport public \"nrpc/nrpc.proto\";\n",
            ),
            _ => Err(protox::Error::file_not_found(name)),
        }
    }
}

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

fn ext_list(pool: &DescriptorPool, options: &DynamicMessage, name: &str) -> Vec<String> {
    ext(pool, options, name)
        .and_then(|v| {
            v.as_list().map(|l| {
                l.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
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

fn to_lower(pool: &DescriptorPool, options: &DynamicMessage, name: &str) -> bool {
    ext(pool, options, name).and_then(|v| v.as_enum_number()) == Some(1)
}

/// The default subject token for a name under a `SubjectRule`.
fn apply_rule(name: &str, to_lower: bool) -> String {
    if to_lower {
        name.to_lowercase()
    } else {
        name.to_owned()
    }
}

/// Reads the services of one file into models (message paths are filled
/// in later by prost-build's callback).
fn read_services(
    file: &FileDescriptor,
    fallback: PackageSubjectFallback,
) -> Result<Vec<model::Service>, Error> {
    let pool = file.parent_pool();
    let fname = file.name().to_owned();
    let invalid = |message: String| Error::Invalid {
        file: fname.clone(),
        message,
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
    let svc_lower = to_lower(pool, &fopts, "nrpc.serviceSubjectRule");
    let method_lower = to_lower(pool, &fopts, "nrpc.methodSubjectRule");

    let check_subject = |what: &str, s: &str| -> Result<(), Error> {
        let bad = s
            .split('.')
            .any(|t| t.is_empty() || t.contains(['*', '>']) || t.chars().any(char::is_whitespace));
        if bad {
            return Err(invalid(format!("{what} {s:?} is not a valid NATS subject")));
        }
        Ok(())
    };
    if !package_subject.is_empty() {
        check_subject("packageSubject", &package_subject)?;
    }

    let mut out = Vec::new();
    for svc in file.services() {
        let sopts = svc.options();
        let service_subject = ext_str(pool, &sopts, "nrpc.serviceSubject")
            .unwrap_or_else(|| apply_rule(svc.name(), svc_lower));
        check_subject("serviceSubject", &service_subject)?;
        let service_params = ext_list(pool, &sopts, "nrpc.serviceSubjectParams");
        let mut methods = Vec::new();
        let mut seen_subjects = HashSet::new();
        for m in svc.methods() {
            let mopts = m.options();
            let subject = ext_str(pool, &mopts, "nrpc.methodSubject")
                .unwrap_or_else(|| apply_rule(m.name(), method_lower));
            check_subject("methodSubject", &subject)?;
            if !seen_subjects.insert(subject.clone()) {
                return Err(invalid(format!(
                    "{}.{}: method subject {subject:?} is used by two methods",
                    svc.full_name(),
                    m.name()
                )));
            }
            let input_name = m.input().full_name().to_owned();
            let output_name = m.output().full_name().to_owned();
            let streamed_reply =
                ext_bool(pool, &mopts, "nrpc.streamedReply") || m.is_server_streaming();
            let kind = if m.is_client_streaming() {
                if input_name == "nrpc.NoRequest" || output_name == "nrpc.NoReply" {
                    return Err(invalid(format!(
                        "{}.{}: a client-streaming method cannot use nrpc.NoRequest or nrpc.NoReply",
                        svc.full_name(),
                        m.name()
                    )));
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
            methods.push(model::Method {
                name: m.name().to_owned(),
                rust_name: String::new(),
                docs: Vec::new(),
                subject,
                params: ext_list(pool, &mopts, "nrpc.methodSubjectParams"),
                input: message_type(&format!(".{input_name}"), &input_name),
                output: message_type(&format!(".{output_name}"), &output_name),
                kind,
                polling: ext_bool(pool, &mopts, "nrpc.pollingEnabled"),
            });
        }
        for p in package_params
            .iter()
            .chain(&service_params)
            .chain(methods.iter().flat_map(|m| &m.params))
        {
            if p.is_empty() || !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid(format!(
                    "{}: subject parameter name {p:?} must be a non-empty identifier",
                    svc.full_name()
                )));
            }
        }
        out.push(model::Service {
            name: svc.name().to_owned(),
            full_name: svc.full_name().to_owned(),
            docs: Vec::new(),
            package_subject: package_subject.clone(),
            package_params: package_params.clone(),
            service_subject,
            service_params,
            methods,
            descriptor_set_file: Some(DESCRIPTOR_SET_FILE.to_owned()),
        });
    }
    Ok(out)
}

/// `()` for the empty messages, else the Rust path prost-build resolved.
fn message_type(proto_type: &str, rust_type: &str) -> MessageType {
    match proto_type {
        ".nrpc.Void" | ".google.protobuf.Empty" => MessageType::Void,
        _ => MessageType::Message(rust_type.to_owned()),
    }
}

struct ServiceGenerator {
    services: HashMap<String, model::Service>,
    sides: Sides,
    errors: Arc<std::sync::Mutex<Vec<Error>>>,
}

fn comment_lines(c: &prost_build::Comments) -> Vec<String> {
    c.leading
        .iter()
        .flat_map(|block| block.lines().map(|l| l.trim_end().to_owned()))
        .collect()
}

impl prost_build::ServiceGenerator for ServiceGenerator {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        let full_name = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };
        let Some(mut svc) = self.services.get(&full_name).cloned() else {
            return;
        };
        svc.docs = comment_lines(&service.comments);
        for (m, pm) in svc.methods.iter_mut().zip(&service.methods) {
            m.rust_name = pm.name.clone();
            m.docs = comment_lines(&pm.comments);
            m.input = message_type(&pm.input_proto_type, &pm.input_type);
            m.output = message_type(&pm.output_proto_type, &pm.output_type);
        }
        match emit::pretty(emit::service(&svc, self.sides)) {
            Ok(code) => buf.push_str(&code),
            Err(e) => self
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Error::Invalid {
                    file: full_name,
                    message: format!("generated code does not parse: {e}"),
                }),
        }
    }
}
