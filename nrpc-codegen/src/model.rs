//! The service model: what the emitter needs to know about a service,
//! independent of where it was defined (`.proto` file or Rust trait).
//!
//! It is the service as it exists on the wire — an `nrpc_wire`
//! [`ServiceSpec`], whose rules live in that crate — plus what only Rust
//! code needs: the Rust names, documentation and message types.

pub use nrpc_wire::{MethodKind, MethodPart, MethodSpec, Problem, ServiceSpec, Site, Text};

/// A service: its spec (subjects and methods on the wire) and its Rust side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The name as declared, e.g. `Greeter`; generated Rust names derive
    /// from it (see `nrpc_wire::names`).
    pub name: String,
    /// Documentation lines (from proto comments or doc attributes).
    pub docs: Vec<String>,
    /// The service on the wire. `spec.methods[i]` is the wire side of
    /// `methods[i]`.
    pub spec: ServiceSpec,
    /// The Rust side of each method, in declaration order.
    pub methods: Vec<Method>,
    /// File name (beside the generated file) of an encoded
    /// `FileDescriptorSet` describing the messages, registered at run time
    /// for JSON encoding. The generated file embeds it once, as
    /// [`descriptor_set`](crate::emit::descriptor_set) emits it; the
    /// service's constructors refer to that.
    pub descriptor_set_file: Option<String>,
}

/// The Rust side of one method of a [`Service`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method {
    /// The Rust method name, e.g. `say_hello` (raw, `r#type`, for keywords).
    pub rust_name: String,
    /// Documentation lines.
    pub docs: Vec<String>,
    /// The request type.
    pub input: MessageType,
    /// The reply type.
    pub output: MessageType,
}

/// A request or reply type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageType {
    /// `nrpc.Void` (or `google.protobuf.Empty`): `()` in Rust.
    Void,
    /// A message, by its Rust path as seen from the module the service is
    /// generated in (e.g. `HelloRequest`, `super::common::Id`).
    Message(String),
}

impl Service {
    /// A service with no methods yet; add them with [`push`](Self::push).
    /// The spec's description (what discovery reports) is the docs, joined
    /// into one line.
    pub fn new(name: impl Into<String>, docs: Vec<String>, spec: ServiceSpec) -> Self {
        let description = docs
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            name: name.into(),
            docs,
            spec: ServiceSpec {
                description: description.into(),
                methods: Vec::new().into(),
                ..spec
            },
            methods: Vec::new(),
            descriptor_set_file: None,
        }
    }

    /// Adds a method: its wire side and its Rust side.
    pub fn push(&mut self, spec: MethodSpec, method: Method) {
        self.spec.methods.to_mut().push(spec);
        self.methods.push(method);
    }

    /// Each method's wire side with its Rust side, with its index.
    pub fn methods(&self) -> impl Iterator<Item = (usize, &MethodSpec, &Method)> {
        self.spec
            .methods
            .iter()
            .zip(&self.methods)
            .enumerate()
            .map(|(i, (spec, method))| (i, spec, method))
    }

    /// Every problem with the service, in definition order: the wire
    /// rules (`ServiceSpec::validate`) and clashes among the generated Rust
    /// names (`nrpc_wire::names::check`). Both front ends report exactly
    /// these, each at its own place.
    pub fn validate(&self) -> Vec<Problem> {
        let mut problems = self.spec.validate();
        let rust_names: Vec<&str> = self.methods.iter().map(|m| m.rust_name.as_str()).collect();
        problems.extend(nrpc_wire::names::check(&self.spec, &rust_names));
        if self.spec.methods.len() != self.methods.len() {
            problems.push(Problem {
                site: Site::Service,
                message: format!(
                    "service {}: {} wire methods but {} Rust methods (a front-end bug)",
                    self.spec.name,
                    self.spec.methods.len(),
                    self.methods.len()
                ),
            });
        }
        // Problems about one method part come out in method order.
        problems.sort_by_key(|p| match p.site {
            Site::Method(i, _) => i + 1,
            _ => 0,
        });
        problems
    }
}
