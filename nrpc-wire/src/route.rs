//! Routing: the prefixes in front of a service's subjects that reach every
//! instance (`_NRPC.all.`), one instance (`_NRPC.id.<instance>.`) or cancel
//! a call (`_NRPC.cancel.`), and the discovery subjects (`$SRV.…`,
//! `_NRPC.schema.…`). Clients and servers build them here, checked, and
//! nowhere else.

use crate::subject::{check_len, validate_token, InvalidToken};

/// First token of the subjects that reach every instance or one instance
/// directly, outside the queue group.
pub const ROUTING_TOKEN: &str = "_NRPC";

/// Prefix of broadcast subjects: `_NRPC.all.` + the usual subject.
pub const BROADCAST_PREFIX: &str = "_NRPC.all.";

/// Prefix of cancellations: `_NRPC.cancel.` + the subject of the request
/// being cancelled, with the request's reply subject as payload. Every
/// instance of the service receives it; the one handling the request drops
/// the handler.
pub const CANCEL_PREFIX: &str = "_NRPC.cancel.";

/// Where one instance answers with its service's schema (an nrpc
/// extension to NATS services discovery, named by the `nrpc.schema`
/// metadata entry of the instance's `$SRV.INFO` reply):
/// `_NRPC.schema.<service name>.<instance id>`.
pub fn schema_subject(service_name: &str, instance: &str) -> Result<String, InvalidToken> {
    validate_token("service name", service_name)?;
    validate_token("instance id", instance)?;
    let out = format!("{ROUTING_TOKEN}.schema.{service_name}.{instance}");
    check_len(out.len(), "instance id", instance)?;
    Ok(out)
}

/// Which instances a message for a service's subject reaches: the routing
/// prefix in front of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// The subject itself: one instance of the queue group (or every
    /// instance that joins none).
    Shared,
    /// `_NRPC.all.` + the subject: every nrpc instance.
    Broadcast,
    /// `_NRPC.id.<instance>.` + the subject: that instance only.
    Direct(&'a str),
    /// `_NRPC.cancel.` + the subject: every instance, told that a caller
    /// gave up.
    Cancel,
}

impl Route<'_> {
    /// The subject that reaches `subject` (a service's subject or
    /// subscription pattern, without routing prefix) this way. Checked
    /// before anything is sent: an instance id must be one token, and the
    /// whole subject must fit within [`MAX_SUBJECT_LEN`](crate::subject::MAX_SUBJECT_LEN)
    /// — a longer protocol line makes the broker close the connection,
    /// failing every other call on it.
    pub fn subject(self, subject: &str) -> Result<String, InvalidToken> {
        let prefix = match self {
            Route::Shared => "",
            Route::Broadcast => BROADCAST_PREFIX,
            Route::Cancel => CANCEL_PREFIX,
            Route::Direct(instance) => {
                validate_token("instance id", instance)?;
                let len = ROUTING_TOKEN.len() + 4 + instance.len() + 1 + subject.len();
                check_len(len, "instance id", instance)?;
                return Ok(format!("{ROUTING_TOKEN}.id.{instance}.{subject}"));
            }
        };
        check_len(prefix.len() + subject.len(), "subject", subject)?;
        Ok(format!("{prefix}{subject}"))
    }

    /// How a request sent this way reaches a server.
    pub fn delivery(self) -> Delivery {
        match self {
            Route::Shared => Delivery::Shared,
            Route::Broadcast => Delivery::Broadcast,
            Route::Direct(_) => Delivery::Direct,
            Route::Cancel => Delivery::Cancel,
        }
    }
}

/// Where to cancel the request sent to `request_subject` (with or without
/// a routing prefix): `_NRPC.cancel.` + its service subject.
pub fn cancel_subject(request_subject: &str) -> Result<String, InvalidToken> {
    Route::Cancel.subject(strip_routing(request_subject).1)
}

/// How a request reached a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Through the service's own subject (queue group, if any).
    Shared,
    /// Through the broadcast subject: every instance got it.
    Broadcast,
    /// Addressed to this instance.
    Direct,
    /// Not a request: the caller of an earlier request has given up
    /// (payload: that request's reply subject).
    Cancel,
}

/// Splits a routing prefix off a received subject.
pub fn strip_routing(subject: &str) -> (Delivery, &str) {
    if let Some(rest) = subject.strip_prefix(BROADCAST_PREFIX) {
        return (Delivery::Broadcast, rest);
    }
    if let Some(rest) = subject.strip_prefix(CANCEL_PREFIX) {
        return (Delivery::Cancel, rest);
    }
    let direct = subject
        .strip_prefix(ROUTING_TOKEN)
        .and_then(|r| r.strip_prefix(".id."))
        .and_then(|r| r.split_once('.'));
    match direct {
        Some((_, rest)) => (Delivery::Direct, rest),
        None => (Delivery::Shared, subject),
    }
}

/// First token of NATS services discovery subjects (ADR-32).
pub const DISCOVERY_TOKEN: &str = "$SRV";

/// A NATS services discovery request (ADR-32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `PING`: who is there.
    Ping,
    /// `INFO`: what each instance serves.
    Info,
    /// `STATS`: per-endpoint counters.
    Stats,
}

impl Verb {
    /// Every verb, in the order servers subscribe them.
    pub const ALL: [Verb; 3] = [Verb::Ping, Verb::Info, Verb::Stats];

    /// The verb's subject token.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Ping => "PING",
            Verb::Info => "INFO",
            Verb::Stats => "STATS",
        }
    }
}

/// The subject asking `verb` of every service, of the services named
/// `name`, or of instance `id` of `name`: `$SRV.<verb>[.<name>[.<id>]]`.
/// Name and id must be single tokens (`id` counts only with a name).
pub fn discovery_subject(
    verb: Verb,
    name: Option<&str>,
    id: Option<&str>,
) -> Result<String, InvalidToken> {
    let mut out = format!("{DISCOVERY_TOKEN}.{}", verb.as_str());
    let tokens = [("service name", name), ("instance id", name.and(id))];
    for (what, token) in tokens {
        let Some(token) = token else { break };
        validate_token(what, token)?;
        check_len(out.len() + 1 + token.len(), what, token)?;
        out.push('.');
        out.push_str(token);
    }
    Ok(out)
}

/// The subjects one service instance answers discovery on: every verb
/// bare, with its name, and with its name and id; then its schema subject.
pub fn discovery_subjects(name: &str, id: &str) -> Result<Vec<String>, InvalidToken> {
    let mut subjects = Vec::with_capacity(10);
    for verb in Verb::ALL {
        subjects.push(discovery_subject(verb, None, None)?);
        subjects.push(discovery_subject(verb, Some(name), None)?);
        subjects.push(discovery_subject(verb, Some(name), Some(id))?);
    }
    subjects.push(schema_subject(name, id)?);
    Ok(subjects)
}

/// The NATS services name of a service: its full proto name with every
/// character outside `A-Z a-z 0-9 - _` replaced by `_`
/// (`greeter.v1.Greeter` → `greeter_v1_Greeter`).
pub fn service_name(full_name: &str) -> String {
    full_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::{InvalidReason, MAX_SUBJECT_LEN};

    #[test]
    fn routing_prefixes_round_trip() {
        for (route, prefix) in [
            (Route::Shared, ""),
            (Route::Broadcast, "_NRPC.all."),
            (Route::Direct("ID42"), "_NRPC.id.ID42."),
            (Route::Cancel, "_NRPC.cancel."),
        ] {
            let s = route.subject("root.a.b").unwrap();
            assert_eq!(s, format!("{prefix}root.a.b"));
            assert_eq!(strip_routing(&s), (route.delivery(), "root.a.b"));
        }
        assert_eq!(strip_routing("_NRPC.x.y"), (Delivery::Shared, "_NRPC.x.y"));
        let direct = Route::Direct("ID").subject("a.b").unwrap();
        assert_eq!(cancel_subject(&direct).unwrap(), "_NRPC.cancel.a.b");
    }

    #[test]
    fn a_direct_subject_is_checked_before_it_is_sent() {
        let long = "x".repeat(10_000);
        let e = Route::Direct(&long).subject("root.a.b").unwrap_err();
        assert_eq!(e.name, "instance id");
        assert!(matches!(e.reason, InvalidReason::TooLong { len } if len > 10_000));
        assert!(Route::Direct("a.b").subject("x").is_err());
        assert!(Route::Direct("").subject("x").is_err());
        assert!(Route::Direct("a b").subject("x").is_err());
        let long_subject = "y".repeat(MAX_SUBJECT_LEN - 5);
        assert!(Route::Shared.subject(&long_subject).is_ok());
        assert!(Route::Broadcast.subject(&long_subject).is_err());
    }

    #[test]
    fn discovery_subjects_follow_adr_32() {
        assert_eq!(
            discovery_subject(Verb::Ping, None, None).unwrap(),
            "$SRV.PING"
        );
        assert_eq!(
            discovery_subject(Verb::Stats, Some("svc"), Some("id1")).unwrap(),
            "$SRV.STATS.svc.id1"
        );
        // An id without a name is no subject of its own.
        assert_eq!(
            discovery_subject(Verb::Info, None, Some("id1")).unwrap(),
            "$SRV.INFO"
        );
        assert!(discovery_subject(Verb::Info, Some("a.b"), None).is_err());
        assert!(discovery_subject(Verb::Info, Some("a"), Some(&"i".repeat(5000))).is_err());
        let all = discovery_subjects("svc", "id1").unwrap();
        assert_eq!(all.len(), 10);
        assert_eq!(all[9], "_NRPC.schema.svc.id1");
        assert_eq!(service_name("greeter.v1.Greeter"), "greeter_v1_Greeter");
        assert_eq!(service_name("a b*c>"), "a_b_c_");
    }
}
