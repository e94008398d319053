//! A tool that learns services again and again (the gateway refreshes its
//! catalog for as long as it runs) keeps memory bounded: specs are owned
//! and freed with their last holder, whatever the schemas say. Before,
//! each distinct spec was leaked for the rest of the process.

use std::alloc::System;
use std::collections::HashMap;

use cap::Cap;
use nrpc_reflect::DynamicService;
use nrpc_runtime::schema::SchemaResponse;

/// Counts the bytes this test process holds.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// A schema as an instance publishes it; `version` changes its spec.
fn schema(version: usize) -> SchemaResponse {
    let json = serde_json::json!({
        "type": "io.nrpc.schema_response",
        "name": "greeter_v1_Greeter",
        "id": "ID",
        "service": "greeter.v1.Greeter",
        "description": format!("greets, version {version}"),
        "service_subject": "Greeter",
        "package_subject": "greeter.v1",
        "methods": [
            {"name": "SayHello", "subject": format!("SayHello{}", version % 7), "kind": "unary"},
            {"name": "Type", "subject": "Type", "kind": "unary", "docs": [format!("v{version}")]},
        ],
    });
    serde_json::from_value(json).expect("a schema")
}

#[test]
fn learning_changing_schemas_thousands_of_times_keeps_memory_bounded() {
    // The catalog: one entry per name, replaced by each refresh.
    let mut catalog: HashMap<String, DynamicService> = HashMap::new();
    let mut refresh = |version: usize| {
        let learned =
            DynamicService::from_schema(schema(version), "a test".into()).expect("a valid schema");
        assert_eq!(learned.method("type").expect("by its Rust name").0, 1);
        catalog.insert(learned.spec.name.to_string(), learned);
    };
    for version in 0..100 {
        refresh(version);
    }
    let before = ALLOCATOR.allocated();
    for version in 100..5_100 {
        refresh(version);
    }
    let grown = ALLOCATOR.allocated().saturating_sub(before);
    // A leaked spec costs hundreds of bytes: 5,000 of them, megabytes.
    assert!(
        grown < 64 * 1024,
        "{grown} bytes more after 5,000 refreshes"
    );
}
