//! Durable commands on the server side: each fire-and-forget method
//! declared durable is served from its JetStream stream (made or verified
//! against the declaration first) by one durable pull consumer shared by
//! every instance, instead of from the core subscription.

use std::sync::Arc;

use nrpc_wire::durable::{method_stream, Policy, COMMAND_CONSUMER};
use nrpc_wire::MethodKind;

use super::dispatch::Receiver;
use super::ServeError;
use crate::client::Connection;
use crate::durable::{ConsumerHandle, ConsumerSpec, Durable, Start};

/// Changes a declared policy at run time.
#[derive(Clone)]
pub(super) struct Override(pub(super) Arc<dyn Fn(&mut Policy) + Send + Sync>);

impl std::fmt::Debug for Override {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Override")
    }
}

/// Starts a consumer for each durable command of `receiver`'s service,
/// its policy as declared, then changed by the override named
/// `<service>/<method>`, if any.
pub(super) async fn start(
    conn: &Connection,
    receiver: &Arc<Receiver>,
    overrides: &[(String, Override)],
) -> Result<Vec<ConsumerHandle>, ServeError> {
    let spec = receiver.service.spec();
    let durable = Durable::new(conn);
    let mut consumers = Vec::new();
    for (i, m) in spec.methods.iter().enumerate() {
        let (Some(declared), MethodKind::NoReply) = (&m.durable, m.kind) else {
            continue;
        };
        let mut policy = declared.clone();
        let key = format!("{}/{}", spec.name, m.name);
        for (_, change) in overrides.iter().filter(|(name, _)| *name == key) {
            (change.0)(&mut policy);
        }
        let failed = |e: crate::durable::DurableError| ServeError::Durable {
            method: key.clone(),
            source: e,
        };
        let Some((stream, shape)) =
            method_stream(spec, i, Some(&receiver.package_subject), &policy)
        else {
            continue;
        };
        durable
            .provision_stream(&stream, &shape, false)
            .await
            .map_err(failed)?;
        let consumer = ConsumerSpec {
            service: spec.name.to_string(),
            stream,
            consumer: COMMAND_CONSUMER.to_owned(),
            subject: String::new(),
            policy: policy.clone(),
            start: Start::All,
        };
        let receiver = receiver.clone();
        let timeout = policy.handler_timeout;
        let handle = durable
            .run(consumer, move |delivery| {
                receiver.durable_call(i, delivery, timeout)
            })
            .await
            .map_err(failed)?;
        consumers.push(handle);
    }
    Ok(consumers)
}
