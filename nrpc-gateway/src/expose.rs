//! Which services and methods the gateway exposes: allow and deny lists of
//! `<service>/<method>` patterns, where `*` matches any run of characters
//! (`orders.v1.Orders/*`, `*/Get*`, `shop.*`). A method is exposed when an
//! allow pattern matches it and no deny pattern does. What is not exposed
//! is treated as if it did not exist, on every face.

use std::fmt;

/// A `<service>/<method>` pattern; a pattern without `/` means every method
/// of the services it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    service: String,
    method: String,
}

/// A pattern that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pattern:?} is not a <package.Service>/<Method> pattern: {why}")]
pub struct PatternError {
    pattern: String,
    why: &'static str,
}

impl std::str::FromStr for Pattern {
    type Err = PatternError;

    fn from_str(pattern: &str) -> Result<Self, PatternError> {
        let fail = |why| PatternError {
            pattern: pattern.to_owned(),
            why,
        };
        let (service, method) = pattern.split_once('/').unwrap_or((pattern, "*"));
        if service.is_empty() || method.is_empty() {
            return Err(fail("an empty part"));
        }
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '*');
        if !service.chars().all(name_char) || !method.chars().all(name_char) {
            return Err(fail("only letters, digits, '_', '.' and '*' may appear"));
        }
        if method.contains('.') {
            return Err(fail("a method name has no '.'"));
        }
        Ok(Pattern {
            service: service.to_owned(),
            method: method.to_owned(),
        })
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.method)
    }
}

/// Whether `glob` (with `*` for any run of characters) matches all of
/// `text`.
fn glob(glob: &str, text: &str) -> bool {
    let mut parts = glob.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no '*' at all
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl Pattern {
    pub(crate) fn matches(&self, service: &str, method: &str) -> bool {
        glob(&self.service, service) && glob(&self.method, method)
    }

    /// Whether this matches every method of `service`.
    fn covers(&self, service: &str) -> bool {
        self.method == "*" && glob(&self.service, service)
    }
}

/// The services and methods the gateway exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
}

impl Default for Exposure {
    /// Everything.
    fn default() -> Self {
        Exposure {
            allow: vec![Pattern {
                service: "*".into(),
                method: "*".into(),
            }],
            deny: Vec::new(),
        }
    }
}

impl Exposure {
    /// Only the methods these patterns match (none if there are none).
    pub fn only<I, S>(patterns: I) -> Result<Self, PatternError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Ok(Exposure {
            allow: parse(patterns)?,
            deny: Vec::new(),
        })
    }

    /// Also hides the methods these patterns match, whatever allows them.
    pub fn deny<I, S>(mut self, patterns: I) -> Result<Self, PatternError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.deny.extend(parse(patterns)?);
        Ok(self)
    }

    /// Whether `method` of `service` (full proto names) is exposed.
    pub fn method(&self, service: &str, method: &str) -> bool {
        self.allow.iter().any(|p| p.matches(service, method))
            && !self.deny.iter().any(|p| p.matches(service, method))
    }

    /// Whether some method of `service` may be exposed: if not, a call to
    /// it is refused before anything is looked up.
    pub fn service(&self, service: &str) -> bool {
        self.allow.iter().any(|p| glob(&p.service, service))
            && !self.deny.iter().any(|p| p.covers(service))
    }

    /// Whether everything is exposed (the default).
    pub fn is_everything(&self) -> bool {
        *self == Exposure::default()
    }

    /// What is exposed, in words (for the log at start).
    pub fn describe(&self) -> String {
        let list = |ps: &[Pattern]| {
            ps.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match (self.allow.as_slice(), self.deny.is_empty()) {
            ([], _) => "nothing".to_owned(),
            ([all], true) if all.service == "*" && all.method == "*" => {
                "every service and method".to_owned()
            }
            (allow, true) => list(allow),
            (allow, false) => format!("{} except {}", list(allow), list(&self.deny)),
        }
    }
}

fn parse<I, S>(patterns: I) -> Result<Vec<Pattern>, PatternError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    patterns.into_iter().map(|p| p.as_ref().parse()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("*", "a.b.C"));
        assert!(glob("Get*", "GetOrder"));
        assert!(!glob("Get*", "ForgetOrder"));
        assert!(glob("*Order", "GetOrder"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(!glob("ab*b", "ab"));
        assert!(glob("ab*b", "abb"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }

    #[test]
    fn allow_and_deny() {
        let e = Exposure::only(["orders.v1.Orders/*", "*/Get*"])
            .and_then(|e| e.deny(["*/GetSecret", "admin.*"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(e.method("orders.v1.Orders", "Cancel"));
        assert!(e.method("shop.v1.Shop", "GetItem"));
        assert!(!e.method("shop.v1.Shop", "Buy"));
        assert!(!e.method("orders.v1.Orders", "GetSecret"));
        assert!(!e.method("admin.v1.Admin", "GetUsers"));
        // Some method of Shop may be exposed; none of Admin.
        assert!(e.service("shop.v1.Shop"));
        assert!(!e.service("admin.v1.Admin"));
        assert!(Exposure::default().method("any.Thing", "At"));
        assert!(!Exposure::only(Vec::<String>::new())
            .unwrap_or_default()
            .service("a.B"));
        assert_eq!(
            e.describe(),
            "orders.v1.Orders/*, */Get* except */GetSecret, admin.*/*"
        );
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["", "/M", "S/", "a b/c", "a/b.c", "a/b/c", "a.{b}"] {
            assert!(bad.parse::<Pattern>().is_err(), "{bad:?}");
        }
    }
}
