//! `nrpc ls`, `info`, `stats` and `describe`: what discovery and the
//! published schemas say, as tables, JSON or `.proto` text.

use std::time::Duration;

use nrpc_runtime::discovery::Discovery;
use nrpc_runtime::Connection;
use serde::Serialize;

use crate::table::Table;
use crate::{ProtoArgs, Result};
use nrpc_reflect::{full_name, pick, split_method};

fn discovery(conn: &Connection, timeout: Duration) -> Discovery {
    Discovery::new(conn.clone()).with_timeout(timeout)
}

fn print_json(value: &impl Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// One row of `nrpc ls --json`.
#[derive(Serialize)]
struct Listed<'a> {
    service: &'a str,
    name: &'a str,
    version: &'a str,
    id: &'a str,
    description: &'a str,
    endpoints: usize,
}

pub(crate) async fn ls(conn: &Connection, timeout: Duration, json: bool) -> Result<()> {
    let mut infos = discovery(conn, timeout).info(None).await?;
    infos.sort_by(|a, b| (full_name(a), &a.version, &a.id).cmp(&(full_name(b), &b.version, &b.id)));
    let rows: Vec<Listed<'_>> = infos
        .iter()
        .map(|i| Listed {
            service: full_name(i),
            name: &i.name,
            version: &i.version,
            id: &i.id,
            description: &i.description,
            endpoints: i.endpoints.len(),
        })
        .collect();
    if json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        eprintln!("no service answers discovery");
        return Ok(());
    }
    let mut t = Table::new(&["SERVICE", "VERSION", "INSTANCE", "ENDPOINTS", "DESCRIPTION"]);
    for r in &rows {
        t.row(vec![
            r.service.to_owned(),
            r.version.to_owned(),
            r.id.to_owned(),
            r.endpoints.to_string(),
            r.description.to_owned(),
        ]);
    }
    print!("{}", t.render());
    let services: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.service).collect();
    println!(
        "\n{} service(s), {} instance(s)",
        services.len(),
        rows.len()
    );
    Ok(())
}

pub(crate) async fn info(
    conn: &Connection,
    timeout: Duration,
    service: &str,
    json: bool,
) -> Result<()> {
    let infos = discovery(conn, timeout).info(None).await?;
    let mut instances = pick(&infos, service)?;
    instances.sort_by(|a, b| (&a.version, &a.id).cmp(&(&b.version, &b.id)));
    if json {
        return print_json(&instances);
    }
    let Some(first) = instances.first() else {
        return Ok(());
    };
    println!("Service:      {}", full_name(first));
    println!("NATS name:    {}", first.name);
    if !first.description.is_empty() {
        println!("Description:  {}", first.description);
    }
    println!();
    let mut t = Table::new(&["INSTANCE", "VERSION", "METADATA"]);
    for i in &instances {
        let metadata = i
            .metadata
            .iter()
            .flatten()
            .filter(|(k, _)| !k.starts_with("nrpc."))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        t.row(vec![i.id.clone(), i.version.clone(), metadata]);
    }
    print!("{}", t.render());
    // Instances of one version serve the same endpoints; show each
    // version's once.
    let mut shown = Vec::new();
    for i in &instances {
        if shown.contains(&&i.version) {
            continue;
        }
        shown.push(&i.version);
        println!("\nEndpoints (version {}):", i.version);
        let mut t = Table::new(&["METHOD", "KIND", "SUBJECT", "QUEUE GROUP"]);
        for e in &i.endpoints {
            let meta = |key: &str| e.metadata.as_ref().and_then(|m| m.get(key)).cloned();
            let mut kind = meta("nrpc.kind").unwrap_or_else(|| "-".to_owned());
            if meta("nrpc.polling").as_deref() == Some("true") {
                kind.push_str(", polling");
            }
            t.row(vec![
                e.name.clone(),
                kind,
                e.subject.clone(),
                e.queue_group.clone().unwrap_or_else(|| "-".to_owned()),
            ]);
        }
        print!("{}", t.render());
    }
    Ok(())
}

/// Nanoseconds, readably.
fn duration(nanos: u64) -> String {
    let d = Duration::from_nanos(nanos);
    if d >= Duration::from_secs(1) {
        format!("{:.2}s", d.as_secs_f64())
    } else if d >= Duration::from_millis(1) {
        format!("{:.2}ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1}µs", d.as_secs_f64() * 1e6)
    }
}

pub(crate) async fn stats(
    conn: &Connection,
    timeout: Duration,
    service: &str,
    json: bool,
) -> Result<()> {
    let d = discovery(conn, timeout);
    let infos = d.info(None).await?;
    let instances = pick(&infos, service)?;
    let name = instances
        .first()
        .map(|i| i.name.clone())
        .unwrap_or_default();
    let mut stats = d.stats(Some(&name)).await?;
    stats.sort_by(|a, b| a.id.cmp(&b.id));
    if json {
        return print_json(&stats);
    }
    let mut t = Table::new(&[
        "INSTANCE",
        "METHOD",
        "REQUESTS",
        "ERRORS",
        "AVERAGE",
        "TOTAL",
        "LAST ERROR",
    ]);
    let (mut requests, mut errors, mut total) = (0u64, 0u64, 0u64);
    for s in &stats {
        for e in &s.endpoints {
            requests = requests.saturating_add(e.num_requests);
            errors = errors.saturating_add(e.num_errors);
            total = total.saturating_add(e.processing_time);
            t.row(vec![
                s.id.clone(),
                e.name.clone(),
                e.num_requests.to_string(),
                e.num_errors.to_string(),
                duration(e.average_processing_time),
                duration(e.processing_time),
                e.last_error.clone(),
            ]);
        }
    }
    t.row(vec![
        format!("{} instance(s)", stats.len()),
        "(all)".to_owned(),
        requests.to_string(),
        errors.to_string(),
        duration(total.checked_div(requests).unwrap_or(0)),
        duration(total),
        String::new(),
    ]);
    print!("{}", t.render());
    durable_backlog(conn, &name).await?;
    Ok(())
}

/// For the service's durable methods (those with a stream): messages
/// held, each consumer's lag, unsettled and redelivered messages, and the
/// service's dead letters.
async fn durable_backlog(conn: &Connection, service: &str) -> Result<()> {
    let durable = nrpc_runtime::durable::Durable::new(conn);
    let backlog = durable.service_backlog(service).await?;
    if backlog.streams.is_empty() {
        return Ok(());
    }
    let mut t = Table::new(&[
        "STREAM",
        "MESSAGES",
        "CONSUMER",
        "LAG",
        "UNACKED",
        "REDELIVERED",
    ]);
    for b in &backlog.streams {
        let dash = || "-".to_owned();
        if b.consumers.is_empty() {
            t.row(vec![
                b.stream.clone(),
                b.messages.to_string(),
                dash(),
                dash(),
                dash(),
                dash(),
            ]);
        }
        for c in &b.consumers {
            t.row(vec![
                b.stream.clone(),
                b.messages.to_string(),
                c.name.clone(),
                c.pending.to_string(),
                c.ack_pending.to_string(),
                c.redelivered.to_string(),
            ]);
        }
    }
    println!();
    print!("{}", t.render());
    println!(
        "dead letters: {} (nrpc dlq ls {service})",
        backlog.dead_letters
    );
    Ok(())
}

pub(crate) async fn describe(
    conn: &Connection,
    timeout: Duration,
    name: &str,
    protos: &ProtoArgs,
) -> Result<()> {
    // `SERVICE` first; if no service has that name, `SERVICE.METHOD`.
    let whole = crate::find(conn, timeout, name, protos).await;
    let (target, only) = match whole {
        Ok(t) => (t, None),
        Err(first) => {
            let Ok((service, method)) = split_method(name) else {
                return Err(first);
            };
            let Ok(target) = crate::find(conn, timeout, service, protos).await else {
                return Err(first);
            };
            let (index, _) = target.method(method)?;
            (target, Some(index))
        }
    };
    print!("{}", crate::proto_text::describe(&target, only));
    Ok(())
}
