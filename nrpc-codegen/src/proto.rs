//! The `.proto` front end: protox parses, the nRPC options are read from
//! the descriptor pool, prost-build writes the messages and calls back for
//! each service, and the emitter writes the service code.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, FileDescriptor, Value};
use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

use crate::emit::{self, Sides};
use nrpc_wire::subject::SubjectRule;

use crate::model::{self, MessageType, MethodKind, MethodPart, MethodSpec, ServiceSpec, Site};

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

/// Why code generation failed. Each message names the `.proto` file, and
/// where it can, the line and column.
///
/// `Debug` prints the same text as `Display`, so a `build.rs` returning
/// this error shows readable messages.
pub enum Error {
    /// The `.proto` files could not be parsed or resolved
    /// (`file:line:column: message`).
    Parse(String),
    /// Services use options, names or types nrpc cannot generate code for;
    /// every problem found, in file order.
    Invalid(Vec<Diagnostic>),
    /// Writing the output failed.
    Io(std::io::Error),
}

/// One problem in a `.proto` file, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The `.proto` file, as named to the compiler.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse(m) => write!(f, "nrpc-codegen: {m}"),
            Error::Invalid(all) => {
                for (i, d) in all.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "nrpc-codegen: {d}")?;
                }
                Ok(())
            }
            Error::Io(e) => write!(f, "nrpc-codegen: {e}"),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}

/// A protox error as `file:line:column: message`, with a hint where one
/// helps.
fn parse_error(e: &protox::Error) -> Error {
    // protox's Debug form is the compact one, with the place.
    let mut text = format!("{e:?}");
    if text.contains("is not defined") {
        text.push_str(
            " (if it is declared in another .proto file, add an `import` of that file;              types are named with their package, e.g. `common.v1.Id`)",
        );
    }
    Error::Parse(text)
}

/// Settings for generating code; start with [`configure`].
pub struct Builder {
    client: bool,
    server: bool,
    #[cfg(feature = "grpc")]
    grpc: bool,
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
        #[cfg(feature = "grpc")]
        grpc: false,
        out_dir: None,
        fallback: PackageSubjectFallback::default(),
        prost: prost_build::Config::new(),
    }
}

impl Builder {
    /// Also writes `name` into the output directory: one file with a
    /// module per protobuf package (`shop::orders::v1`, …) around the
    /// generated files, for crates with several packages, whose generated
    /// code refers across packages (`super::super::common::v1::Money`).
    /// `include!` that one file at the crate root.
    pub fn include_file(mut self, name: impl AsRef<Path>) -> Self {
        self.prost.include_file(name.as_ref());
        self
    }

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

    /// Also generate, in each package's `grpc` module, tonic's gRPC
    /// client and server for the same services (through tonic-build) and
    /// `<Service>Grpc<T>`, which serves an implementation of the nrpc
    /// trait over gRPC: one implementation, two transports. The service
    /// crate needs `tonic` 0.14 and nrpc-runtime's `grpc` feature.
    #[cfg(feature = "grpc")]
    pub fn grpc(mut self, yes: bool) -> Self {
        self.grpc = yes;
        self
    }

    /// Where to write the generated files (default: `OUT_DIR`). Per proto
    /// package: `<package>.rs` (messages, from prost-build), which
    /// includes `<package>-nrpc.rs` (the services) from beside it, and one
    /// `nrpc-descriptors.bin`; keep them together if you copy them.
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

    /// Reads and validates the services of `protos` into models without
    /// writing code: subjects, params, call kinds, Rust method names and
    /// docs as generated code would have them. Message types are given by
    /// their proto full names (`pkg.Msg`): their Rust paths are prost-build's
    /// to decide, when it generates the messages.
    pub fn read_services(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Vec<model::Service>, Error> {
        let (_, services) = self.parse(protos, includes)?;
        let mut services: Vec<_> = services.into_values().collect();
        services.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        Ok(services)
    }

    /// [`read_services`](Self::read_services), with the encoded
    /// `FileDescriptorSet` of the files and everything they import, for
    /// tools that encode the messages at run time.
    pub fn read_services_with_descriptors(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<(Vec<model::Service>, Vec<u8>), Error> {
        let (compiler, services) = self.parse(protos, includes)?;
        let mut services: Vec<_> = services.into_values().collect();
        services.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        Ok((services, compiler.encode_file_descriptor_set()))
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
                .map_err(|e| parse_error(&e))?;
        }
        let opened: HashSet<String> = compiler
            .files()
            .filter(|f| !f.is_import())
            .map(|f| f.name().to_owned())
            .collect();
        let pool = compiler.descriptor_pool();
        let mut services = HashMap::new();
        let mut problems = Vec::new();
        let mut files: Vec<FileDescriptor> =
            pool.files().filter(|f| opened.contains(f.name())).collect();
        files.sort_by(|a, b| a.name().cmp(b.name()));
        for file in files {
            for svc in read_services(&file, self.fallback, &mut problems) {
                services.insert(svc.spec.name.to_string(), svc);
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
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

        let files = Rc::new(RefCell::new(Vec::new()));
        #[cfg(feature = "grpc")]
        let grpc = self.grpc.then(tonic_generator);
        #[cfg(not(feature = "grpc"))]
        let grpc = None;
        let mut prost = self.prost;
        prost
            .out_dir(&out_dir)
            .enable_type_names()
            .prost_path("::nrpc_runtime::codegen::prost")
            // Well-known types from the runtime, so a service crate needs
            // no prost-types of its own.
            .prost_types_path("::nrpc_runtime::prost_types")
            .extern_path(".nrpc", "::nrpc_runtime::proto")
            .service_generator(Box::new(ServiceGenerator {
                services,
                sides: Sides {
                    client: self.client,
                    server: self.server,
                    proto_source: false,
                },
                code: HashMap::new(),
                with_descriptors: HashSet::new(),
                files: files.clone(),
                grpc,
                grpc_code: HashMap::new(),
            }));
        // prost-build panics on some inputs; report them as errors too.
        let opened: Vec<String> = opened.into_iter().collect();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prost.compile_fds(fds)))
            .map_err(|_| Error::Parse(format!("prost-build failed on {}", opened.join(", "))))?
            .map_err(Error::Io)?;
        for (name, text) in files.take() {
            write_if_changed(&out_dir.join(name), &text)?;
        }
        Ok(())
    }
}

/// Writes `text` to `path` unless the file holds it already (so that an
/// unchanged service does not make cargo rebuild its crate).
fn write_if_changed(path: &Path, text: &str) -> Result<(), Error> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(Error::Io)
}

/// Compiles one `.proto` file given as text (`name`, `source`) whose
/// imports are among the files of `known` or are nrpc's and Google's own;
/// the pool returned holds every file of `known` and the new one.
/// For tools that learn a service defined in Rust, whose schema carries its
/// messages as descriptors and the service itself as `.proto` text.
pub fn compile_with_descriptors(
    name: &str,
    source: &str,
    known: &DescriptorPool,
) -> Result<DescriptorPool, Error> {
    /// The one file given as text.
    struct Text(String, String);
    impl FileResolver for Text {
        fn open_file(&self, name: &str) -> Result<File, protox::Error> {
            if name == self.0 {
                File::from_source(name, &self.1)
            } else {
                Err(protox::Error::file_not_found(name))
            }
        }
    }
    let names: Vec<String> = known.files().map(|f| f.name().to_owned()).collect();
    let known = prost_types::FileDescriptorSet {
        file: known.file_descriptor_protos().cloned().collect(),
    };
    let mut resolver = ChainFileResolver::new();
    resolver.add(Text(name.to_owned(), source.to_owned()));
    resolver.add(protox::file::DescriptorSetFileResolver::new(known));
    resolver.add(NrpcFileResolver);
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true);
    for file in names.iter().map(String::as_str).chain([name]) {
        compiler.open_file(file).map_err(|e| parse_error(&e))?;
    }
    Ok(compiler.descriptor_pool())
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
fn comment_lines(text: &str) -> Vec<String> {
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
fn read_services(
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
            }
        }
    }
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
    /// The service code of each package, written so far.
    code: HashMap<String, String>,
    /// Packages given a service that registers descriptors.
    with_descriptors: HashSet<String>,
    /// The service files to write: name in the output directory, text.
    files: Rc<RefCell<Vec<(String, String)>>>,
    /// tonic-build's generator, when gRPC is asked for.
    grpc: Option<Box<dyn prost_build::ServiceGenerator>>,
    /// Each package's `grpc` module body so far.
    grpc_code: HashMap<String, String>,
}

/// tonic-build's service generator, its protobuf codec taken from the
/// runtime (a service crate needs no tonic-prost).
#[cfg(feature = "grpc")]
fn tonic_generator() -> Box<dyn prost_build::ServiceGenerator> {
    tonic_prost_build::configure()
        .codec_path("::nrpc_runtime::codegen::grpc::ProstCodec")
        .service_generator()
}

/// The file beside a package's generated file that holds its services
/// (`-` cannot occur in a package name, so it never clashes with one).
fn services_file(package: &str) -> String {
    let package = if package.is_empty() { "_" } else { package };
    format!("{package}-nrpc.rs")
}

impl prost_build::ServiceGenerator for ServiceGenerator {
    fn generate(&mut self, service: prost_build::Service, _buf: &mut String) {
        let full_name = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };
        let Some(mut svc) = self.services.get(&full_name).cloned() else {
            return;
        };
        // Message paths are prost-build's: it names the message types.
        for (m, pm) in svc.methods.iter_mut().zip(&service.methods) {
            m.input = message_type(&pm.input_proto_type, &pm.input_type);
            m.output = message_type(&pm.output_proto_type, &pm.output_type);
        }
        if svc.descriptor_set_file.is_some() {
            self.with_descriptors.insert(service.package.clone());
        }
        if let Some(tonic) = &mut self.grpc {
            let code = self.grpc_code.entry(service.package.clone()).or_default();
            let methods: Vec<emit::TonicMethod> = service
                .methods
                .iter()
                .map(|m| emit::TonicMethod {
                    input: m.input_type.clone(),
                    output: m.output_type.clone(),
                    client_streaming: m.client_streaming,
                    server_streaming: m.server_streaming,
                })
                .collect();
            // tonic's code goes one module deeper (the package's `grpc`),
            // so its relative message paths start one level further up.
            let mut deeper = service.clone();
            for m in &mut deeper.methods {
                m.input_type = emit::tonic_type(&m.input_type);
                m.output_type = emit::tonic_type(&m.output_type);
            }
            tonic.generate(deeper, code);
            code.push_str(&emit::grpc_glue(&svc, &methods));
        }
        let code = self.code.entry(service.package).or_default();
        if !code.is_empty() {
            code.push('\n');
        }
        code.push_str(&emit::service(&svc, self.sides));
    }

    /// The services go to a file of their own, written already formatted,
    /// which the package's file includes: prost-build formats only its
    /// messages (parsing and formatting the services again took most of
    /// the generation time in an unoptimized build script).
    fn finalize_package(&mut self, package: &str, buf: &mut String) {
        let Some(mut code) = self.code.remove(package) else {
            return;
        };
        if self.with_descriptors.contains(package) {
            code.push('\n');
            code.push_str(&emit::descriptor_set(DESCRIPTOR_SET_FILE));
        }
        if let Some(grpc) = self.grpc_code.remove(package) {
            code.push_str(
                "\n/// gRPC (tonic) for the services of this package: tonic's client and\n\
                 /// server modules, and `<Service>Grpc<T>` serving the nrpc trait over gRPC.\n\
                 pub mod grpc {\n",
            );
            for line in grpc.lines() {
                if !line.is_empty() {
                    code.push_str("    ");
                }
                code.push_str(line);
                code.push('\n');
            }
            code.push_str("}\n");
        }
        let file = services_file(package);
        buf.push_str(&format!("include!({file:?});\n"));
        let text = format!("// This file is @generated by nrpc-codegen.\n{code}");
        self.files.borrow_mut().push((file, text));
    }
}
