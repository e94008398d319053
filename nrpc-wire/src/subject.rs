//! Subject tokens: the one set of rules ([`check_token`], [`check_literal`],
//! [`MAX_SUBJECT_LEN`]) that serves the front ends (literal subjects in
//! definitions), clients (parameter values, instance ids, prefixes) and
//! servers (parsing what arrives). A service's subjects are built in
//! [`address`](crate::address); routing prefixes and discovery subjects in
//! [`route`](crate::route).

use std::fmt;

/// Why a string is not one subject token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// The token is empty.
    Empty,
    /// It contains `.`, which separates tokens.
    Dot,
    /// It contains a wildcard, `*` or `>`.
    Wildcard(char),
    /// It contains whitespace, which ends a subject in the NATS protocol.
    Whitespace,
    /// It contains a control character.
    Control,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Empty => f.write_str("is empty"),
            TokenError::Dot => f.write_str("contains '.'"),
            TokenError::Wildcard(c) => write!(f, "contains the wildcard '{c}'"),
            TokenError::Whitespace => f.write_str("contains whitespace"),
            TokenError::Control => f.write_str("contains a control character"),
        }
    }
}

/// Checks that `token` is exactly one subject token: non-empty, without
/// `.`, `*`, `>`, whitespace or control characters.
pub fn check_token(token: &str) -> Result<(), TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    for c in token.chars() {
        match c {
            '.' => return Err(TokenError::Dot),
            '*' | '>' => return Err(TokenError::Wildcard(c)),
            c if c.is_whitespace() => return Err(TokenError::Whitespace),
            c if c.is_control() => return Err(TokenError::Control),
            _ => {}
        }
    }
    Ok(())
}

/// Why a literal subject (one or more dot-separated tokens) is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralError {
    /// The offending token.
    pub token: String,
    /// What is wrong with it.
    pub error: TokenError,
}

impl fmt::Display for LiteralError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error {
            TokenError::Empty => f.write_str(
                "is not a valid NATS subject: it has an empty token (a leading, trailing or double '.')",
            ),
            e => write!(
                f,
                "is not a valid NATS subject: token {:?} {e}",
                self.token
            ),
        }
    }
}

/// Checks a literal subject of one or more tokens, such as a method
/// subject option; `allow_empty` for the package subject, which may be
/// absent.
pub fn check_literal(subject: &str, allow_empty: bool) -> Result<(), LiteralError> {
    if allow_empty && subject.is_empty() {
        return Ok(());
    }
    for token in subject.split('.') {
        check_token(token).map_err(|error| LiteralError {
            token: token.to_owned(),
            error,
        })?;
    }
    Ok(())
}

/// How a subject token is derived from a name when no subject is given
/// (nRPC's `SubjectRule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectRule {
    /// The name as declared (`COPY`, the default).
    #[default]
    Copy,
    /// The name in lower case (`TOLOWER`).
    ToLower,
}

impl SubjectRule {
    /// The rule an `nrpc.SubjectRule` value names (`COPY`, `TOLOWER`).
    pub fn from_proto_name(name: &str) -> Option<Self> {
        match name {
            "COPY" => Some(SubjectRule::Copy),
            "TOLOWER" => Some(SubjectRule::ToLower),
            _ => None,
        }
    }

    /// The default subject token for `name`.
    pub fn apply(self, name: &str) -> String {
        match self {
            SubjectRule::Copy => name.to_owned(),
            SubjectRule::ToLower => name.to_lowercase(),
        }
    }
}

/// Why a name cannot be a subject parameter name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamNameError;

impl fmt::Display for ParamNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be a non-empty identifier (ASCII letters, digits and '_')")
    }
}

/// Checks a subject parameter's name: a non-empty ASCII identifier (it
/// becomes a Rust argument and a lookup key for handlers).
pub fn check_param_name(name: &str) -> Result<(), ParamNameError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ParamNameError);
    }
    Ok(())
}

/// The tokens of a literal subject (none for the empty string).
pub(crate) fn literal_tokens(subject: &str) -> Vec<&str> {
    subject.split('.').filter(|_| !subject.is_empty()).collect()
}

/// How many tokens a subject has (none for the empty string), without
/// allocating: this runs for every request a server parses.
pub(crate) fn token_count(subject: &str) -> usize {
    if subject.is_empty() {
        0
    } else {
        subject.bytes().filter(|&b| b == b'.').count() + 1
    }
}

/// A value that would change a subject's meaning, refused before anything
/// is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidToken {
    /// What the value is for (a parameter name, `instance id`, …).
    pub name: String,
    /// The rejected value.
    pub value: String,
    /// Why.
    pub reason: InvalidReason,
}

/// Why a value was refused as a subject token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidReason {
    /// The value is not one token.
    Token(TokenError),
    /// The subject would be longer than [`MAX_SUBJECT_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A subject needs this many values and got that many.
    Count {
        /// Values the subject needs.
        expected: usize,
        /// Values given.
        got: usize,
    },
}

impl fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            InvalidReason::Token(e) => write!(
                f,
                "subject parameter `{}` = {:?} is not a valid subject token: it {e}",
                self.name, self.value
            ),
            InvalidReason::TooLong { len } => write!(
                f,
                "the subject would be {len} bytes long, over the limit of {MAX_SUBJECT_LEN} \
                 (subject parameter `{}` = {:.40?}…)",
                self.name, self.value
            ),
            InvalidReason::Count { expected, got } => write!(
                f,
                "subject parameters `{}`: {got} values for {expected} parameters",
                self.name
            ),
        }
    }
}

impl std::error::Error for InvalidToken {}

/// Checks that `value`, given for `name`, fills exactly one subject token.
pub fn validate_token(name: &str, value: &str) -> Result<(), InvalidToken> {
    check_token(value).map_err(|e| InvalidToken {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: InvalidReason::Token(e),
    })
}

/// Checks a replacement package subject given at run time (may be empty).
pub fn validate_literal(name: &str, value: &str) -> Result<(), InvalidToken> {
    check_literal(value, true).map_err(|e| InvalidToken {
        name: name.to_owned(),
        value: value.to_owned(),
        reason: InvalidReason::Token(e.error),
    })
}

/// The package subject with a deployment prefix in front (`NRPC_PREFIX`:
/// canaries, environments), e.g. `v2` + `demo` = `v2.demo`. Either may be
/// empty. Clients and servers put the prefix in the same place, so a
/// prefixed server is reached only by clients with the same prefix (or
/// through a subject mapping in nats-server).
pub fn prefixed(prefix: &str, package_subject: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1 + package_subject.len());
    push_token(&mut out, prefix);
    push_token(&mut out, package_subject);
    out
}

/// Longest subject nrpc sends, in bytes. NATS limits a protocol line
/// (`max_control_line`, 4 KiB by default) and closes the connection of a
/// client that exceeds it, which would fail every call on it; a request
/// line also holds the reply subject and sizes, so subjects stay well
/// below.
pub const MAX_SUBJECT_LEN: usize = 2048;

pub(crate) fn push_token(out: &mut String, token: &str) {
    if token.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('.');
    }
    out.push_str(token);
}

/// Checks that a whole subject (routing prefix included) fits within
/// [`MAX_SUBJECT_LEN`]; `name` and `value` say which value made it long.
pub(crate) fn check_len(len: usize, name: &str, value: &str) -> Result<(), InvalidToken> {
    if len > MAX_SUBJECT_LEN {
        return Err(InvalidToken {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: InvalidReason::TooLong { len },
        });
    }
    Ok(())
}
