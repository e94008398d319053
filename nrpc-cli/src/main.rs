//! `nrpc`: list, describe and call the NATS services on a NATS system, with
//! JSON, from the schemas nrpc servers publish or from `.proto` files.

mod call;
mod config;
mod dlq;
mod inspect;
mod over_nats;
mod proto_text;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use http::HeaderValue;
use nrpc_runtime::{ConnectOptions, Connection};

/// List, describe and call NATS services (nrpc, nRPC, NATS services) with
/// JSON.
///
/// Connection settings come from the flags, then the environment
/// (NATS_URL, NATS_CONTEXT, NATS_CREDS, NATS_NKEY, NATS_USER,
/// NATS_PASSWORD, NATS_TOKEN, NATS_CERT, NATS_KEY, NATS_CA, NRPC_PREFIX),
/// then the selected `nats` CLI context, as for nrpc programs.
#[derive(Debug, Parser)]
#[command(name = "nrpc", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    conn: ConnArgs,
    #[command(subcommand)]
    command: Command,
}

/// How to reach NATS.
#[derive(Debug, Args)]
struct ConnArgs {
    /// NATS server URLs, comma-separated (else NATS_URL, the context, or
    /// nats://localhost:4222).
    #[arg(short, long, global = true)]
    server: Option<String>,
    /// A `nats` CLI context: a name or a file.
    #[arg(long, global = true)]
    context: Option<String>,
    /// A credentials file (JWT and seed).
    #[arg(long, global = true)]
    creds: Option<PathBuf>,
    /// An NKey seed file.
    #[arg(long, global = true)]
    nkey: Option<PathBuf>,
    /// User name (with --password; alone it is a token).
    #[arg(long, global = true)]
    user: Option<String>,
    /// Password for --user.
    #[arg(long, global = true)]
    password: Option<String>,
    /// Authentication token.
    #[arg(long, global = true)]
    token: Option<String>,
    /// Client certificate (with --tlskey).
    #[arg(long, global = true)]
    tlscert: Option<PathBuf>,
    /// Client key (with --tlscert).
    #[arg(long, global = true)]
    tlskey: Option<PathBuf>,
    /// CA certificate to verify the server with.
    #[arg(long, global = true)]
    tlsca: Option<PathBuf>,
    /// Inbox prefix for replies (for accounts that restrict `_INBOX.>`).
    #[arg(long, global = true)]
    inbox_prefix: Option<String>,
    /// Subject prefix in front of every service subject (else
    /// NRPC_PREFIX), e.g. `canary`.
    #[arg(long, global = true)]
    prefix: Option<String>,
    /// How long to wait for replies: a call, or discovery in all.
    #[arg(long, global = true, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The services that answer discovery: one row per instance.
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A service's endpoints (subjects, kinds, queue groups) and instances.
    Info {
        /// The service: `greeter.v1.Greeter`, its NATS name
        /// `greeter_v1_Greeter`, or `Greeter` when that is unambiguous.
        service: String,
        /// Print the INFO replies as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Per-instance, per-endpoint counters of a service.
    Stats {
        /// The service.
        service: String,
        /// Print the STATS replies as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A service, or one method, as `.proto` text with the message types
    /// it uses.
    Describe {
        /// `SERVICE` or `SERVICE.METHOD`.
        name: String,
        #[command(flatten)]
        protos: ProtoArgs,
    },
    /// Calls a method with a JSON request and prints the reply as JSON.
    ///
    /// Streamed replies and broadcasts print one JSON document per line;
    /// client and bidirectional streams read their requests from stdin, one
    /// JSON document per line; events are printed as they are published.
    Call(CallArgs),
    /// Prints a shell completion script (`nrpc completions bash >
    /// /etc/bash_completion.d/nrpc`, or `source <(nrpc completions zsh)`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Serves a gateway: gRPC and HTTP/JSON calls on one port, forwarded
    /// to the NATS services, and a web console on `/`.
    ///
    /// Services are learned from the schemas their instances publish, or
    /// defined by `--proto` files. Every call goes out over this one NATS
    /// connection.
    Gateway(Box<GatewayArgs>),
    /// Sends an HTTP request over NATS to a `<host>.nats` service (served
    /// by nrpc-http or nats-roundtripper) and prints the answer, like curl.
    Http(over_nats::HttpArgs),
    /// A service's dead letters: durable commands and events that could
    /// not be handled, with why.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

/// `nrpc dlq`.
#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// Lists them, oldest first: reason, last status code, subject, origin
    /// (stream:sequence), deliveries, consumer, age.
    Ls {
        /// The service.
        service: String,
        /// List at most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        protos: ProtoArgs,
    },
    /// Prints one as JSON: why, where from, its headers, and its payload
    /// decoded through the service's schema (base64 if it does not decode).
    Show {
        /// The service.
        service: String,
        /// Its sequence, as `ls` lists it.
        sequence: u64,
        #[command(flatten)]
        protos: ProtoArgs,
    },
    /// Publishes it again to its subject under a fresh idempotency key
    /// (its deliveries start again), then removes it.
    Redrive {
        /// The service.
        service: String,
        /// Its sequence, as `ls` lists it.
        sequence: u64,
        /// Publish this JSON message instead of the original payload.
        #[arg(long, value_name = "JSON")]
        payload: Option<String>,
        #[command(flatten)]
        protos: ProtoArgs,
    },
    /// Removes one, or every one with `--all`.
    Purge {
        /// The service.
        service: String,
        /// Its sequence, as `ls` lists it.
        sequence: Option<u64>,
        /// Remove every dead letter of the service.
        #[arg(long, conflicts_with = "sequence")]
        all: bool,
        #[command(flatten)]
        protos: ProtoArgs,
    },
}

/// `nrpc gateway`.
#[derive(Debug, Args)]
struct GatewayArgs {
    /// Read the settings from this TOML file (keys as the flags' names;
    /// flags given here win). See the guide "the gateway in production".
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The flags given on the command line (they win over `--config`).
    #[arg(skip)]
    explicit: std::collections::HashSet<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "NRPC_GATEWAY_LISTEN")]
    listen: String,
    /// Timeout of calls whose caller sets no deadline (grpc-timeout).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    call_timeout: Duration,
    /// The longest deadline a caller may set.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    max_timeout: Duration,
    /// The largest request body or gRPC message, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_body: usize,
    /// Expose only the methods this `<package.Service>/<Method>` pattern
    /// matches (`*` for any run of characters: `orders.v1.Orders/*`,
    /// `*/Get*`); repeatable. Without it every service is exposed.
    #[arg(long, value_name = "PATTERN")]
    expose: Vec<String>,
    /// Hide the methods this pattern matches, whatever `--expose` allows;
    /// repeatable.
    #[arg(long, value_name = "PATTERN")]
    hide: Vec<String>,
    /// Answer only requests for this host name (no port; repeatable):
    /// others get 421, which stops DNS rebinding. Default: `localhost`,
    /// `127.0.0.1` and `[::1]` when listening on a loopback address, else
    /// any.
    #[arg(long = "allowed-host", value_name = "NAME")]
    allowed_hosts: Vec<String>,
    /// Accept bearer JWTs signed by a key of this JSON Web Key Set file
    /// (read again when a token names a key it lacks). With this or
    /// `--api-keys`, every call needs credentials.
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// The issuer (`iss`) JWTs must name.
    #[arg(long, value_name = "ISSUER", requires = "jwks")]
    jwt_issuer: Option<String>,
    /// The audience (`aud`) JWTs must name.
    #[arg(long, value_name = "AUDIENCE", requires = "jwks")]
    jwt_audience: Option<String>,
    /// Clock skew allowed when checking a JWT's times.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    jwt_leeway: Duration,
    /// Accept the API keys of this file (`<key> <subject> [scope…]` per
    /// line), sent as `X-Api-Key`.
    #[arg(long, value_name = "FILE")]
    api_keys: Option<PathBuf>,
    /// Methods the pattern matches need these scopes:
    /// `orders.v1.Orders/Cancel*=orders:write[,…]`; repeatable.
    #[arg(long = "require", value_name = "PATTERN=SCOPES")]
    require_scopes: Vec<String>,
    /// With `--jwks`/`--api-keys`, let callers without credentials call
    /// the methods no `--require` names.
    #[arg(long)]
    allow_anonymous: bool,
    /// Send callers' `Authorization`, `Cookie` and `X-Api-Key` headers on
    /// to the services (by default they stay at the gateway).
    #[arg(long)]
    forward_credentials: bool,
    /// Limit each caller (verified subject, or client address) to this
    /// many calls per second of each method; past it, 429 with
    /// Retry-After.
    #[arg(long, value_name = "PER_SECOND")]
    rate_limit: Option<std::num::NonZeroU32>,
    /// How many calls a caller may make at once before `--rate-limit`
    /// applies (default: the rate).
    #[arg(long, value_name = "CALLS", requires = "rate_limit")]
    rate_burst: Option<std::num::NonZeroU32>,
    /// Bytes of request bodies held at most, all requests together; past
    /// it, uploads get 503 at once.
    #[arg(long, default_value_t = 64 << 20)]
    body_budget: usize,
    /// Bytes of events held at most for one subscriber that does not read
    /// them; past it, the subscriber is cut off.
    #[arg(long, default_value_t = 8 << 20)]
    subscriber_buffer: usize,
    /// Connections served at once; one more is answered 503 and closed.
    /// Default: the descriptor limit (raised to its maximum at start) less
    /// 128.
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Close a connection with no request in progress that sends nothing
    /// for this long.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
    /// Close a connection whose request header does not arrive within this
    /// (HTTP/1.1; slowloris).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    header_timeout: Duration,
    /// Log one line per call (caller, address, method, status, duration)
    /// on the `nrpc_gateway::audit` target, to stderr.
    #[arg(long)]
    audit: bool,
    /// Calls each caller (verified subject, or client address) may have in
    /// progress at once, streams included; one more gets 429.
    #[arg(long, value_name = "N")]
    max_calls_per_caller: Option<std::num::NonZeroU32>,
    /// Forward plain HTTP under a path prefix to an HTTP service served
    /// over NATS: `/city=weather.nats`; repeatable, the most specific
    /// prefix wins.
    #[arg(long = "http-route", value_name = "PREFIX=HOST")]
    http_routes: Vec<String>,
    /// Serve no web console.
    #[arg(long, conflicts_with = "console")]
    no_console: bool,
    /// Serve the web console even when listening on an address that is not
    /// loopback (by default it is served on loopback only).
    #[arg(long)]
    console: bool,
    /// Serve the console read-only: it lists, and cannot call.
    #[arg(long)]
    console_read_only: bool,
    /// Let web pages from this origin (`https://app.example.com`, or `*`
    /// for any) call from a browser (CORS); repeatable.
    #[arg(long = "allow-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    allow_origins: Vec<HeaderValue>,
    /// Serve TLS (HTTPS, gRPC over TLS) with this certificate chain (PEM,
    /// leaf first). Not `--tlscert`, which is for the NATS connection.
    #[arg(long, value_name = "FILE", requires = "listen_key")]
    listen_cert: Option<PathBuf>,
    /// The private key (PEM) of `--listen-cert`.
    #[arg(long, value_name = "FILE", requires = "listen_cert")]
    listen_key: Option<PathBuf>,
    /// Require client certificates signed by a CA in this PEM file (mutual
    /// TLS on the gateway's port).
    #[arg(long, value_name = "FILE", requires = "listen_cert")]
    listen_client_ca: Option<PathBuf>,
    /// Serve Prometheus metrics on `/metrics`: calls per method and status
    /// code, their latency, calls in flight (nrpc's client metrics).
    #[arg(long)]
    metrics: bool,
    #[command(flatten)]
    protos: ProtoArgs,
}

/// An origin for CORS: `*`, or `scheme://host[:port]` as browsers send it
/// (no path; a bare host name would never match).
fn parse_origin(origin: &str) -> std::result::Result<HeaderValue, String> {
    let bad = || format!("{origin:?} is not an origin (scheme://host[:port], or *)");
    if origin != "*" {
        let uri: http::Uri = origin.parse().map_err(|_| bad())?;
        let path = uri.path() != "/" || uri.query().is_some() || origin.ends_with('/');
        if uri.scheme().is_none() || uri.authority().is_none() || path {
            return Err(bad());
        }
    }
    HeaderValue::from_str(origin).map_err(|_| bad())
}

/// Where the service's definition comes from when it publishes no schema.
#[derive(Debug, Args, Clone, Default)]
struct ProtoArgs {
    /// A `.proto` file defining the service (for servers that publish no
    /// schema, e.g. Go nRPC); repeatable.
    #[arg(long = "proto", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A directory to resolve imports in; repeatable.
    #[arg(short = 'I', long = "import-path", value_name = "DIR")]
    includes: Vec<PathBuf>,
}

/// `nrpc call`.
#[derive(Debug, Args)]
struct CallArgs {
    /// `SERVICE.METHOD`, e.g. `greeter.v1.Greeter.SayHello`.
    method: String,
    /// The request as JSON (protobuf JSON mapping); `{}` if left out.
    request: Option<String>,
    /// A subject parameter, `name=value`; repeatable.
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// A request header, `key=value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    headers: Vec<String>,
    /// Call this instance only (its id from `nrpc ls`).
    #[arg(long)]
    instance: Option<String>,
    /// For a polling method: ask one instance (through the queue group)
    /// instead of every instance.
    #[arg(long)]
    one: bool,
    /// For an event method: stop after this many events.
    #[arg(long)]
    count: Option<usize>,
    /// Print the reply headers to stderr.
    #[arg(short, long)]
    verbose: bool,
    #[command(flatten)]
    protos: ProtoArgs,
}

/// An error for the user: printed as `error: …`, exit code 1.
#[derive(Debug)]
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

type Result<T, E = Failure> = std::result::Result<T, E>;

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(Failure(message.into()))
}

/// The service `wanted`: from `protos` if any are given, else from the
/// schema its instances publish.
async fn find(
    conn: &Connection,
    timeout: Duration,
    wanted: &str,
    protos: &ProtoArgs,
) -> Result<nrpc_reflect::DynamicService> {
    use nrpc_reflect::{DynamicService, Error};
    if !protos.files.is_empty() {
        return Ok(DynamicService::from_protos(
            wanted,
            &protos.files,
            &protos.includes,
        )?);
    }
    DynamicService::discover(conn, timeout, wanted)
        .await
        .map_err(|e| match e {
            Error::NoSchema(m) => Failure(format!("{m} (--proto FILE [-I DIR])")),
            Error::UnknownService(m) => Failure(format!("{m}; `nrpc ls` lists them")),
            other => Failure(other.to_string()),
        })
}

async fn connect(args: &ConnArgs) -> Result<Connection> {
    let mut options = ConnectOptions::new().name("nrpc-cli");
    if let Some(s) = &args.server {
        options = options.servers(s.clone());
    }
    if let Some(c) = &args.context {
        options = options.context(c.clone());
    }
    if let Some(c) = &args.creds {
        options = options.credentials_file(c.clone());
    }
    if let Some(n) = &args.nkey {
        options = options.nkey_file(n.clone());
    }
    match (&args.user, &args.password) {
        (Some(u), Some(p)) => options = options.user_and_password(u.clone(), p.clone()),
        (Some(u), None) => options = options.token(u.clone()),
        (None, Some(_)) => return fail("--password needs --user"),
        (None, None) => {}
    }
    if let Some(t) = &args.token {
        options = options.token(t.clone());
    }
    match (&args.tlscert, &args.tlskey) {
        (Some(c), Some(k)) => options = options.client_certificate(c.clone(), k.clone()),
        (None, None) => {}
        _ => return fail("--tlscert and --tlskey go together"),
    }
    if let Some(ca) = &args.tlsca {
        options = options.root_certificate(ca.clone());
    }
    if let Some(p) = &args.inbox_prefix {
        options = options.inbox_prefix(p.clone());
    }
    if let Some(p) = &args.prefix {
        options = options.subject_prefix(p.clone());
    }
    Ok(options.connection_timeout(args.timeout).connect().await?)
}

async fn run(cli: Cli) -> Result<()> {
    let conn = connect(&cli.conn).await?;
    let timeout = cli.conn.timeout;
    let result = match cli.command {
        Command::Ls { json } => inspect::ls(&conn, timeout, json).await,
        Command::Info { service, json } => inspect::info(&conn, timeout, &service, json).await,
        Command::Stats { service, json } => inspect::stats(&conn, timeout, &service, json).await,
        Command::Describe { name, protos } => {
            inspect::describe(&conn, timeout, &name, &protos).await
        }
        Command::Call(args) => call::run(&conn, timeout, args).await,
        Command::Gateway(args) => gateway(conn.clone(), timeout, *args).await,
        Command::Http(args) => over_nats::run(&conn, timeout, args).await,
        Command::Dlq { command } => dlq::run(&conn, timeout, command).await,
        // Answered before connecting (see `main`).
        Command::Completions { .. } => Ok(()),
    };
    // Whatever was published (fire-and-forget calls) reaches the broker.
    let _ = conn.flush().await;
    result
}

async fn gateway(conn: Connection, timeout: Duration, mut args: GatewayArgs) -> Result<()> {
    if let Some(path) = args.config.clone() {
        let explicit = std::mem::take(&mut args.explicit);
        config::apply(&path, &mut args, &explicit).map_err(Failure)?;
    }
    // Logs to stderr, `RUST_LOG` deciding what (warnings and errors by
    // default); a long-running server's, unlike the one-shot commands'.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Warnings and errors; the audit log when asked for.
        let audit = if args.audit {
            ",nrpc_gateway::audit=info"
        } else {
            ""
        };
        tracing_subscriber::EnvFilter::new(format!("warn{audit}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a terminal, plain text for a file or a collector.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let mut builder = nrpc_gateway::Gateway::builder(conn)
        .protos(args.protos.files, args.protos.includes)
        .default_timeout(args.call_timeout)
        .max_timeout(args.max_timeout)
        .max_body(args.max_body)
        .idle_timeout(args.idle_timeout)
        .header_read_timeout(args.header_timeout)
        .body_budget(args.body_budget)
        .subscriber_buffer(args.subscriber_buffer)
        .discovery_timeout(timeout)
        .console_read_only(args.console_read_only)
        .audit(args.audit);
    if args.no_console || args.console {
        builder = builder.console(args.console);
    }
    let exposure = if args.expose.is_empty() {
        nrpc_gateway::Exposure::default()
    } else {
        nrpc_gateway::Exposure::only(&args.expose)?
    };
    let exposure = exposure.deny(&args.hide)?;
    let exposing = exposure.describe();
    builder = builder.expose(exposure);
    if args.jwks.is_some() || args.api_keys.is_some() {
        let mut auth = nrpc_gateway::Auth::new().allow_anonymous(args.allow_anonymous);
        if let Some(jwks) = &args.jwks {
            auth = auth.jwks_file(
                jwks,
                args.jwt_issuer.clone(),
                args.jwt_audience.clone(),
                args.jwt_leeway,
            )?;
        }
        if let Some(keys) = &args.api_keys {
            auth = auth.api_keys_file(keys)?;
        }
        for rule in &args.require_scopes {
            auth = auth.require(rule)?;
        }
        builder = builder.auth(auth);
    } else if !args.require_scopes.is_empty() || args.allow_anonymous {
        return Err(Failure(
            "--require and --allow-anonymous need --jwks or --api-keys".into(),
        ));
    }
    builder = builder.forward_credentials(args.forward_credentials);
    // Room for connections: the soft descriptor limit up to the hard one.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("nrpc gateway: the descriptor limit stays as it was: {e}");
    }
    if let Some(n) = args.max_connections {
        builder = builder.max_connections(n);
    }
    for route in &args.http_routes {
        let (prefix, host) = route
            .split_once('=')
            .ok_or_else(|| Failure(format!("--http-route {route:?} is not PREFIX=HOST")))?;
        builder = builder
            .http_route(prefix, host)
            .map_err(|e| Failure(format!("--http-route {route:?}: {e}")))?;
    }
    if let Some(n) = args.max_calls_per_caller {
        builder = builder.max_calls_per_caller(n);
    }
    if let Some(rate) = args.rate_limit {
        builder = builder.rate_limit(rate, args.rate_burst.unwrap_or(rate));
    }
    if !args.allowed_hosts.is_empty() {
        builder = builder.allowed_hosts(args.allowed_hosts);
    }
    if args.allow_origins.iter().any(|origin| origin == "*") {
        builder = builder.allow_any_origin();
    } else if !args.allow_origins.is_empty() {
        builder = builder.allow_origins(args.allow_origins);
    }
    let scheme = match (&args.listen_cert, &args.listen_key) {
        (Some(cert), Some(key)) => {
            let client_ca = args.listen_client_ca.as_deref();
            let config = nrpc_gateway::tls::server_config(cert, key, client_ca)?;
            builder = builder.tls(config);
            "https"
        }
        _ => "http",
    };
    if args.metrics {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| Failure(format!("metrics: {e}")))?;
        let render = axum::routing::get(move || std::future::ready(handle.render()));
        builder = builder.routes(axum::Router::new().route("/metrics", render));
    }
    let gateway = builder.build()?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", args.listen)))?;
    let address = listener.local_addr()?;
    // One line a supervisor (or a test) can wait for.
    println!("nrpc gateway listening on {scheme}://{address}");
    println!("exposing {exposing}");
    // SIGINT or SIGTERM (what a supervisor sends): stop accepting, let the
    // calls in progress end.
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    };
    gateway.serve_until(listener, shutdown).await?;
    Ok(())
}

/// `--version`: the crate's version and the wire protocol's.
fn version() -> String {
    format!(
        "{} (wire protocol: nRPC with nrpc extensions v{})",
        env!("CARGO_PKG_VERSION"),
        nrpc_wire::PROTOCOL_VERSION
    )
}

fn main() -> ExitCode {
    let matches = Cli::command().version(version()).get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let (Command::Gateway(args), Some(given)) =
        (&mut cli.command, matches.subcommand_matches("gateway"))
    {
        args.explicit = given
            .ids()
            .filter(|id| {
                given.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|id| id.as_str().to_owned())
            .collect();
    }
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "nrpc", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
