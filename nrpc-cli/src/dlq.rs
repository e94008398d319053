//! `nrpc dlq`: a service's dead letters — list, show (the payload decoded
//! through the service's schema), redrive, purge.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nrpc_reflect::json::{decode, encode};
use nrpc_reflect::{DynamicService, Message};
use nrpc_runtime::durable::{Durable, Letter};
use nrpc_runtime::{Connection, Encoding, MethodKind};
use nrpc_wire::durable::stream_name;
use serde_json::{json, Value};

use crate::table::Table;
use crate::{fail, DlqCommand, ProtoArgs, Result};

pub(crate) async fn run(conn: &Connection, timeout: Duration, command: DlqCommand) -> Result<()> {
    let durable = Durable::new(conn);
    match command {
        DlqCommand::Ls {
            service,
            limit,
            json,
            protos,
        } => {
            let name = full_name(conn, timeout, &service, &protos).await?;
            let letters = durable.dead_letters(&name, limit).await?;
            if json {
                let all: Vec<Value> = letters.iter().map(summary).collect();
                println!("{}", Value::Array(all));
                return Ok(());
            }
            if letters.is_empty() {
                println!("{name} has no dead letters");
                return Ok(());
            }
            let mut table = Table::new(&[
                "SEQ",
                "REASON",
                "CODE",
                "SUBJECT",
                "FROM",
                "DELIVERIES",
                "CONSUMER",
                "AGE",
            ]);
            for l in &letters {
                table.row(vec![
                    l.sequence.to_string(),
                    l.reason.map_or("?", |r| r.as_str()).to_owned(),
                    l.code.clone().unwrap_or_default(),
                    l.subject.clone(),
                    format!("{}:{}", l.stream, l.stream_sequence),
                    l.deliveries.to_string(),
                    l.consumer.clone(),
                    age(l.time_ms),
                ]);
            }
            print!("{}", table.render());
            Ok(())
        }
        DlqCommand::Show {
            service,
            sequence,
            protos,
        } => {
            let target = crate::find(conn, timeout, &service, &protos).await?;
            let letter = durable.dead_letter(&target.spec.name, sequence).await?;
            let mut shown = summary(&letter);
            let headers: serde_json::Map<String, Value> = letter
                .headers
                .iter()
                .map(|(name, values)| {
                    let values: Vec<Value> =
                        values.iter().map(|v| Value::from(v.as_str())).collect();
                    (name.to_string(), Value::Array(values))
                })
                .collect();
            shown["headers"] = Value::Object(headers);
            shown["payload"] = payload_json(&target, &letter);
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(())
        }
        DlqCommand::Redrive {
            service,
            sequence,
            payload,
            protos,
        } => {
            let (name, replacement) = match payload {
                Some(json) => {
                    let target = crate::find(conn, timeout, &service, &protos).await?;
                    let letter = durable.dead_letter(&target.spec.name, sequence).await?;
                    let Some(message) = message_of(&target, &letter) else {
                        return fail(format!(
                            "dead letter {sequence} is from {}, which is no durable method of {}",
                            letter.stream, target.spec.name
                        ));
                    };
                    let body = match Encoding::guess_from_subject(&letter.subject) {
                        Encoding::Json => bytes::Bytes::from(json),
                        Encoding::Protobuf => encode(&message, &json, "--payload")?,
                    };
                    (target.spec.name.to_string(), Some(body))
                }
                None => (full_name(conn, timeout, &service, &protos).await?, None),
            };
            let stored = durable
                .redrive(&name, sequence, replacement, timeout)
                .await?;
            println!(
                "{}",
                json!({"stream": stored.stream, "sequence": stored.sequence})
            );
            Ok(())
        }
        DlqCommand::Purge {
            service,
            sequence,
            all,
            protos,
        } => {
            if sequence.is_none() && !all {
                return fail("name the dead letter to remove, or --all");
            }
            let name = full_name(conn, timeout, &service, &protos).await?;
            let removed = durable.remove_dead_letters(&name, sequence).await?;
            println!("removed {removed} dead letter(s) of {name}");
            Ok(())
        }
    }
}

/// The service's full name: from its schema or `--proto`, or as written
/// when it names one (`pkg.Service`) and no instance runs.
async fn full_name(
    conn: &Connection,
    timeout: Duration,
    wanted: &str,
    protos: &ProtoArgs,
) -> Result<String> {
    match crate::find(conn, timeout, wanted, protos).await {
        Ok(target) => Ok(target.spec.name.to_string()),
        Err(_) if wanted.contains('.') => Ok(wanted.to_owned()),
        Err(e) => Err(e),
    }
}

/// The type of the message a letter holds: the request of a command, the
/// event of an event method, found by the letter's stream.
fn message_of(target: &DynamicService, letter: &Letter) -> Option<Message> {
    let (index, method) = target
        .spec
        .methods
        .iter()
        .enumerate()
        .find(|(_, m)| stream_name(&target.spec.name, &m.name) == letter.stream)?;
    let (input, output) = target.types.get(index)?;
    match method.kind {
        MethodKind::NoRequest => Some(output.clone()),
        _ => Some(input.clone()),
    }
}

/// The payload as JSON through the schema; what does not decode (often
/// why it is here) as base64 with the reason.
fn payload_json(target: &DynamicService, letter: &Letter) -> Value {
    use base64::Engine as _;
    let raw = || base64::engine::general_purpose::STANDARD.encode(&letter.payload);
    if Encoding::guess_from_subject(&letter.subject) == Encoding::Json {
        if let Ok(value) = serde_json::from_slice::<Value>(&letter.payload) {
            return value;
        }
    }
    let Some(message) = message_of(target, letter) else {
        return json!({"base64": raw(), "undecoded": "no method of the schema has this stream"});
    };
    match decode(&message, letter.payload.clone()) {
        Ok(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Err(e) => json!({"base64": raw(), "undecoded": e.to_string()}),
    }
}

/// What `ls --json` and `show` say of a letter.
fn summary(l: &Letter) -> Value {
    json!({
        "sequence": l.sequence,
        "reason": l.reason.map(|r| r.as_str()),
        "code": l.code,
        "message": l.message,
        "subject": l.subject,
        "stream": l.stream,
        "stream_sequence": l.stream_sequence,
        "deliveries": l.deliveries,
        "consumer": l.consumer,
        "time_ms": u64::try_from(l.time_ms).unwrap_or(u64::MAX),
    })
}

/// How long ago, roughly.
fn age(time_ms: u128) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let secs = u64::try_from(now.saturating_sub(time_ms) / 1000).unwrap_or(u64::MAX);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
