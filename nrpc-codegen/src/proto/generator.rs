//! prost-build's service callback: message paths from prost-build, the
//! service code from the emitter, and (feature `grpc`) tonic-build's
//! generator for the same services.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::services::message_type;
use super::DESCRIPTOR_SET_FILE;
use crate::emit::{self, Sides};
use crate::model;

pub(super) struct ServiceGenerator {
    pub(super) services: HashMap<String, model::Service>,
    pub(super) sides: Sides,
    /// The service code of each package, written so far.
    pub(super) code: HashMap<String, String>,
    /// Packages given a service that registers descriptors.
    pub(super) with_descriptors: HashSet<String>,
    /// Whether a package has submitted the compile's descriptor set to the
    /// runtime already.
    pub(super) linked: Rc<std::cell::Cell<bool>>,
    /// The service files to write: name in the output directory, text.
    pub(super) files: Rc<RefCell<Vec<(String, String)>>>,
    /// tonic-build's generator, when gRPC is asked for.
    pub(super) grpc: Option<Box<dyn prost_build::ServiceGenerator>>,
    /// Each package's `grpc` module body so far.
    pub(super) grpc_code: HashMap<String, String>,
}

/// tonic-build's service generator, its protobuf codec taken from the
/// runtime (a service crate needs no tonic-prost).
#[cfg(feature = "grpc")]
pub(super) fn tonic_generator() -> Box<dyn prost_build::ServiceGenerator> {
    tonic_prost_build::configure()
        .codec_path("::nrpc_runtime::codegen::grpc::ProstCodec")
        .service_generator()
}

/// The file beside a package's generated file that holds its services
/// (`-` cannot occur in a package name, so it never clashes with one).
pub(super) fn services_file(package: &str) -> String {
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
        // The first package of the compile submits the set to the runtime.
        let link = !self.linked.get();
        let mut code = match self.code.remove(package) {
            Some(code) => code,
            None if link => String::new(),
            None => return,
        };
        if self.with_descriptors.contains(package) || link {
            if !code.is_empty() {
                code.push('\n');
            }
            code.push_str(&emit::descriptor_set(DESCRIPTOR_SET_FILE, link));
            if link {
                self.linked.set(true);
            }
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
