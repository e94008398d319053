//! A service described as `.proto` text, so a service defined in Rust
//! (`#[nats_service]`) can be handed to teams in other languages.

use std::fmt::Write as _;

use nrpc_wire::{MethodKind, ServiceSpec};

/// What the `.proto` text needs beyond the [`ServiceSpec`] for one method.
#[derive(Debug, Clone)]
pub struct MethodText {
    /// Proto full name of the request type; `None` is `nrpc.Void`.
    pub input: Option<String>,
    /// Proto full name of the reply type; `None` is `nrpc.Void`.
    pub output: Option<String>,
    /// Documentation, one line per entry.
    pub docs: &'static [&'static str],
}

fn comment(out: &mut String, indent: &str, docs: &[&str]) {
    for line in docs {
        let _ = writeln!(out, "{indent}//{line}");
    }
}

/// The `.proto` text of `spec`: package, imports, nRPC file options and the
/// service with every subject spelled out as an option, so any nRPC
/// generator computes the same subjects. `methods` has one entry per method
/// of `spec`; `imports` are the files that define the messages (repeats
/// and `nrpc/nrpc.proto` are written once).
pub fn service_proto(
    spec: &ServiceSpec,
    docs: &[&str],
    methods: &[MethodText],
    imports: &[&str],
) -> String {
    let (package, service) = match spec.name.rsplit_once('.') {
        Some((p, s)) => (Some(p), s),
        None => (None, &*spec.name),
    };
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        out,
        "// The service `{}`, as defined in Rust with nrpc.",
        spec.name
    );
    out.push_str("syntax = \"proto3\";\n\n");
    if let Some(p) = package {
        let _ = writeln!(out, "package {p};\n");
    }
    out.push_str("import \"nrpc/nrpc.proto\";\n");
    // Each file once (protoc refuses a repeated import), nrpc's own above.
    let mut seen = vec!["nrpc/nrpc.proto"];
    for i in imports {
        if !seen.contains(i) {
            seen.push(i);
            let _ = writeln!(out, "import \"{i}\";");
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "option (nrpc.packageSubject) = \"{}\";",
        spec.package_subject
    );
    for p in spec.package_params.iter() {
        let _ = writeln!(out, "option (nrpc.packageSubjectParams) = \"{p}\";");
    }
    out.push('\n');
    comment(&mut out, "", docs);
    let _ = writeln!(out, "service {service} {{");
    let _ = writeln!(
        out,
        "    option (nrpc.serviceSubject) = \"{}\";",
        spec.service_subject
    );
    for p in spec.service_params.iter() {
        let _ = writeln!(out, "    option (nrpc.serviceSubjectParams) = \"{p}\";");
    }
    let type_name = |t: &Option<String>| match t {
        Some(name) => format!(".{name}"),
        None => ".nrpc.Void".to_owned(),
    };
    for (method, text) in spec.methods.iter().zip(methods) {
        out.push('\n');
        comment(&mut out, "    ", text.docs);
        let _ = writeln!(
            out,
            "    rpc {}({}) returns ({}) {{",
            method.name,
            match method.kind {
                MethodKind::NoRequest => ".nrpc.NoRequest".to_owned(),
                k if k.streams_requests() => format!("stream {}", type_name(&text.input)),
                _ => type_name(&text.input),
            },
            match method.kind {
                MethodKind::NoReply => ".nrpc.NoReply".to_owned(),
                MethodKind::Bidirectional => format!("stream {}", type_name(&text.output)),
                _ => type_name(&text.output),
            },
        );
        let _ = writeln!(
            out,
            "        option (nrpc.methodSubject) = \"{}\";",
            method.subject
        );
        for p in method.params.iter() {
            let _ = writeln!(out, "        option (nrpc.methodSubjectParams) = \"{p}\";");
        }
        if method.polling {
            out.push_str("        option (nrpc.pollingEnabled) = true;\n");
        }
        if method.kind == MethodKind::StreamedReply {
            out.push_str("        option (nrpc.streamedReply) = true;\n");
        }
        out.push_str("    }\n");
    }
    out.push_str("}\n");
    out
}
