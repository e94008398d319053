//! Descriptors back to `.proto` text: a service (or some of its methods)
//! and every message and enum type they use, with their comments.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use prost_reflect::{
    Cardinality, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    ServiceDescriptor, Syntax,
};

use nrpc_reflect::{DynamicService as Target, Message};

/// The leading comment at `path` in `file`, as `//` lines at `indent`.
fn comments(out: &mut String, file: &FileDescriptor, path: &[i32], indent: &str) {
    let info = file.file_descriptor_proto().source_code_info.as_ref();
    let Some(location) = info.and_then(|i| i.location.iter().find(|l| l.path == path)) else {
        return;
    };
    if let Some(text) = &location.leading_comments {
        for line in text.trim_end_matches('\n').lines() {
            let _ = writeln!(out, "{indent}//{line}");
        }
    }
}

/// `name` as written inside `package`: relative when it is in it, else
/// fully qualified.
fn type_name(full: &str, package: &str) -> String {
    match full.strip_prefix(package).and_then(|r| r.strip_prefix('.')) {
        Some(rel) if !package.is_empty() => rel.to_owned(),
        _ if package.is_empty() => full.to_owned(),
        _ => format!(".{full}"),
    }
}

/// The outermost message containing `m` (itself if top-level).
fn outermost(m: &MessageDescriptor) -> MessageDescriptor {
    let mut top = m.clone();
    while let Some(parent) = top.parent_message() {
        top = parent;
    }
    top
}

/// The types a description must show: the methods' messages and,
/// transitively, their fields' message and enum types (maps' entries
/// resolved to their key and value).
#[derive(Default)]
struct Used {
    messages: BTreeSet<String>,
    enums: BTreeSet<String>,
}

impl Used {
    fn add(&mut self, m: &MessageDescriptor) {
        if !self.messages.insert(m.full_name().to_owned()) {
            return;
        }
        for f in m.fields() {
            match f.kind() {
                Kind::Message(inner) => self.add(&inner),
                Kind::Enum(e) => {
                    self.enums.insert(e.full_name().to_owned());
                }
                _ => {}
            }
        }
    }
}

/// The description of `target`, or of its methods `only` (indices).
pub(crate) fn describe(target: &Target, only: Option<usize>) -> String {
    let mut out = String::new();
    let spec = &target.spec;
    let service = target.pool.get_service_by_name(&spec.name);
    let package = match spec.name.rsplit_once('.') {
        Some((p, _)) => p.to_owned(),
        None => String::new(),
    };
    let _ = writeln!(out, "// {}, from {}.", spec.name, target.origin);
    // A Rust-defined service's own text first: it spells out its subjects
    // (the descriptor compiled from it carries them only as options).
    match (&service, &target.proto) {
        (Some(svc), None) => service_text(&mut out, target, svc, &package, only),
        (_, Some(text)) => match only {
            None => out.push_str(text),
            Some(i) => {
                // The schema's text has each rpc in a block of its own.
                let name = &spec.methods[i].name;
                let start = format!("    rpc {name}(");
                let mut block = String::new();
                let mut inside = false;
                for line in text.lines() {
                    if line.starts_with(&start) {
                        inside = true;
                    }
                    if inside {
                        block.push_str(line);
                        block.push('\n');
                        if line == "    }" {
                            break;
                        }
                    }
                }
                let _ = writeln!(out, "package {package};\n");
                out.push_str(&block);
            }
        },
        (None, None) => {
            let _ = writeln!(
                out,
                "// (the definition of the service itself is not available)"
            );
        }
    }
    let mut used = Used::default();
    let mut missing = Vec::new();
    for (i, (input, output)) in target.types.iter().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        for m in [input, output] {
            match m {
                Message::Known(d) => used.add(d),
                Message::Unknown(n) => missing.push(n.clone()),
                Message::Void => {}
            }
        }
    }
    // Each top-level message once, its nested types inside it.
    let mut tops = BTreeSet::new();
    for name in &used.messages {
        if let Some(m) = target.pool.get_message_by_name(name) {
            if m.is_map_entry() {
                continue;
            }
            tops.insert(outermost(&m).full_name().to_owned());
        }
    }
    // In definition order: file by file, as each file declares them.
    for m in target.pool.all_messages() {
        if m.parent_message().is_none() && tops.contains(m.full_name()) {
            out.push('\n');
            message_text(&mut out, &m, &package, "");
        }
    }
    for e in target.pool.all_enums() {
        if e.parent_message().is_none() && used.enums.contains(e.full_name()) {
            out.push('\n');
            enum_text(&mut out, &e, "");
        }
    }
    missing.sort();
    missing.dedup();
    for name in missing {
        let _ = writeln!(
            out,
            "\n// message {name}: not described by {}",
            target.origin
        );
    }
    out
}

/// Documentation lines as `//` comments at `indent`.
fn docs(out: &mut String, lines: &[String], indent: &str) {
    for line in lines {
        let _ = writeln!(out, "{indent}//{line}");
    }
}

fn service_text(
    out: &mut String,
    target: &Target,
    svc: &ServiceDescriptor,
    package: &str,
    only: Option<usize>,
) {
    let file = svc.parent_file();
    let syntax = match file.syntax() {
        Syntax::Proto2 => "proto2",
        _ => "proto3",
    };
    let _ = writeln!(out, "syntax = \"{syntax}\";\n");
    if !package.is_empty() {
        let _ = writeln!(out, "package {package};\n");
    }
    // The service's and methods' docs come with the target (published
    // descriptors carry no source info).
    docs(out, &target.docs, "");
    let _ = writeln!(out, "service {} {{", svc.name());
    for (i, m) in svc.methods().enumerate() {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        docs(
            out,
            target.method_docs.get(i).map_or(&[][..], Vec::as_slice),
            "    ",
        );
        let stream = |yes: bool| if yes { "stream " } else { "" };
        let _ = writeln!(
            out,
            "    rpc {}({}{}) returns ({}{});",
            m.name(),
            stream(m.is_client_streaming()),
            type_name(m.input().full_name(), package),
            stream(m.is_server_streaming()),
            type_name(m.output().full_name(), package),
        );
    }
    out.push_str("}\n");
}

fn field_type(f: &FieldDescriptor, package: &str) -> String {
    match f.kind() {
        Kind::Message(m) if m.is_map_entry() => format!(
            "map<{}, {}>",
            field_type(&m.map_entry_key_field(), package),
            field_type(&m.map_entry_value_field(), package)
        ),
        Kind::Message(m) => type_name(m.full_name(), package),
        Kind::Enum(e) => type_name(e.full_name(), package),
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
    }
}

fn field_line(out: &mut String, f: &FieldDescriptor, package: &str, indent: &str, proto2: bool) {
    let label = if f.is_map() {
        ""
    } else if f.is_list() {
        "repeated "
    } else if proto2 && f.cardinality() == Cardinality::Required {
        "required "
    } else if proto2 || (f.field_descriptor_proto().proto3_optional()) {
        "optional "
    } else {
        ""
    };
    comments(out, &f.parent_file(), f.path(), indent);
    let _ = writeln!(
        out,
        "{indent}{label}{} {} = {};",
        field_type(f, package),
        f.name(),
        f.number()
    );
}

fn message_text(out: &mut String, m: &MessageDescriptor, package: &str, indent: &str) {
    let file = m.parent_file();
    let proto2 = file.syntax() == Syntax::Proto2;
    comments(out, &file, m.path(), indent);
    let _ = writeln!(out, "{indent}message {} {{", m.name());
    let inner = format!("{indent}    ");
    let mut in_oneof = BTreeSet::new();
    for o in m.oneofs().filter(|o| !o.is_synthetic()) {
        let _ = writeln!(out, "{inner}oneof {} {{", o.name());
        for f in o.fields() {
            in_oneof.insert(f.number());
            field_line(out, &f, package, &format!("{inner}    "), false);
        }
        let _ = writeln!(out, "{inner}}}");
    }
    for f in m.fields().filter(|f| !in_oneof.contains(&f.number())) {
        field_line(out, &f, package, &inner, proto2);
    }
    for nested in m.child_messages().filter(|n| !n.is_map_entry()) {
        message_text(out, &nested, package, &inner);
    }
    for e in m.child_enums() {
        enum_text(out, &e, &inner);
    }
    let _ = writeln!(out, "{indent}}}");
}

fn enum_text(out: &mut String, e: &EnumDescriptor, indent: &str) {
    comments(out, &e.parent_file(), e.path(), indent);
    let _ = writeln!(out, "{indent}enum {} {{", e.name());
    for v in e.values() {
        let _ = writeln!(out, "{indent}    {} = {};", v.name(), v.number());
    }
    let _ = writeln!(out, "{indent}}}");
}
