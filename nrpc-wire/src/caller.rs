//! Who called, as a gateway that verified it tells the service: headers
//! `Nrpc-Caller-Subject` (who), `Nrpc-Caller-Scopes` (what they may do,
//! space-separated) and `Nrpc-Caller-Via` (how they proved it: `jwt`,
//! `api-key`). The names are reserved: a bridge drops them from what its
//! callers send ([`Incoming::sort`](crate::grpc::Incoming::sort)), so only
//! the gateway's verified values arrive. Anything that can publish to a
//! service's subjects on NATS can still set them: trust them as far as
//! NATS permissions keep others from calling the service directly.

/// The caller's subject (a JWT's `sub`, an API key's name).
pub const SUBJECT: &str = "Nrpc-Caller-Subject";
/// The caller's scopes, separated by spaces.
pub const SCOPES: &str = "Nrpc-Caller-Scopes";
/// How the caller was verified: `jwt` or `api-key`.
pub const VIA: &str = "Nrpc-Caller-Via";

const PREFIX: &str = "nrpc-caller-";

/// Whether `name` (any case) is one of the reserved caller headers.
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
    /// How they were verified (`jwt`, `api-key`).
    pub via: String,
}

/// Whether `value` can be a header value and a scope list item: printable
/// ASCII (a verifier refuses identities that are not).
pub fn is_header_text(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| (0x21..0x7f).contains(&b) || b == b' ')
}

impl Caller {
    /// Whether the caller has `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The headers that carry it.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            (SUBJECT, self.subject.clone()),
            (SCOPES, self.scopes.join(" ")),
            (VIA, self.via.clone()),
        ]
    }

    /// The caller the headers name (`get` looks one up by its canonical
    /// name), if they name one.
    pub fn from_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Caller> {
        let subject = get(SUBJECT)?.to_owned();
        let scopes = get(SCOPES)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let via = get(VIA).unwrap_or_default().to_owned();
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
    fn caller_headers_round_trip_and_are_recognised_in_any_case() {
        let caller = Caller {
            subject: "ada@example.com".into(),
            scopes: vec!["orders:read".into(), "orders:write".into()],
            via: "jwt".into(),
        };
        let headers = caller.headers();
        let back = Caller::from_headers(|name| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        });
        assert_eq!(back.as_ref(), Some(&caller));
        assert!(caller.has_scope("orders:write") && !caller.has_scope("orders"));
        for name in ["nrpc-caller-subject", "NRPC-CALLER-X", SCOPES] {
            assert!(is_caller_header(name), "{name}");
        }
        assert!(!is_caller_header("nrpc-call") && !is_caller_header("x-nrpc-caller-subject"));
        assert!(Caller::from_headers(|_| None).is_none());
        assert!(is_header_text("a b") && !is_header_text("a\r\nb") && !is_header_text("é"));
    }
}
