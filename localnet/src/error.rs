//! Localnet errors.

use std::path::{Path, PathBuf};

/// Anything that stops a localnet operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalnetError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// No localnet in this home.
    #[error("no localnet in {0} (run `tao localnet up` first)")]
    NotInitialised(PathBuf),
    /// A file we wrote does not parse.
    #[error("{0} is corrupt: {1}")]
    Corrupt(PathBuf, String),
    /// cometbft is missing and could not be installed.
    #[error("cometbft {version}: {detail}")]
    Cometbft {
        /// The pinned version.
        version: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// A command we ran failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command.
        command: String,
        /// Its stderr or exit status.
        detail: String,
    },
    /// The nodes did not reach the height in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Already running.
    #[error("localnet in {0} is already running (pids in pids.json); `tao localnet down` first")]
    AlreadyRunning(PathBuf),
    /// A config edit failed.
    #[error("config {0}: {1}")]
    Config(PathBuf, String),
}

impl LocalnetError {
    /// An I/O error at `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        LocalnetError::Io {
            path: path.into(),
            source,
        }
    }
}
