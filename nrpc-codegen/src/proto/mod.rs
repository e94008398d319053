//! The `.proto` front end: protox parses, the nRPC options are read from
//! the descriptor pool, prost-build writes the messages and calls back for
//! each service, and the emitter writes the service code.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use prost::Message as _;
use prost_reflect::{DescriptorPool, FileDescriptor};
use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

use crate::emit::Sides;

use crate::model;

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
        let linked = Rc::new(std::cell::Cell::new(false));
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
                linked: linked.clone(),
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
        if !linked.get() {
            // No package has services (prost-build finalizes only those):
            // the first generated package carries the descriptor set, so a
            // service defined in Rust elsewhere finds these messages.
            if let Some(package) = runtime_fds
                .file
                .iter()
                .find(|f| opened.contains(&f.name().to_owned()) && !f.message_type.is_empty())
                .map(|f| f.package().to_owned())
            {
                let name = if package.is_empty() {
                    "_".to_owned()
                } else {
                    package
                };
                let path = out_dir.join(format!("{name}.rs"));
                let mut text = std::fs::read_to_string(&path).map_err(Error::Io)?;
                text.push('\n');
                text.push_str(&crate::emit::descriptor_set(DESCRIPTOR_SET_FILE, true));
                std::fs::write(&path, text).map_err(Error::Io)?;
            }
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

/// Serves the shipped `nrpc/nrpc.proto` and `nrpc/durable.proto`, and `nrpc.proto` (Go's helloworld
/// spelling) as a file that publicly imports it, so both spellings work
/// even together.
struct NrpcFileResolver;

impl FileResolver for NrpcFileResolver {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match name {
            "nrpc/nrpc.proto" => File::from_source(name, crate::NRPC_PROTO),
            "nrpc/durable.proto" => File::from_source(name, crate::NRPC_DURABLE_PROTO),
            "nrpc.proto" => File::from_source(
                name,
                "syntax = \"proto3\";\npackage nrpc;\nimport public \"nrpc/nrpc.proto\";\n",
            ),
            _ => Err(protox::Error::file_not_found(name)),
        }
    }
}

mod generator;
mod services;

#[cfg(feature = "grpc")]
use generator::tonic_generator;
use generator::ServiceGenerator;
use services::read_services;
