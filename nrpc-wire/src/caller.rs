//! Who called, as a gateway that verified it tells the service: one header,
//! `Nrpc-Caller: <via> <subject> [<scope> …]` — how the caller proved it
//! (`jwt`, `api-key`, `mtls`), who it is, and what it may do, separated by single
//! spaces (so none of them contains one). The name is reserved, with any
//! name that starts with it: a bridge drops them from what its callers send
//! ([`Incoming::sort`](crate::grpc::Incoming::sort)), so only the gateway's
//! verified value arrives. Anything that can publish to a service's
//! subjects on NATS can still set it: trust it as far as NATS permissions
//! keep others from calling the service directly.

/// The header.
pub const HEADER: &str = "Nrpc-Caller";

const PREFIX: &str = "nrpc-caller";

/// Whether `name` (any case) is the caller header or starts with its name.
pub fn is_caller_header(name: &str) -> bool {
    name.get(..PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
}

/// A verified caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who.
    pub subject: String,
    /// What they may do.
    pub scopes: Vec<String>,
    /// How they were verified (`jwt`, `api-key`, `mtls`).
    pub via: String,
}

/// Whether `word` can be a part of the header: printable ASCII without
/// spaces (a verifier refuses identities that are not).
pub fn is_header_word(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| (0x21..0x7f).contains(&b))
}

impl Caller {
    /// Whether the caller has `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The header's value.
    pub fn header_value(&self) -> String {
        let mut value = format!("{} {}", self.via, self.subject);
        for scope in &self.scopes {
            value.push(' ');
            value.push_str(scope);
        }
        value
    }

    /// The caller a header value names, if it names one.
    pub fn from_header(value: &str) -> Option<Caller> {
        let mut words = value.split(' ');
        let via = words.next().filter(|w| is_header_word(w))?.to_owned();
        let subject = words.next().filter(|w| is_header_word(w))?.to_owned();
        let scopes = words.filter(|w| !w.is_empty()).map(str::to_owned).collect();
        Some(Caller {
            subject,
            scopes,
            via,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_header_round_trips_and_is_recognised_in_any_case() {
        let caller = Caller {
            subject: "ada@example.com".into(),
            scopes: vec!["orders:read".into(), "orders:write".into()],
            via: "jwt".into(),
        };
        assert_eq!(
            caller.header_value(),
            "jwt ada@example.com orders:read orders:write"
        );
        assert_eq!(
            Caller::from_header(&caller.header_value()).as_ref(),
            Some(&caller)
        );
        assert!(caller.has_scope("orders:write") && !caller.has_scope("orders"));
        let none = Caller::from_header("api-key ops").map(|c| c.scopes);
        assert_eq!(none, Some(vec![]));
        for bad in ["", "jwt", "jwt  ada", " jwt ada"] {
            assert!(Caller::from_header(bad).is_none(), "{bad:?}");
        }
        for name in ["nrpc-caller", "NRPC-CALLER-X", HEADER] {
            assert!(is_caller_header(name), "{name}");
        }
        assert!(!is_caller_header("nrpc-call") && !is_caller_header("x-nrpc-caller"));
        assert!(is_header_word("a:b") && !is_header_word("a b") && !is_header_word("é"));
    }
}
