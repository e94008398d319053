//! The Python peer of the interop suite (`tests/interop/`): an
//! interpreter with its requirements, made on first use in
//! `target/interop-venv` (`python3 -m venv` + `pip install -r
//! tests/interop/requirements.txt`) or taken from `NRPC_INTEROP_PYTHON`,
//! and its scripts run as child processes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use tokio::sync::mpsc;

use crate::within;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// The Python interpreter with the suite's requirements, and the directory
/// of the generated message code.
fn python() -> &'static (PathBuf, PathBuf) {
    static ENV: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    ENV.get_or_init(|| {
        let target = root().join("target");
        let python = match std::env::var_os("NRPC_INTEROP_PYTHON") {
            Some(p) => PathBuf::from(p),
            None => {
                let venv = target.join("interop-venv");
                let python = venv.join("bin/python");
                let requirements = root().join("tests/interop/requirements.txt");
                let marker = venv.join("requirements.installed");
                let wanted = std::fs::read_to_string(&requirements).unwrap();
                if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
                    run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
                    run(Command::new(&python)
                        .args([
                            "-m",
                            "pip",
                            "install",
                            "--quiet",
                            "--disable-pip-version-check",
                            "-r",
                        ])
                        .arg(&requirements));
                    std::fs::write(&marker, wanted).unwrap();
                }
                python
            }
        };
        let generated = target.join("interop-gen");
        std::fs::create_dir_all(&generated).unwrap();
        run(Command::new(&python)
            .args(["-m", "grpc_tools.protoc", "-I"])
            .arg(root().join("proto"))
            .arg(format!("--python_out={}", generated.display()))
            .arg(root().join("proto/nrpc/nrpc.proto"))
            .arg(root().join("proto/interop.proto")));
        (python, generated)
    })
}

/// A Python script of the suite, killed (by pid) when dropped.
pub struct Script {
    /// The interpreter running the script.
    pub child: Child,
    /// Lines the script prints, read by a thread so tests can await them.
    pub lines: mpsc::UnboundedReceiver<String>,
}

impl Script {
    /// Runs `tests/interop/<script>` with `args`.
    pub fn start(script: &str, args: &[&str]) -> Self {
        let (python, generated) = python();
        let mut child = Command::new(python)
            .arg(root().join("tests/interop").join(script))
            .args(args)
            .env(
                "PYTHONPATH",
                format!(
                    "{}:{}",
                    generated.display(),
                    root().join("tests/interop").display()
                ),
            )
            .env("PYTHONUNBUFFERED", "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next line `script` prints, within patience.
pub async fn line(script: &mut Script) -> String {
    within("python output", script.lines.recv())
        .await
        .unwrap_or_else(|| panic!("the python script ended: {:?}", script.child.try_wait()))
}
