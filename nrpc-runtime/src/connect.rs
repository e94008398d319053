//! Connecting the way NATS users already do; see [`connect()`](crate::connect()).

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::ServerAddr;
use nrpc_wire::subject::validate_literal;
use serde::Deserialize;

use crate::client::router::Events;
use crate::client::Connection;

/// Errors from [`connect`] and [`ConnectOptions::connect`].
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A setting cannot be used.
    #[error("{setting}: {problem}")]
    Setting {
        /// The setting and where it came from, e.g. `NATS_CREDS` or
        /// `context "prod" (/home/me/.config/nats/context/prod.json) key creds`.
        setting: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The servers could not be reached or refused the connection.
    #[error("cannot connect to {servers}: {source}")]
    Connect {
        /// The servers tried (credentials removed).
        servers: String,
        /// Why.
        source: async_nats::ConnectError,
    },
    /// The reply inbox could not be subscribed.
    #[error("cannot subscribe the reply inbox: {0}")]
    Inbox(String),
}

/// Where a setting came from, to name it in errors.
#[derive(Debug, Clone)]
enum Origin {
    Code(&'static str),
    Env(&'static str),
    Context {
        name: String,
        path: PathBuf,
        key: &'static str,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Code(method) => write!(f, "ConnectOptions::{method}"),
            Origin::Env(var) => f.write_str(var),
            Origin::Context { name, path, key } => {
                write!(f, "NATS context {name:?} ({}) key {key}", path.display())
            }
        }
    }
}

fn problem(origin: &Origin, problem: impl std::fmt::Display) -> ConnectError {
    ConnectError::Setting {
        setting: origin.to_string(),
        problem: problem.to_string(),
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
struct Setting<T> {
    value: T,
    origin: Origin,
}

/// How to authenticate, before files are read.
#[derive(Debug, Clone)]
enum AuthSource {
    UserPassword(String, String),
    Token(String),
    NkeyFile(PathBuf),
    CredsFile(PathBuf),
    /// A user JWT signed with the seed in a file (a context's `user_jwt`
    /// and `nkey`).
    Jwt(String, PathBuf),
}

impl AuthSource {
    /// Reads the files it names into what async-nats takes.
    fn apply(
        self,
        opts: async_nats::ConnectOptions,
        origin: &Origin,
    ) -> Result<async_nats::ConnectOptions, ConnectError> {
        Ok(match self {
            AuthSource::UserPassword(user, password) => opts.user_and_password(user, password),
            AuthSource::Token(token) => opts.token(token),
            AuthSource::NkeyFile(path) => opts.nkey(read_seed(&path, origin)?),
            AuthSource::CredsFile(path) => {
                let creds = read(&path, origin)?;
                opts.credentials(&creds)
                    .map_err(|e| problem(origin, format!("{}: {e}", path.display())))?
            }
            AuthSource::Jwt(jwt, seed) => {
                let seed = read_seed(&seed, origin)?;
                // A credentials file's shape is what async-nats reads JWTs from.
                let creds = format!(
                    "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
                     -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
                );
                opts.credentials(&creds)
                    .map_err(|e| problem(origin, format!("user_jwt: {e}")))?
            }
        })
    }
}

fn read(path: &Path, origin: &Origin) -> Result<String, ConnectError> {
    std::fs::read_to_string(path)
        .map_err(|e| problem(origin, format!("cannot read {}: {e}", path.display())))
}

fn read_seed(path: &Path, origin: &Origin) -> Result<String, ConnectError> {
    let text = read(path, origin)?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("SU"))
        .map(str::to_owned)
        .ok_or_else(|| {
            problem(
                origin,
                format!(
                    "{} holds no user nkey seed (a line starting with SU)",
                    path.display()
                ),
            )
        })
}

fn readable(path: &Path, origin: &Origin) -> Result<PathBuf, ConnectError> {
    match std::fs::File::open(path) {
        Ok(_) => Ok(path.to_owned()),
        Err(e) => Err(problem(
            origin,
            format!("cannot read {}: {e}", path.display()),
        )),
    }
}

/// A `nats` CLI context file (ADR-21); keys nrpc does not use are ignored.
#[derive(Debug, Default, Deserialize)]
struct ContextFile {
    #[serde(default)]
    url: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    creds: String,
    #[serde(default)]
    nkey: String,
    #[serde(default)]
    cert: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    ca: String,
    #[serde(default)]
    inbox_prefix: String,
    #[serde(default)]
    user_jwt: String,
    #[serde(default)]
    tls_first: bool,
}

/// A loaded context: its values with their origins.
struct Context {
    name: String,
    path: PathBuf,
    file: ContextFile,
}

impl Context {
    fn get(&self, key: &'static str) -> Option<Setting<String>> {
        let f = &self.file;
        let value = match key {
            "url" => &f.url,
            "token" => &f.token,
            "user" => &f.user,
            "password" => &f.password,
            "creds" => &f.creds,
            "nkey" => &f.nkey,
            "cert" => &f.cert,
            "key" => &f.key,
            "ca" => &f.ca,
            "inbox_prefix" => &f.inbox_prefix,
            "user_jwt" => &f.user_jwt,
            _ => return None,
        };
        (!value.is_empty()).then(|| Setting {
            value: value.clone(),
            origin: self.origin(key),
        })
    }

    fn origin(&self, key: &'static str) -> Origin {
        Origin::Context {
            name: self.name.clone(),
            path: self.path.clone(),
            key,
        }
    }
}

/// What a process can see: environment variables and the home directory.
/// Tests give their own.
pub(crate) trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// `~/…` in a path from a context or variable.
fn expand(path: &str, env: &dyn Environment) -> PathBuf {
    match (path.strip_prefix("~/"), env.var("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// `$XDG_CONFIG_HOME/nats`, else `~/.config/nats`.
fn nats_config_dir(env: &dyn Environment) -> Option<PathBuf> {
    env.var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env.var("HOME").map(|h| Path::new(&h).join(".config")))
        .map(|d| d.join("nats"))
}

fn load_context(
    chosen: Option<Setting<String>>,
    env: &dyn Environment,
) -> Result<Option<Context>, ConnectError> {
    let dir = nats_config_dir(env);
    let (name, origin) = match chosen {
        Some(s) => (s.value, Some(s.origin)),
        None => {
            // The `nats` CLI's selected context, if any.
            let Some(selected) = dir.as_ref().map(|d| d.join("context.txt")) else {
                return Ok(None);
            };
            match std::fs::read_to_string(&selected) {
                Ok(name) if !name.trim().is_empty() => (name.trim().to_owned(), None),
                _ => return Ok(None),
            }
        }
    };
    let path = if name.ends_with(".json") || name.contains('/') {
        expand(&name, env)
    } else {
        match &dir {
            Some(d) => d.join("context").join(format!("{name}.json")),
            None => PathBuf::from(format!("{name}.json")),
        }
    };
    let origin = origin.unwrap_or_else(|| Origin::Context {
        name: name.clone(),
        path: path.clone(),
        key: "(selected in context.txt)",
    });
    let text = std::fs::read_to_string(&path).map_err(|e| {
        problem(
            &origin,
            format!(
                "no NATS context {name:?}: cannot read {}: {e}",
                path.display()
            ),
        )
    })?;
    let file = serde_json::from_str(&text).map_err(|e| {
        problem(
            &origin,
            format!("{} is not a context file: {e}", path.display()),
        )
    })?;
    Ok(Some(Context { name, path, file }))
}

/// Settings for [`connect`](Self::connect), in code; anything not set here
/// comes from the environment and the NATS context (see [`connect()`]
/// for the order).
///
/// ```no_run
/// # async fn run() -> Result<(), nrpc_runtime::ConnectError> {
/// use nrpc_runtime::ConnectOptions;
/// let conn = ConnectOptions::new()
///     .name("orders")
///     .credentials_file("/etc/nats/orders.creds")
///     .connect()
///     .await?;
/// # let _ = conn; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    use_env: bool,
    servers: Option<String>,
    context: Option<String>,
    auth: Option<AuthSource>,
    cert: Option<(PathBuf, PathBuf)>,
    ca: Option<PathBuf>,
    tls_first: bool,
    inbox_prefix: Option<String>,
    subject_prefix: Option<String>,
    name: Option<String>,
    max_reconnects: Option<usize>,
    connection_timeout: Option<Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`ConnectOptions`] resolved to, before anything is read or
/// connected (unit-tested without NATS).
#[derive(Debug)]
struct Resolved {
    servers: Setting<String>,
    auth: Option<Setting<AuthSource>>,
    cert: Option<(Setting<PathBuf>, Setting<PathBuf>)>,
    ca: Option<Setting<PathBuf>>,
    tls_first: bool,
    inbox_prefix: Option<Setting<String>>,
    subject_prefix: Option<Setting<String>>,
}

impl ConnectOptions {
    /// Options that read the environment and NATS context for what is not
    /// set in code.
    pub fn new() -> Self {
        Self {
            use_env: true,
            servers: None,
            context: None,
            auth: None,
            cert: None,
            ca: None,
            tls_first: false,
            inbox_prefix: None,
            subject_prefix: None,
            name: None,
            max_reconnects: None,
            connection_timeout: None,
        }
    }

    /// Ignores environment variables and NATS contexts: only what is set
    /// in code counts.
    pub fn ignore_environment(mut self) -> Self {
        self.use_env = false;
        self
    }

    /// Servers to connect to, comma separated (`nats://host:4222,…`).
    pub fn servers(mut self, servers: impl Into<String>) -> Self {
        self.servers = Some(servers.into());
        self
    }

    /// The NATS context to use: a name under `~/.config/nats/context/` or
    /// the path of a context file.
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Authenticates with a user and password.
    pub fn user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.auth = Some(AuthSource::UserPassword(user.into(), password.into()));
        self
    }

    /// Authenticates with a token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.auth = Some(AuthSource::Token(token.into()));
        self
    }

    /// Authenticates with the user nkey seed held in the file at `path`.
    pub fn nkey_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth = Some(AuthSource::NkeyFile(path.into()));
        self
    }

    /// Authenticates with a credentials file (a user JWT and its seed, as
    /// `nsc` writes them).
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth = Some(AuthSource::CredsFile(path.into()));
        self
    }

    /// A TLS client certificate and its private key, PEM files.
    pub fn client_certificate(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.cert = Some((cert.into(), key.into()));
        self
    }

    /// The CA certificate (PEM) the servers' certificates are checked against.
    pub fn root_certificate(mut self, ca: impl Into<PathBuf>) -> Self {
        self.ca = Some(ca.into());
        self
    }

    /// Starts TLS before the server's greeting (servers with `handshake_first`).
    pub fn tls_first(mut self) -> Self {
        self.tls_first = true;
        self
    }

    /// The prefix of reply subjects (default `_INBOX`), for accounts whose
    /// permissions allow only their own inboxes.
    pub fn inbox_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.inbox_prefix = Some(prefix.into());
        self
    }

    /// A subject prefix in front of every service subject, on clients and
    /// servers made from this connection (overrides `NRPC_PREFIX`).
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.subject_prefix = Some(prefix.into());
        self
    }

    /// The connection's name, as the server's monitoring shows it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Gives up reconnecting after `n` attempts (default: never gives up).
    pub fn max_reconnects(mut self, n: usize) -> Self {
        self.max_reconnects = Some(n);
        self
    }

    /// How long one connection attempt may take (default 5 s).
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = Some(timeout);
        self
    }

    /// Connects and prepares the connection for nrpc calls and servers.
    pub async fn connect(self) -> Result<Connection, ConnectError> {
        self.connect_in(&ProcessEnv).await
    }

    async fn connect_in(self, env: &dyn Environment) -> Result<Connection, ConnectError> {
        let r = self.resolve(env)?;
        let (addrs, url_auth) = parse_servers(&r.servers)?;
        let shown = addrs
            .iter()
            .map(|a| a.as_url_str().to_owned())
            .collect::<Vec<_>>()
            .join(",");
        let events = Events::new();
        let callback = events.clone();
        let mut opts = async_nats::ConnectOptions::new().event_callback(move |event| {
            callback.on(&event);
            std::future::ready(())
        });
        if let Some(Setting { value, origin }) = r.auth.or(url_auth) {
            opts = value.apply(opts, &origin)?;
        }
        if let Some((cert, key)) = &r.cert {
            let cert_path = readable(&cert.value, &cert.origin)?;
            let key_path = readable(&key.value, &key.origin)?;
            opts = opts
                .add_client_certificate(cert_path, key_path)
                .require_tls(true);
        }
        if let Some(ca) = &r.ca {
            opts = opts
                .add_root_certificates(readable(&ca.value, &ca.origin)?)
                .require_tls(true);
        }
        if r.tls_first {
            opts = opts.tls_first();
        }
        if let Some(prefix) = &r.inbox_prefix {
            validate_literal("inbox prefix", &prefix.value)
                .map_err(|e| problem(&prefix.origin, e))?;
            opts = opts.custom_inbox_prefix(&prefix.value);
        }
        if let Some(name) = self.name {
            opts = opts.name(name);
        }
        opts = opts.max_reconnects(self.max_reconnects);
        if let Some(t) = self.connection_timeout {
            opts = opts.connection_timeout(t);
        }
        let nats = opts
            .connect(addrs)
            .await
            .map_err(|source| ConnectError::Connect {
                servers: shown,
                source,
            })?;
        let conn = Connection::with_events(nats, events)
            .await
            .map_err(ConnectError::Inbox)?;
        match r.subject_prefix {
            Some(p) => conn
                .with_subject_prefix(&p.value)
                .map_err(|e| problem(&p.origin, e)),
            None => Ok(conn),
        }
    }

    /// Decides every setting (code, then environment, then context).
    fn resolve(&self, env: &dyn Environment) -> Result<Resolved, ConnectError> {
        let env = if self.use_env { env } else { &NoEnv };
        let from_env = |var: &'static str| {
            env.var(var).map(|value| Setting {
                value,
                origin: Origin::Env(var),
            })
        };
        let code = |value: Option<&String>, method: &'static str| {
            value.map(|v| Setting {
                value: v.clone(),
                origin: Origin::Code(method),
            })
        };
        let context = load_context(
            code(self.context.as_ref(), "context").or_else(|| from_env("NATS_CONTEXT")),
            env,
        )?;
        let ctx = |key: &'static str| context.as_ref().and_then(|c| c.get(key));
        let servers = code(self.servers.as_ref(), "servers")
            .or_else(|| from_env("NATS_URL"))
            .or_else(|| ctx("url"))
            .unwrap_or(Setting {
                value: "nats://localhost:4222".into(),
                origin: Origin::Code("servers (default)"),
            });

        let auth = match &self.auth {
            Some(a) => Some(Setting {
                value: a.clone(),
                origin: Origin::Code("auth"),
            }),
            None => env_auth(env, &from_env)?.or(context_auth(context.as_ref(), env)?),
        };

        let path = |s: Setting<String>| Setting {
            value: expand(&s.value, env),
            origin: s.origin,
        };
        let cert = match &self.cert {
            Some((c, k)) => Some((
                Setting {
                    value: c.clone(),
                    origin: Origin::Code("client_certificate"),
                },
                Setting {
                    value: k.clone(),
                    origin: Origin::Code("client_certificate"),
                },
            )),
            None => {
                let cert = from_env("NATS_CERT").or_else(|| ctx("cert"));
                let key = from_env("NATS_KEY").or_else(|| ctx("key"));
                match (cert, key) {
                    (Some(c), Some(k)) => Some((path(c), path(k))),
                    (None, None) => None,
                    (Some(c), None) => {
                        return Err(problem(
                            &c.origin,
                            "a client certificate needs its key (NATS_KEY)",
                        ))
                    }
                    (None, Some(k)) => {
                        return Err(problem(
                            &k.origin,
                            "a key needs its client certificate (NATS_CERT)",
                        ))
                    }
                }
            }
        };
        let ca = match &self.ca {
            Some(ca) => Some(Setting {
                value: ca.clone(),
                origin: Origin::Code("root_certificate"),
            }),
            None => from_env("NATS_CA").or_else(|| ctx("ca")).map(path),
        };
        let tls_first = self.tls_first || context.as_ref().is_some_and(|c| c.file.tls_first);
        let inbox_prefix = code(self.inbox_prefix.as_ref(), "inbox_prefix")
            .or_else(|| from_env("NATS_INBOX_PREFIX"))
            .or_else(|| ctx("inbox_prefix"));
        let subject_prefix = code(self.subject_prefix.as_ref(), "subject_prefix")
            .or_else(|| from_env("NRPC_PREFIX"));
        Ok(Resolved {
            servers,
            auth,
            cert,
            ca,
            tls_first,
            inbox_prefix,
            subject_prefix,
        })
    }
}

/// An environment with nothing in it ([`ConnectOptions::ignore_environment`]).
struct NoEnv;

impl Environment for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

/// At most one kind of credentials from the environment.
fn env_auth(
    env: &dyn Environment,
    from_env: &dyn Fn(&'static str) -> Option<Setting<String>>,
) -> Result<Option<Setting<AuthSource>>, ConnectError> {
    let mut found: Vec<Setting<AuthSource>> = Vec::new();
    if let Some(s) = from_env("NATS_CREDS") {
        found.push(Setting {
            value: AuthSource::CredsFile(expand(&s.value, env)),
            origin: s.origin,
        });
    }
    if let Some(s) = from_env("NATS_NKEY") {
        found.push(Setting {
            value: AuthSource::NkeyFile(expand(&s.value, env)),
            origin: s.origin,
        });
    }
    if let Some(user) = from_env("NATS_USER") {
        let value = match from_env("NATS_PASSWORD") {
            Some(p) => AuthSource::UserPassword(user.value, p.value),
            None => AuthSource::Token(user.value),
        };
        found.push(Setting {
            value,
            origin: user.origin,
        });
    } else if let Some(p) = from_env("NATS_PASSWORD") {
        return Err(problem(&p.origin, "a password needs a user (NATS_USER)"));
    }
    if let Some(s) = from_env("NATS_TOKEN") {
        found.push(Setting {
            value: AuthSource::Token(s.value),
            origin: s.origin,
        });
    }
    one_of(found)
}

/// At most one kind of credentials from a context.
fn context_auth(
    context: Option<&Context>,
    env: &dyn Environment,
) -> Result<Option<Setting<AuthSource>>, ConnectError> {
    let Some(c) = context else { return Ok(None) };
    let mut found = Vec::new();
    if let Some(s) = c.get("creds") {
        found.push(Setting {
            value: AuthSource::CredsFile(expand(&s.value, env)),
            origin: s.origin,
        });
    }
    match (c.get("user_jwt"), c.get("nkey")) {
        (Some(jwt), Some(seed)) => found.push(Setting {
            value: AuthSource::Jwt(jwt.value, expand(&seed.value, env)),
            origin: jwt.origin,
        }),
        (Some(jwt), None) => {
            return Err(problem(
                &jwt.origin,
                "a user JWT needs the nkey that signs it (key nkey)",
            ))
        }
        (None, Some(seed)) => found.push(Setting {
            value: AuthSource::NkeyFile(expand(&seed.value, env)),
            origin: seed.origin,
        }),
        (None, None) => {}
    }
    match (c.get("user"), c.get("password")) {
        (Some(u), Some(p)) => found.push(Setting {
            value: AuthSource::UserPassword(u.value, p.value),
            origin: u.origin,
        }),
        (Some(u), None) => found.push(Setting {
            value: AuthSource::Token(u.value),
            origin: u.origin,
        }),
        (None, Some(p)) => return Err(problem(&p.origin, "a password needs a user (key user)")),
        (None, None) => {}
    }
    if let Some(s) = c.get("token") {
        found.push(Setting {
            value: AuthSource::Token(s.value),
            origin: s.origin,
        });
    }
    one_of(found)
}

fn one_of(
    mut found: Vec<Setting<AuthSource>>,
) -> Result<Option<Setting<AuthSource>>, ConnectError> {
    if found.len() > 1 {
        let names: Vec<String> = found.iter().map(|s| s.origin.to_string()).collect();
        return Err(problem(
            &found[0].origin,
            format!(
                "set one kind of credentials, not several ({})",
                names.join(", ")
            ),
        ));
    }
    Ok(found.pop())
}

/// The server addresses, without credentials, and the credentials the
/// first URL carried (used when nothing else is set).
fn parse_servers(
    servers: &Setting<String>,
) -> Result<(Vec<ServerAddr>, Option<Setting<AuthSource>>), ConnectError> {
    let mut addrs = Vec::new();
    let mut auth = None;
    for url in servers
        .value
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        let addr: ServerAddr = url.parse().map_err(|e| {
            problem(
                &servers.origin,
                format!("{:?} is not a NATS server URL: {e}", redact(url)),
            )
        })?;
        if auth.is_none() {
            auth = match (addr.username(), addr.password()) {
                (Some(user), Some(pass)) => {
                    Some(AuthSource::UserPassword(decode(user), decode(pass)))
                }
                (Some(token), None) => Some(AuthSource::Token(decode(token))),
                _ => None,
            };
        }
        let mut plain = addr.into_inner();
        // Setting these on a URL with a host cannot fail.
        let _ = plain.set_username("");
        let _ = plain.set_password(None);
        let addr = plain
            .as_str()
            .parse()
            .map_err(|e| problem(&servers.origin, format!("{:?}: {e}", redact(url))))?;
        addrs.push(addr);
    }
    if addrs.is_empty() {
        return Err(problem(&servers.origin, "no server URL"));
    }
    Ok((
        addrs,
        auth.map(|value| Setting {
            value,
            origin: servers.origin.clone(),
        }),
    ))
}

/// Percent-decoding of URL user info (`p%40ss` is `p@ss`).
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A URL for an error message: user info replaced.
fn redact(url: &str) -> String {
    // User info ends at the last `@`: a password may hold more of them.
    match url.rsplit_once('@') {
        Some((head, tail)) => match head.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://***@{tail}"),
            None => format!("***@{tail}"),
        },
        None => url.to_owned(),
    }
}

#[doc = include_str!("docs/connect.md")]
pub async fn connect() -> Result<Connection, ConnectError> {
    ConnectOptions::new().connect().await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Fake(HashMap<&'static str, String>);

    impl Environment for Fake {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn env(vars: &[(&'static str, &str)]) -> Fake {
        Fake(vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nrpc-connect-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("nats/context")).unwrap();
        dir
    }

    #[test]
    fn code_wins_over_environment_which_wins_over_the_context() {
        let dir = temp_dir("order");
        std::fs::write(
            dir.join("nats/context/prod.json"),
            r#"{"url":"nats://ctx:4222","inbox_prefix":"_I_CTX","token":"t"}"#,
        )
        .unwrap();
        std::fs::write(dir.join("nats/context.txt"), "prod\n").unwrap();
        let e = env(&[
            ("XDG_CONFIG_HOME", dir.to_str().unwrap()),
            ("NATS_URL", "nats://env:4222"),
        ]);
        let r = ConnectOptions::new().resolve(&e).unwrap();
        assert_eq!(r.servers.value, "nats://env:4222");
        assert_eq!(r.inbox_prefix.unwrap().value, "_I_CTX");
        assert!(matches!(r.auth.unwrap().value, AuthSource::Token(t) if t == "t"));
        let r = ConnectOptions::new()
            .servers("nats://code:4222")
            .resolve(&e)
            .unwrap();
        assert_eq!(r.servers.value, "nats://code:4222");
    }

    #[test]
    fn nats_context_names_a_context_or_a_file() {
        let dir = temp_dir("named");
        std::fs::write(dir.join("nats/context/a.json"), r#"{"url":"nats://a:1"}"#).unwrap();
        std::fs::write(dir.join("b.json"), r#"{"url":"nats://b:1"}"#).unwrap();
        let xdg = dir.to_str().unwrap();
        let r = ConnectOptions::new()
            .resolve(&env(&[("XDG_CONFIG_HOME", xdg), ("NATS_CONTEXT", "a")]))
            .unwrap();
        assert_eq!(r.servers.value, "nats://a:1");
        let file = dir.join("b.json");
        let r = ConnectOptions::new()
            .resolve(&env(&[
                ("XDG_CONFIG_HOME", xdg),
                ("NATS_CONTEXT", file.to_str().unwrap()),
            ]))
            .unwrap();
        assert_eq!(r.servers.value, "nats://b:1");
        let err = ConnectOptions::new()
            .resolve(&env(&[("XDG_CONFIG_HOME", xdg), ("NATS_CONTEXT", "nope")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("NATS_CONTEXT: no NATS context \"nope\""),
            "{err}"
        );
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let e = env(&[("NATS_CREDS", "/x.creds"), ("NATS_USER", "u")]);
        let err = ConnectOptions::new().resolve(&e).unwrap_err().to_string();
        assert!(
            err.contains("NATS_CREDS") && err.contains("NATS_USER"),
            "{err}"
        );
        let err = ConnectOptions::new()
            .resolve(&env(&[("NATS_CERT", "/c.pem")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("NATS_CERT:"), "{err}");
        let r = ConnectOptions::new()
            .resolve(&env(&[("NATS_URL", "nats://h:1, ::bad url::")]))
            .unwrap();
        let err = parse_servers(&r.servers).unwrap_err().to_string();
        assert!(err.starts_with("NATS_URL:"), "{err}");
        let err = ConnectOptions::new()
            .resolve(&env(&[("NATS_PASSWORD", "p")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("NATS_PASSWORD:"), "{err}");
    }

    #[test]
    fn url_credentials_are_read_and_removed_from_the_address() {
        let s = Setting {
            value: "nats://al%40ice:p%3Ass@h1:4222,nats://tok@h2:4223".into(),
            origin: Origin::Env("NATS_URL"),
        };
        let (addrs, auth) = parse_servers(&s).unwrap();
        assert!(
            matches!(auth.unwrap().value, AuthSource::UserPassword(u, p) if u == "al@ice" && p == "p:ss")
        );
        let shown: Vec<&str> = addrs.iter().map(ServerAddr::as_url_str).collect();
        assert_eq!(shown, ["nats://h1:4222", "nats://h2:4223"]);
        assert_eq!(redact("nats://u:p@h:1"), "nats://***@h:1");
        // An `@` in the password leaks nothing of it.
        assert_eq!(redact("nats://u:p@ss@h:1"), "nats://***@h:1");
        assert_eq!(redact("u:p@s@s@h:1"), "***@h:1");
    }

    #[test]
    fn ignore_environment_reads_nothing() {
        let r = ConnectOptions::new()
            .ignore_environment()
            .resolve(&env(&[("NATS_URL", "nats://env:1"), ("NRPC_PREFIX", "v2")]))
            .unwrap();
        assert_eq!(r.servers.value, "nats://localhost:4222");
        assert!(r.auth.is_none() && r.subject_prefix.is_none());
    }
}
