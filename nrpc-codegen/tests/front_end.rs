//! The .proto front end: package-prefix rule, nrpc.proto resolution, and
//! errors that name the file instead of panicking.

#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::path::Path;

fn generate(
    files: &[(&str, &str)],
    fallback: Option<nrpc_codegen::PackageSubjectFallback>,
) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut builder = nrpc_codegen::configure().out_dir(&out);
    if let Some(f) = fallback {
        builder = builder.package_subject_fallback(f);
    }
    let protos: Vec<_> = files
        .iter()
        .map(|(n, _)| dir.path().join(n))
        .take(1)
        .collect();
    builder
        .compile_protos(&protos, &[dir.path()])
        .map_err(|e| e.to_string())?;
    let mut all = String::new();
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            all.push_str(&std::fs::read_to_string(Path::new(&path)).unwrap());
        }
    }
    Ok(all)
}

const SVC: &str = "message M {}\nservice S { rpc Do(M) returns (M); }\n";

fn package_subject(code: &str) -> &str {
    let key = "package_subject: ::nrpc_runtime::codegen::Cow::Borrowed(\"";
    let start = code.find(key).expect("spec") + key.len();
    &code[start..start + code[start..].find('"').unwrap()]
}

/// Comments become doc comments: quotes, backslashes, comment ends, braces
/// and control characters in them must still give Rust that parses.
#[test]
fn hostile_comments_still_give_rust() {
    let proto = "syntax = \"proto3\";\npackage odd;\n\
        // A \"quoted\" \\ back\\slash */ end /* start {} }\r\n\
        // tab\there \u{7}bell `tick` [link](x) #[attr]\n\
        message M {}\n\
        /* block \\\" with // inside ** / */\n\
        service S {\n\
          // \"\"\" r#\"raw\"# '\\' {{ }}\n\
          rpc Do(M) returns (M);\n\
        }\n";
    let code = generate(&[("a.proto", proto)], None).unwrap();
    if let Err(e) = syn::parse_file(&code) {
        panic!("generated code is not Rust: {e}\n{code}");
    }
    assert!(code.contains("back"), "the comment is kept:\n{code}");
    assert!(
        code.contains("with // inside") && code.contains("r#\"raw\"#"),
        "the service and method comments are kept:\n{code}"
    );
}

#[test]
fn package_prefix_follows_the_go_generator() {
    let plain = format!("syntax = \"proto3\";\npackage pkg.v1;\n{SVC}");
    assert_eq!(
        package_subject(&generate(&[("a.proto", &plain)], None).unwrap()),
        "pkg.v1"
    );
    let with_option =
        format!("syntax = \"proto3\";\npackage pkg.v1;\noption go_package = \"x/y\";\n{SVC}");
    let code = generate(&[("a.proto", &with_option)], None).unwrap();
    assert_eq!(
        package_subject(&code),
        "",
        "any file option drops the package prefix, as in Go"
    );
    let code = generate(
        &[("a.proto", &with_option)],
        Some(nrpc_codegen::PackageSubjectFallback::PackageName),
    )
    .unwrap();
    assert_eq!(package_subject(&code), "pkg.v1");
}

#[test]
fn both_nrpc_import_spellings_resolve_together() {
    let a = "syntax = \"proto3\";\npackage a;\nimport \"nrpc.proto\";\nimport \"b.proto\";\nservice S { rpc Do(nrpc.Void) returns (b.M); }\n";
    let b = "syntax = \"proto3\";\npackage b;\nimport \"nrpc/nrpc.proto\";\nmessage M { nrpc.Error e = 1; }\n";
    let code = generate(&[("a.proto", a), ("b.proto", b)], None).unwrap();
    assert!(
        code.contains("::nrpc_runtime::proto::Error"),
        "nrpc types map to the runtime"
    );
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let bad = "syntax = \"proto3\";\npackage p;\nmessage M {\n  strin x = 1;\n}\n";
    let err = generate(&[("broken.proto", bad)], None).unwrap_err();
    assert!(err.contains("broken.proto"), "{err}");
    assert!(err.contains(":4:"), "line number in {err}");
}

#[test]
fn missing_imports_are_errors() {
    let bad = "syntax = \"proto3\";\npackage p;\nimport \"missing.proto\";\n";
    let err = generate(&[("a.proto", bad)], None).unwrap_err();
    assert!(err.contains("missing.proto"), "{err}");
}

#[test]
fn unsupported_methods_are_errors_naming_the_file() {
    let bad = "syntax = \"proto3\";\npackage p;\nimport \"nrpc/nrpc.proto\";\nmessage M {}\nservice S { rpc Up(stream M) returns (nrpc.NoReply); }\n";
    let err = generate(&[("up.proto", bad)], None).unwrap_err();
    assert!(
        err.contains("up.proto:5:") && err.contains("rpc Up") && err.contains("client-streaming"),
        "{err}"
    );
}

#[test]
fn invalid_subject_options_are_errors() {
    let bad = "syntax = \"proto3\";\npackage p;\nimport \"nrpc/nrpc.proto\";\nmessage M {}\nservice S { option (nrpc.serviceSubject) = \"a.*\"; rpc Do(M) returns (M); }\n";
    let err = generate(&[("sub.proto", bad)], None).unwrap_err();
    assert!(
        err.contains("sub.proto:5:") && err.contains("service subject \"a.*\""),
        "{err}"
    );
}

/// Every problem of a file at once, each at its line and column, in
/// Display form (no doubled path); `Debug` prints the same, so a build
/// script returning the error shows it readably.
#[test]
fn every_problem_is_reported_with_its_place() {
    let bad = r#"syntax = "proto3";
package shop;
import "nrpc/nrpc.proto";
message M {}
service Orders {
  rpc New(M) returns (M);
  rpc WithTimeout(M) returns (M);
  rpc GetOrder(M) returns (M);
  rpc GetOrderWith(M) returns (M);
  rpc Find(M) returns (M) {
    option (nrpc.methodSubject) = "find";
  }
  rpc Watch(M) returns (stream M) {
    option (nrpc.pollingEnabled) = true;
  }
}
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.proto"), bad).unwrap();
    let err = nrpc_codegen::configure()
        .out_dir(dir.path().join("out"))
        .compile_protos(&[dir.path().join("shop.proto")], &[dir.path()])
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(format!("{err:?}"), text, "Debug is Display");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    let expect = [
        ("shop.proto:6:", "rpc New: its generated client method `new` clashes"),
        ("shop.proto:7:", "`with_timeout`"),
        ("shop.proto:9:", "rpc GetOrderWith: its generated client method `get_order_with` clashes with the one generated for rpc GetOrder"),
        ("shop.proto:11:", r#"rpc Find: method subject "find\u{7}" is not a valid NATS subject: token "find\u{7}" contains a control character"#),
        ("shop.proto:14:", "rpc Watch: polling applies to request/reply methods only"),
    ];
    for (line, (place, words)) in lines.iter().zip(expect) {
        assert!(
            line.starts_with(&format!("nrpc-codegen: {place}")),
            "{line}"
        );
        assert!(line.contains(words), "{line}\nexpected {words}");
        assert_eq!(line.matches("shop.proto").count(), 1, "path once: {line}");
    }
    assert!(
        !dir.path().join("out").join("shop.rs").exists(),
        "nothing is written for an invalid file"
    );
}

#[test]
fn an_undefined_type_says_to_import_it() {
    let a =
        "syntax = \"proto3\";\npackage a;\nservice S { rpc Do(common.Id) returns (common.Id); }\n";
    let err = generate(&[("a.proto", a)], None).unwrap_err();
    assert!(err.contains("a.proto:3:"), "{err}");
    assert!(err.contains("add an `import`"), "{err}");
}

/// Every compile makes its descriptor set known to the runtime exactly
/// once, also when its files define messages only (a service defined in
/// Rust elsewhere may use them, and needs their descriptors for JSON).
#[test]
fn each_compile_submits_its_descriptors_once() {
    let submits = |code: &str| code.matches("LinkedDescriptors(").count();
    let messages_only = generate(
        &[(
            "m.proto",
            "syntax = \"proto3\";\npackage m.v1;\nmessage M { string a = 1; }\n",
        )],
        None,
    )
    .unwrap();
    assert_eq!(submits(&messages_only), 1, "{messages_only}");
    let with_service = format!("syntax = \"proto3\";\npackage s.v1;\n{SVC}");
    let with_service = generate(&[("s.proto", &with_service)], None).unwrap();
    assert_eq!(submits(&with_service), 1, "{with_service}");
}

/// `(nrpc.durable)` as the README writes it (fields separated by commas)
/// sets those fields and keeps the other defaults; a bad duration is an
/// error at its line.
#[test]
fn the_durable_option_reads_as_written() {
    let proto = |option: &str| {
        format!(
            "syntax = \"proto3\";\npackage d.v1;\nimport \"nrpc/nrpc.proto\";\nimport \"nrpc/durable.proto\";\n\
             message M {{}}\nservice S {{\n  rpc Do(M) returns (nrpc.NoReply) {{\n    option (nrpc.durable) = {option};\n  }}\n}}\n"
        )
    };
    let code = generate(
        &[(
            "d.proto",
            &proto(r#"{ max_deliveries: 4, backoff: ["100ms", "200ms"] }"#),
        )],
        None,
    )
    .unwrap();
    assert!(code.contains("max_deliveries: 4,"), "{code}");
    assert!(code.contains("Duration::from_millis(100),"), "{code}");
    assert!(code.contains("Duration::from_millis(200),"), "{code}");
    // Defaults for what is left out.
    assert!(code.contains("concurrency: 16,"), "{code}");
    assert!(
        code.contains("ack_wait: ::nrpc_runtime::codegen::Duration::from_millis(30000),"),
        "{code}"
    );
    let bad = generate(&[("d.proto", &proto(r#"{ ack_wait: "soon" }"#))], None).unwrap_err();
    assert!(bad.contains("d.proto:8:5:"), "the option's place: {bad}");
    assert!(bad.contains("\"soon\" is not a duration"), "{bad}");
}
