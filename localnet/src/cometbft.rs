//! Finding the pinned `cometbft` binary, installing it with the machine's Go if missing:
//! `go install github.com/cometbft/cometbft/cmd/cometbft@v<pinned>` into
//! `~/.local/taochain/bin` (or `$TAOCHAIN_BIN`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{COMETBFT_VERSION, LocalnetError};

/// Where we install tools: `$TAOCHAIN_BIN` or `~/.local/taochain/bin`.
pub fn tool_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TAOCHAIN_BIN") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".local").join("taochain").join("bin")
}

fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin).arg("version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn candidates() -> Vec<PathBuf> {
    let mut out = vec![];
    if let Some(p) = std::env::var_os("TAOCHAIN_COMETBFT") {
        out.push(PathBuf::from(p));
    }
    out.push(tool_dir().join("cometbft"));
    if let Some(path) = std::env::var_os("PATH") {
        out.extend(std::env::split_paths(&path).map(|d| d.join("cometbft")));
    }
    out
}

/// The first `cometbft` of the pinned version, if any.
pub fn locate() -> Option<PathBuf> {
    candidates()
        .into_iter()
        .find(|p| p.is_file() && version_of(p).as_deref() == Some(COMETBFT_VERSION))
}

fn go_binary() -> Option<PathBuf> {
    let mut options = vec![PathBuf::from("/usr/local/go/bin/go")];
    if let Some(path) = std::env::var_os("PATH") {
        options.splice(0..0, std::env::split_paths(&path).map(|d| d.join("go")));
    }
    options.into_iter().find(|p| p.is_file())
}

/// The pinned `cometbft`, installed with `go install` when missing.
pub fn locate_or_install() -> Result<PathBuf, LocalnetError> {
    if let Some(p) = locate() {
        return Ok(p);
    }
    let err = |detail: String| LocalnetError::Cometbft {
        version: COMETBFT_VERSION,
        detail,
    };
    let go = go_binary()
        .ok_or_else(|| err("not found, and no `go` to install it (need Go >= 1.22)".into()))?;
    let dir = tool_dir();
    std::fs::create_dir_all(&dir).map_err(|e| LocalnetError::io(&dir, e))?;
    let module = format!("github.com/cometbft/cometbft/cmd/cometbft@v{COMETBFT_VERSION}");
    let out = Command::new(&go)
        .args(["install", &module])
        .env("GOBIN", &dir)
        .output()
        .map_err(|e| err(format!("running {}: {e}", go.display())))?;
    if !out.status.success() {
        return Err(err(format!(
            "go install {module}: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let bin = dir.join("cometbft");
    match version_of(&bin) {
        Some(v) if v == COMETBFT_VERSION => Ok(bin),
        other => Err(err(format!("installed binary reports version {other:?}"))),
    }
}
