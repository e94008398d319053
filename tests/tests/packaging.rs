//! What publishing needs kept true: nrpc-codegen ships its own copy of
//! `nrpc/nrpc.proto` (a crate can only include files inside it), and
//! nrpc-wire's hand-written prost mirror of its messages says what the
//! file says.

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, Value};

fn repository_file(name: &str) -> String {
    let path = format!("{}/../proto/nrpc/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn repository_proto() -> String {
    repository_file("nrpc.proto")
}

#[test]
fn the_crate_copies_of_the_nrpc_protos_are_the_repository_ones() {
    for (name, shipped) in [
        ("nrpc.proto", nrpc_codegen::NRPC_PROTO),
        ("durable.proto", nrpc_codegen::NRPC_DURABLE_PROTO),
    ] {
        assert!(
            shipped == repository_file(name),
            "nrpc-codegen/proto/nrpc/{name} differs from proto/nrpc/{name}: \
             copy the repository's file over it"
        );
    }
}

fn pool() -> DescriptorPool {
    let dir = tempfile::tempdir().expect("a temp dir");
    let nrpc = dir.path().join("nrpc");
    std::fs::create_dir_all(&nrpc).expect("mkdir");
    std::fs::write(nrpc.join("nrpc.proto"), repository_proto()).expect("write");
    let files = protox::compile(["nrpc/nrpc.proto"], [dir.path()]).expect("nrpc.proto compiles");
    DescriptorPool::from_file_descriptor_set(files).expect("a pool")
}

/// `name` with every field set to a value other than its default.
fn filled(pool: &DescriptorPool, name: &str) -> DynamicMessage {
    let desc = pool
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("{name} is in nrpc.proto"));
    let mut msg = DynamicMessage::new(desc.clone());
    for field in desc.fields() {
        let value = match field.kind() {
            Kind::String => Value::String("x".into()),
            Kind::Uint32 => Value::U32(7),
            Kind::Bool => Value::Bool(true),
            // The last value, not the default.
            Kind::Enum(e) => Value::EnumNumber(e.values().last().map_or(1, |v| v.number())),
            other => panic!(
                "{name}.{}: a {other:?} the test does not fill",
                field.name()
            ),
        };
        msg.set_field(&field, value);
    }
    msg
}

/// Through the mirror type `M` and back: every field of the descriptor
/// survives (the mirror has it, with its number and type), and the mirror
/// writes nothing the descriptor does not know.
fn round_trips<M: prost::Message + Default>(pool: &DescriptorPool, name: &str) {
    let original = filled(pool, name);
    let mirror = M::decode(original.encode_to_vec().as_slice())
        .unwrap_or_else(|e| panic!("{name}: the mirror does not decode it: {e}"));
    let back = DynamicMessage::decode(
        prost_reflect::ReflectMessage::descriptor(&original),
        mirror.encode_to_vec().as_slice(),
    )
    .unwrap_or_else(|e| panic!("{name}: the descriptor does not decode the mirror: {e}"));
    assert_eq!(back, original, "{name}: a field the mirror lost or changed");
    assert_eq!(
        back.unknown_fields().count(),
        0,
        "{name}: the mirror writes fields nrpc.proto does not have"
    );
}

#[test]
fn the_prost_mirror_matches_nrpc_proto() {
    use nrpc_wire::proto::{error, Error, HeartBeat, NoReply, NoRequest, Void};
    let pool = pool();
    round_trips::<Error>(&pool, "nrpc.Error");
    round_trips::<HeartBeat>(&pool, "nrpc.HeartBeat");
    round_trips::<Void>(&pool, "nrpc.Void");
    round_trips::<NoRequest>(&pool, "nrpc.NoRequest");
    round_trips::<NoReply>(&pool, "nrpc.NoReply");
    // Every error type, by number and name.
    let types = pool
        .get_enum_by_name("nrpc.Error.Type")
        .expect("Error.Type");
    let mut numbers = Vec::new();
    for value in types.values() {
        let mirror = error::Type::try_from(value.number())
            .unwrap_or_else(|_| panic!("Error.Type {} is not in the mirror", value.name()));
        assert_eq!(mirror.as_str(), value.name());
        numbers.push(value.number());
    }
    for t in [
        error::Type::Client,
        error::Type::Server,
        error::Type::Eos,
        error::Type::ServerTooBusy,
    ] {
        assert!(numbers.contains(&(t as i32)), "{t:?} is not in nrpc.proto");
    }
}
