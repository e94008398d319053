//! `nrpc call`: JSON in, the method's subject and protobuf on the wire, JSON
//! out; every call kind.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use nrpc_runtime::codec::Raw;
use nrpc_runtime::{
    BroadcastOptions, CallError, CallOptions, Connection, HeaderMap, MethodKind, ServiceClient,
};
use tokio::io::AsyncBufReadExt;

use crate::{fail, CallArgs, Failure, Result};
use nrpc_reflect::json::{decode, encode};
use nrpc_reflect::{split_method, DynamicService as Target, Message};
use nrpc_wire::grpc::{subject_params, ParamError};

/// A failed call, as the user should read it.
fn call_failure(e: CallError, target: &Target) -> Failure {
    match e {
        CallError::Status(s) => Failure(format!(
            "{} ({}): {}",
            s.code().as_str(),
            s.code().as_i32(),
            s.message()
        )),
        CallError::NoResponders { subject } => Failure(format!(
            "no responders: no instance of {} listens on {subject} (UNAVAILABLE)",
            target.spec.name
        )),
        other => Failure(format!("{other} ({})", other.code().as_str())),
    }
}

/// `name=value` pairs.
fn pairs(list: &[String], flag: &str) -> Result<Vec<(String, String)>> {
    list.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
            _ => fail(format!("{flag} {p:?}: expected NAME=VALUE")),
        })
        .collect()
}

pub(crate) async fn run(conn: &Connection, timeout: Duration, args: CallArgs) -> Result<()> {
    let (service, method) = split_method(&args.method)?;
    let target = crate::find(conn, timeout, service, &args.protos).await?;
    let (index, spec) = target.method(method)?;
    let (input, output) = target.types[index].clone();
    let spec_all = target.spec.clone();

    // Every parameter once, by the rule the gateway follows too.
    let mut values = subject_params(&spec_all, index, Vec::new(), pairs(&args.params, "-p")?)
        .map_err(|e| match &e {
            ParamError::Missing { name, .. } => Failure(format!("{e}: add -p {name}=VALUE")),
            _ => Failure(e.to_string()),
        })?;
    let method_values =
        values.split_off(spec_all.package_params.len() + spec_all.service_params.len());
    let service_values: Vec<&str> = values.iter().map(String::as_str).collect();
    let method_values: Vec<&str> = method_values.iter().map(String::as_str).collect();

    let mut client = ServiceClient::new(conn.clone(), spec_all.clone(), &service_values)?;
    if let Some(id) = &args.instance {
        client.set_instance(id)?;
    }
    let subject = client.subject(index, &method_values, nrpc_runtime::Encoding::Protobuf)?;
    let mut options = CallOptions::new().timeout(timeout);
    for (k, v) in pairs(&args.headers, "-H")? {
        options = options.header(&k, &v);
    }
    let failed = |e: CallError| call_failure(e, &target);
    let request = || {
        encode(
            &input,
            args.request.as_deref().unwrap_or("{}"),
            "the request",
        )
    };

    match spec.kind {
        MethodKind::Unary if spec.polling && !args.one && args.instance.is_none() => {
            let body = request()?;
            let mut replies = client
                .broadcast::<Raw, Raw>(
                    index,
                    &method_values,
                    &body,
                    BroadcastOptions::new()
                        .timeout(timeout)
                        .call_options(options),
                )
                .await
                .map_err(failed)?;
            let mut answered = 0usize;
            let mut errors = 0usize;
            while let Some(reply) = replies.next().await {
                answered += 1;
                match reply.result {
                    Ok(response) => {
                        let (payload, headers) = response.into_parts();
                        show_headers(args.verbose, &headers);
                        let json = decode(&output, payload)?;
                        println!("{{\"instance\":{:?},\"reply\":{json}}}", reply.instance);
                    }
                    Err(e) => {
                        errors += 1;
                        let message = call_failure(e, &target).0;
                        println!(
                            "{{\"instance\":{:?},\"error\":{}}}",
                            reply.instance,
                            serde_json::Value::String(message)
                        );
                    }
                }
            }
            if answered == 0 {
                return fail(format!(
                    "no instance of {} answered on {subject}",
                    spec_all.name
                ));
            }
            eprintln!("{answered} instance(s) answered");
            if errors > 0 {
                return fail(format!("{errors} of {answered} instance(s) failed"));
            }
            Ok(())
        }
        MethodKind::Unary => {
            let body = request()?;
            let response = client
                .unary::<Raw, Raw>(index, &method_values, &body, Some(options))
                .await
                .map_err(failed)?;
            let (payload, headers) = response.into_parts();
            show_headers(args.verbose, &headers);
            let json: serde_json::Value = serde_json::from_str(&decode(&output, payload)?)?;
            println!("{}", serde_json::to_string_pretty(&json)?);
            Ok(())
        }
        MethodKind::NoReply => {
            let body = request()?;
            client
                .send::<Raw>(index, &method_values, &body, Some(options))
                .await
                .map_err(failed)?;
            eprintln!("sent to {subject} (fire-and-forget: no reply)");
            Ok(())
        }
        MethodKind::StreamedReply => {
            let body = request()?;
            let replies = client
                .server_stream::<Raw, Raw>(index, &method_values, &body, Some(options))
                .await
                .map_err(failed)?;
            print_stream(replies, &output, failed).await
        }
        MethodKind::ClientStreaming | MethodKind::Bidirectional => {
            if args.request.is_some() {
                return fail(format!(
                    "{} streams its requests: give them on stdin, one JSON document per line",
                    spec.name
                ));
            }
            let bad = Arc::new(Mutex::new(None));
            let requests = stdin_requests(input.clone(), bad.clone());
            let result = async {
                let replies = client
                    .open_stream::<Raw, Raw>(index, &method_values, requests, Some(options))
                    .await
                    .map_err(failed)?;
                print_stream(replies, &output, failed).await
            }
            .await;
            // A bad line ends the input early; the call's outcome then is
            // not what the user asked for.
            let bad_line = bad.lock().unwrap_or_else(|e| e.into_inner()).take();
            match bad_line {
                Some(message) => Err(Failure(message)),
                None => result,
            }
        }
        MethodKind::NoRequest => {
            if args.request.is_some() {
                return fail(format!(
                    "{} is an event: it takes no request; nrpc prints the events published",
                    spec.name
                ));
            }
            let mut events = client
                .subscribe_events::<Raw>(index, &method_values, None)
                .await
                .map_err(failed)?;
            eprintln!("listening on {subject}");
            let mut seen = 0usize;
            while args.count.is_none_or(|n| seen < n) {
                let event = tokio::select! {
                    e = events.next() => e,
                    _ = tokio::signal::ctrl_c() => break,
                };
                let Some(event) = event else { break };
                println!("{}", decode(&output, event.map_err(failed)?)?);
                seen += 1;
            }
            Ok(())
        }
    }
}

fn show_headers(verbose: bool, headers: &HeaderMap) {
    if !verbose {
        return;
    }
    for (name, values) in headers.iter() {
        for v in values {
            eprintln!("< {name}: {v}");
        }
    }
}

/// Prints each item of a reply stream as a JSON line until its end.
async fn print_stream(
    mut replies: nrpc_runtime::ReplyStream<Bytes>,
    output: &Message,
    failed: impl Fn(CallError) -> Failure,
) -> Result<()> {
    let mut items = 0u64;
    while let Some(item) = replies.next().await {
        let payload = item.map_err(|e| {
            let f = failed(e);
            Failure(format!("{} (after {items} item(s))", f.0))
        })?;
        println!("{}", decode(output, payload)?);
        items += 1;
    }
    eprintln!("{items} item(s)");
    Ok(())
}

/// Requests read from stdin, one JSON document per non-empty line; the
/// first line that does not encode ends the input and is kept in `bad`.
fn stdin_requests(
    input: Message,
    bad: Arc<Mutex<Option<String>>>,
) -> futures::stream::BoxStream<'static, Bytes> {
    let lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    futures::stream::unfold((lines, 0usize), move |(mut lines, n)| {
        let input = input.clone();
        let bad = bad.clone();
        async move {
            loop {
                let line = match lines.next_line().await {
                    Ok(Some(line)) => line,
                    Ok(None) => return None,
                    Err(e) => {
                        *bad.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(format!("reading stdin: {e}"));
                        return None;
                    }
                };
                if line.trim().is_empty() {
                    continue;
                }
                let n = n + 1;
                match encode(&input, &line, &format!("request {n} (stdin line)")) {
                    Ok(body) => return Some((body, (lines, n))),
                    Err(e) => {
                        *bad.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                        return None;
                    }
                }
            }
        }
    })
    .boxed()
}
