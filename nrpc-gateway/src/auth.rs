//! Who may call through the gateway: callers prove who they are with a
//! bearer JWT (`Authorization: Bearer …`, verified against a JWKS file) or
//! an API key (`X-Api-Key`, from a keys file); rules say which scopes a
//! method needs. The verified caller travels to the service as
//! [`nrpc_wire::caller`] headers; the credentials themselves do not.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use nrpc_runtime::Code;
use nrpc_wire::caller::{is_header_word, Caller};

use crate::call::Failure;
use crate::expose::Pattern;

/// A setting of [`Auth`] that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line of the API keys file is not `<key> <subject> [scope…]`.
    #[error("{path}:{line}: {why}")]
    KeysFile {
        /// The file.
        path: PathBuf,
        /// The line's number (from 1).
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The JWKS file is not a JSON Web Key Set of usable keys.
    #[error("{path}: not a usable JSON Web Key Set: {why}")]
    Jwks {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A scope rule is not `<pattern>=<scope>[,<scope>…]`.
    #[error("{rule:?} is not <package.Service>/<Method>=<scope>[,<scope>…]: {why}")]
    Rule {
        /// The rule as given.
        rule: String,
        /// What is wrong.
        why: String,
    },
}

/// The signature algorithms a JWT may use (never `none`, never HMAC: the
/// gateway holds public keys only).
const ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// How often a JWKS file is read again at most (when a token names a key
/// it does not hold: keys were rotated).
const JWKS_REREAD: Duration = Duration::from_secs(10);

/// Bearer JWTs, verified against the keys of a JWKS file.
#[derive(Debug)]
struct Jwt {
    path: PathBuf,
    keys: Mutex<(Instant, Arc<JwkSet>)>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    /// Tokens verified lately, by their SHA-256: the caller, and until
    /// when the token may be taken without verifying it again.
    verified: Mutex<HashMap<Vec<u8>, Remembered>>,
}

/// A verified token's caller, and until when it is taken as it is.
type Remembered = (Arc<Verified>, SystemTime);

/// How long a verified token is taken without verifying its signature
/// again (never past its expiry): a caller's calls cost one signature
/// check a minute, not one each. Keys removed from the JWKS file stop
/// tokens within this time.
const VERIFIED_FOR: Duration = Duration::from_secs(60);
/// At most this many verified tokens are remembered.
const VERIFIED_MAX: usize = 10_000;

fn read_jwks(path: &Path) -> Result<JwkSet, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |why: String| AuthError::Jwks {
        path: path.to_owned(),
        why,
    };
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if set.keys.is_empty() {
        return Err(bad("it holds no keys".into()));
    }
    for key in &set.keys {
        DecodingKey::from_jwk(key).map_err(|e| {
            bad(format!(
                "key {:?}: {e}",
                key.common.key_id.as_deref().unwrap_or("(no kid)")
            ))
        })?;
    }
    Ok(set)
}

impl Jwt {
    /// The key set, read again if a token names a key it lacks (at most
    /// every [`JWKS_REREAD`]; a file that became unreadable keeps the old
    /// keys).
    fn keys(&self, kid: Option<&str>) -> Arc<JwkSet> {
        let mut slot = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let missing = kid.is_some_and(|kid| slot.1.find(kid).is_none());
        if missing && slot.0.elapsed() >= JWKS_REREAD {
            slot.0 = Instant::now();
            match read_jwks(&self.path) {
                Ok(set) => slot.1 = Arc::new(set),
                Err(e) => tracing::warn!("nrpc-gateway: keeping the keys read before: {e}"),
            }
        }
        slot.1.clone()
    }

    /// The caller `token` proves: remembered, or verified now.
    fn caller(&self, token: &str) -> Result<Arc<Verified>, String> {
        let key = digest(token);
        let now = SystemTime::now();
        let mut verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((caller, until)) = verified.get(&key) {
            if now < *until {
                return Ok(caller.clone());
            }
        }
        drop(verified);
        let (caller, expires) = self.verify(token)?;
        let until = (expires + self.leeway).min(now + VERIFIED_FOR);
        verified = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= VERIFIED_MAX {
            verified.retain(|_, (_, until)| now < *until);
            if verified.len() >= VERIFIED_MAX {
                verified.clear();
            }
        }
        verified.insert(key, (caller.clone(), until));
        Ok(caller)
    }

    /// Checks `token`'s signature and claims: the caller, and when the
    /// token expires.
    fn verify(&self, token: &str) -> Result<(Arc<Verified>, SystemTime), String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(format!("algorithm {:?} is not accepted", header.alg));
        }
        let keys = self.keys(header.kid.as_deref());
        let jwk = match &header.kid {
            Some(kid) => keys.find(kid).ok_or("no key has the token's kid")?,
            None => match keys.keys.as_slice() {
                [only] => only,
                _ => return Err("the token names no key (kid) and there are several".into()),
            },
        };
        if jwk
            .common
            .key_algorithm
            .is_some_and(|alg| alg.to_string() != format!("{:?}", header.alg))
        {
            return Err("the token's algorithm is not its key's".into());
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway.as_secs();
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.issuer {
            Some(issuer) => validation.set_issuer(&[issuer]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
            .map_err(|e| e.to_string())?;
        let claims = data.claims;
        let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
        // OAuth's `scope` (space-separated) or `scp` (a list or a string).
        let mut scopes: Vec<String> = Vec::new();
        for claim in [&claims["scope"], &claims["scp"]] {
            match claim {
                serde_json::Value::String(s) => {
                    scopes.extend(s.split_whitespace().map(str::to_owned))
                }
                serde_json::Value::Array(list) => {
                    scopes.extend(list.iter().filter_map(|s| s.as_str()).map(str::to_owned))
                }
                _ => {}
            }
        }
        let expires = claims["exp"].as_u64().map_or(SystemTime::UNIX_EPOCH, |s| {
            SystemTime::UNIX_EPOCH + Duration::from_secs(s)
        });
        Ok((caller(subject, scopes, "jwt")?, expires))
    }
}

/// A verified caller, with the header that tells services (made once,
/// shared by its calls).
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) caller: Caller,
    pub(crate) header: String,
}

/// A caller whose identity can travel in the caller header.
fn caller(subject: String, scopes: Vec<String>, via: &str) -> Result<Arc<Verified>, String> {
    if !is_header_word(&subject) || !scopes.iter().all(|s| is_header_word(s)) {
        return Err("the subject or a scope is not printable ASCII without spaces".into());
    }
    let caller = Caller {
        subject,
        scopes,
        via: via.to_owned(),
    };
    let header = caller.header_value();
    Ok(Arc::new(Verified { caller, header }))
}

/// The caller a verified client certificate names (mutual TLS), if its
/// name can travel in the caller header.
pub(crate) fn client_certificate(name: String) -> Option<Arc<Verified>> {
    match caller(name, Vec::new(), "mtls") {
        Ok(verified) => Some(verified),
        Err(e) => {
            tracing::debug!("nrpc-gateway: a client certificate's name is not used: {e}");
            None
        }
    }
}

/// The verified client certificate's caller of a connection, kept with
/// each of its requests.
#[derive(Debug, Clone)]
pub(crate) struct ClientCertificate(pub(crate) Arc<Verified>);

/// Who may call: how callers prove who they are, and what each method
/// needs.
#[derive(Debug, Default)]
pub struct Auth {
    /// API keys by the SHA-256 of the key.
    keys: HashMap<Vec<u8>, Arc<Verified>>,
    jwt: Option<Jwt>,
    /// Methods and the scopes they need (all of them).
    rules: Vec<(Pattern, Vec<String>)>,
    anonymous: bool,
}

fn digest(key: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, key.as_bytes())
        .as_ref()
        .to_vec()
}

impl Auth {
    /// No credentials accepted yet: every call is refused until some are.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts the API keys of `path`: one per line, `<key> <subject>
    /// [scope…]` separated by spaces (`#` starts a comment). A key has at
    /// least 16 characters. Callers send it as `X-Api-Key`.
    pub fn api_keys_file(mut self, path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.to_owned(),
            source,
        })?;
        for (i, line) in text.lines().enumerate() {
            let bad = |why: &str| AuthError::KeysFile {
                path: path.to_owned(),
                line: i + 1,
                why: why.to_owned(),
            };
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let Some(key) = words.next() else {
                continue;
            };
            let subject = words
                .next()
                .ok_or_else(|| bad("a key without a subject (want: <key> <subject> [scope…])"))?;
            if key.len() < 16 {
                return Err(bad("a key must have at least 16 characters"));
            }
            let scopes = words.map(str::to_owned).collect();
            let caller = caller(subject.to_owned(), scopes, "api-key").map_err(|e| bad(&e))?;
            if self.keys.insert(digest(key), caller).is_some() {
                return Err(bad("this key is given twice"));
            }
        }
        Ok(self)
    }

    /// Accepts bearer JWTs signed by a key of the JSON Web Key Set in
    /// `path` (RS*, PS*, ES256 or EdDSA; read again when a token names a
    /// key it lacks), with `exp` and `sub`, within `leeway` of their
    /// validity; from `issuer` and for `audience` when given. Scopes come
    /// from `scope` or `scp`.
    pub fn jwks_file(
        mut self,
        path: impl Into<PathBuf>,
        issuer: Option<String>,
        audience: Option<String>,
        leeway: Duration,
    ) -> Result<Self, AuthError> {
        let path = path.into();
        let set = read_jwks(&path)?;
        self.jwt = Some(Jwt {
            path,
            keys: Mutex::new((Instant::now(), Arc::new(set))),
            issuer,
            audience,
            leeway,
            verified: Mutex::new(HashMap::new()),
        });
        Ok(self)
    }

    /// Methods `rule` names need these scopes: `<pattern>=<scope>[,<scope>…]`
    /// (`orders.v1.Orders/Cancel*=orders:write`); a method some rules match
    /// needs the scopes of all of them.
    pub fn require(mut self, rule: &str) -> Result<Self, AuthError> {
        let bad = |why: String| AuthError::Rule {
            rule: rule.to_owned(),
            why,
        };
        let (pattern, scopes) = rule.split_once('=').ok_or_else(|| bad("no '='".into()))?;
        let pattern: Pattern = pattern
            .parse()
            .map_err(|e: crate::PatternError| bad(e.to_string()))?;
        let scopes: Vec<String> = scopes.split(',').map(|s| s.trim().to_owned()).collect();
        if scopes.iter().any(|s| !is_header_word(s)) {
            return Err(bad("a scope is empty or not printable ASCII".into()));
        }
        self.rules.push((pattern, scopes));
        Ok(self)
    }

    /// Lets callers without credentials call the methods no rule names
    /// (their calls carry no caller).
    pub fn allow_anonymous(mut self, allow: bool) -> Self {
        self.anonymous = allow;
        self
    }

    /// The caller the request's credentials prove (a bearer token, an API
    /// key, else the connection's client certificate), `None` for an
    /// anonymous caller allowed in; a failure is `UNAUTHENTICATED` without the reason
    /// (which is logged).
    pub(crate) fn authenticate(
        &self,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
    ) -> Result<Option<Arc<Verified>>, Failure> {
        let refused = |why: &str| {
            tracing::debug!("nrpc-gateway: credentials refused: {why}");
            Failure::new(Code::Unauthenticated, "missing or invalid credentials").with_http(401)
        };
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default());
        let key = headers
            .get("x-api-key")
            .map(|v| v.to_str().unwrap_or_default());
        match (bearer, key) {
            (Some(_), Some(_)) => Err(refused("both a bearer token and an API key")),
            (Some(value), None) => {
                let token = value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
                    .ok_or_else(|| refused("Authorization is not Bearer"))?;
                let jwt = self
                    .jwt
                    .as_ref()
                    .ok_or_else(|| refused("no JWTs are accepted"))?;
                jwt.caller(token.trim()).map(Some).map_err(|e| refused(&e))
            }
            (None, Some(key)) => self
                .keys
                .get(&digest(key))
                .cloned()
                .map(Some)
                .ok_or_else(|| refused("unknown API key")),
            // The connection's client certificate, verified by TLS.
            (None, None) if extensions.get::<ClientCertificate>().is_some() => {
                Ok(extensions.get::<ClientCertificate>().map(|c| c.0.clone()))
            }
            (None, None) if self.anonymous => Ok(None),
            (None, None) => Err(refused("no credentials")),
        }
    }

    /// Whether `caller` may call `method` of `service`: `PERMISSION_DENIED`
    /// if a rule for it needs a scope the caller lacks.
    pub(crate) fn authorize(
        &self,
        caller: Option<&Caller>,
        service: &str,
        method: &str,
    ) -> Result<(), Failure> {
        let needed = self
            .rules
            .iter()
            .filter(|(pattern, _)| pattern.matches(service, method))
            .flat_map(|(_, scopes)| scopes);
        for scope in needed {
            match caller {
                Some(c) if c.has_scope(scope) => {}
                Some(c) => {
                    tracing::debug!("nrpc-gateway: {} lacks scope {scope}", c.subject);
                    return Err(Failure::new(
                        Code::PermissionDenied,
                        "the caller may not call this method",
                    ));
                }
                None => {
                    return Err(Failure::new(
                        Code::Unauthenticated,
                        "missing or invalid credentials",
                    )
                    .with_http(401))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap_or(http::header::WARNING),
                    http::HeaderValue::from_str(v).unwrap_or(http::HeaderValue::from_static("")),
                )
            })
            .collect()
    }

    fn keys_file(text: &str) -> (tempfile_path::Temp, Result<Auth, AuthError>) {
        let file = tempfile_path::Temp::with(text);
        let auth = Auth::new().api_keys_file(&file.0);
        (file, auth)
    }

    /// A file removed when dropped (no dev-dependency for one).
    mod tempfile_path {
        pub(super) struct Temp(pub(super) std::path::PathBuf);
        impl Temp {
            pub(super) fn with(text: &str) -> Self {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path =
                    std::env::temp_dir().join(format!("nrpc-auth-{}-{n}", std::process::id()));
                std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
                Temp(path)
            }
        }
        impl Drop for Temp {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn api_keys_and_scopes() {
        let none = http::Extensions::new();
        let (_f, auth) = keys_file(
            "# partners\nk-0123456789abcdef acme orders:read orders:write\n\n\
             k-fedcba9876543210 bob   # no scopes\n",
        );
        let auth = auth
            .and_then(|a| a.require("orders.v1.Orders/Cancel*=orders:write"))
            .unwrap_or_else(|e| panic!("{e}"));
        let acme = auth
            .authenticate(&headers(&[("x-api-key", "k-0123456789abcdef")]), &none)
            .map_err(|f| f.code);
        let acme = acme.ok().flatten();
        assert_eq!(
            acme.as_ref().map(|c| c.caller.subject.as_str()),
            Some("acme")
        );
        assert_eq!(
            acme.as_ref().map(|c| c.caller.via.as_str()),
            Some("api-key")
        );
        let bob = auth
            .authenticate(&headers(&[("x-api-key", "k-fedcba9876543210")]), &none)
            .ok()
            .flatten();
        assert!(auth
            .authorize(
                acme.as_ref().map(|v| &v.caller),
                "orders.v1.Orders",
                "CancelOrder"
            )
            .is_ok());
        let denied = auth.authorize(
            bob.as_ref().map(|v| &v.caller),
            "orders.v1.Orders",
            "CancelOrder",
        );
        assert_eq!(denied.map_err(|f| f.code), Err(Code::PermissionDenied));
        assert!(auth
            .authorize(
                bob.as_ref().map(|v| &v.caller),
                "orders.v1.Orders",
                "GetOrder"
            )
            .is_ok());
        for bad in [
            &[("x-api-key", "k-0123456789abcdeX")][..],
            &[][..],
            &[("authorization", "Bearer x.y.z")][..],
            &[("authorization", "Basic YTpi")][..],
            &[
                ("x-api-key", "k-0123456789abcdef"),
                ("authorization", "Bearer a"),
            ][..],
        ] {
            let e = auth
                .authenticate(&headers(bad), &none)
                .map(|v| v.map(|v| v.header.clone()))
                .map_err(|f| (f.code, f.message));
            assert_eq!(
                e,
                Err((
                    Code::Unauthenticated,
                    "missing or invalid credentials".into()
                )),
                "{bad:?}"
            );
        }
        let open = Auth::new().allow_anonymous(true);
        assert!(matches!(open.authenticate(&headers(&[]), &none), Ok(None)));
    }

    #[test]
    fn a_client_certificate_is_the_caller_when_nothing_else_is_sent() {
        let (_f, auth) = keys_file("k-0123456789abcdef acme\n");
        let auth = auth.unwrap_or_else(|e| panic!("{e}"));
        let mut tls = http::Extensions::new();
        let certificate = client_certificate("spiffe://example/orders".into());
        tls.insert(ClientCertificate(
            certificate.unwrap_or_else(|| panic!("a name")),
        ));
        let who = |sent: &[(&str, &str)]| {
            auth.authenticate(&headers(sent), &tls)
                .ok()
                .flatten()
                .map(|v| v.header.clone())
        };
        assert_eq!(who(&[]).as_deref(), Some("mtls spiffe://example/orders"));
        let key = [("x-api-key", "k-0123456789abcdef")];
        assert_eq!(who(&key).as_deref(), Some("api-key acme"));
        // A name that cannot travel is no caller.
        assert!(client_certificate("Ada Lovelace".into()).is_none());
    }

    #[test]
    fn bad_settings_name_what_is_wrong() {
        let (_f, e) = keys_file("k-0123456789abcdef acme\nshort bob\n");
        let e = e.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            e.ends_with(":2: a key must have at least 16 characters"),
            "{e}"
        );
        let (_f, e) = keys_file("k-0123456789abcdef\n");
        assert!(e
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains(":1: a key without a subject"));
        let (_f, e) = keys_file("k-0123456789abcdef a\nk-0123456789abcdef b\n");
        assert!(e
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains(":2: this key is given twice"));
        let garbage = tempfile_path::Temp::with("{\"keys\": 3}");
        let e = Auth::new().jwks_file(&garbage.0, None, None, Duration::ZERO);
        assert!(e
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("not a usable JSON Web Key Set"));
        let empty = tempfile_path::Temp::with("{\"keys\": []}");
        let e = Auth::new().jwks_file(&empty.0, None, None, Duration::ZERO);
        assert!(e
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("holds no keys"));
        for rule in ["orders.v1.Orders/*", "a b=x", "x/y=", "x/y=a b"] {
            assert!(Auth::new().require(rule).is_err(), "{rule}");
        }
    }
}
