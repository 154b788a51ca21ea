//! Runs an external program the way every task needs it: arguments given directly (no
//! shell), optional bytes on stdin, stdout captured up to a limit, the start of stderr kept
//! for the error, and a time limit after which the program is killed and reaped. A program
//! that is not installed is reported with the Debian package that provides it.
//!
//! Pipes are served by threads so a chatty program never blocks on a full pipe; output
//! beyond the limits is read and thrown away. Also here: the scratch-directory and file
//! helpers the tasks use around a program, each error naming the path.

use std::ffi::OsStr;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::TaskError;

/// How much of stderr an error message keeps.
const STDERR_KEPT: usize = 2048;
/// The longest sleep between two checks for the program's exit.
const MAX_POLL: Duration = Duration::from_millis(10);

/// An external program and the Debian package that provides it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Program {
    /// The executable's name, looked up in `PATH`.
    pub name: &'static str,
    /// The Debian package to install when it is missing.
    pub package: &'static str,
}

/// Runs `program` with `args` (and `env` added), writes `stdin` to it, and waits at most
/// `timeout`; returns its stdout. Refuses more than `max_stdout` bytes of output and an
/// unsuccessful exit.
pub(crate) fn run<A: AsRef<OsStr>>(
    program: Program,
    args: &[A],
    env: &[(&str, &str)],
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    max_stdout: usize,
) -> Result<Vec<u8>, TaskError> {
    let mut command = Command::new(program.name);
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| match source.kind() {
        ErrorKind::NotFound => TaskError::MissingProgram {
            program: program.name,
            package: program.package,
        },
        _ => TaskError::Io {
            what: format!("starting `{}`", program.name),
            source,
        },
    })?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A program that exits without reading all of it is not an error here; its exit
        // status says whether it worked.
        std::thread::spawn(move || pipe.write_all(&bytes));
    }
    let stdout = child
        .stdout
        .take()
        .map(|pipe| drain(pipe, max_stdout.saturating_add(1)));
    let stderr = child.stderr.take().map(|pipe| drain(pipe, STDERR_KEPT));
    let status = wait(&mut child, program, timeout)?;
    let stdout = join(stdout);
    let stderr = join(stderr);
    if !status.success() {
        return Err(TaskError::Failed {
            program: program.name,
            status: status.to_string(),
            stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
        });
    }
    if stdout.len() > max_stdout {
        return Err(TaskError::OutputTooLarge {
            program: program.name,
            limit: max_stdout,
        });
    }
    Ok(stdout)
}

/// Waits for `child` up to `timeout`; past it, kills and reaps it. Checks often at first
/// (the programs here usually take well under a second), then every [`MAX_POLL`].
fn wait(child: &mut Child, program: Program, timeout: Duration) -> Result<ExitStatus, TaskError> {
    let io = |source| TaskError::Io {
        what: format!("waiting for `{}`", program.name),
        source,
    };
    let start = Instant::now();
    let mut pause = Duration::from_micros(500);
    loop {
        if let Some(status) = child.try_wait().map_err(io)? {
            return Ok(status);
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            // It may exit between the check and the kill; either way it is reaped.
            let _ = child.kill();
            child.wait().map_err(io)?;
            return Err(TaskError::Timeout {
                program: program.name,
                limit: timeout,
            });
        }
        std::thread::sleep(pause.min(timeout.saturating_sub(elapsed)));
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// Reads `pipe` to its end on a thread, keeping the first `keep` bytes.
fn drain(mut pipe: impl Read + Send + 'static, keep: usize) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = keep.saturating_sub(kept.len()).min(n);
                    kept.extend_from_slice(&buf[..room]);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        kept
    })
}

/// What a drain thread kept (nothing if there was no pipe or the thread died).
fn join(handle: Option<JoinHandle<Vec<u8>>>) -> Vec<u8> {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// A program wrote a file or output this crate cannot read.
pub(crate) fn bad_output(program: Program, reason: String) -> TaskError {
    TaskError::Failed {
        program: program.name,
        status: "exit status 0".into(),
        stderr: format!("unreadable output: {reason}"),
    }
}

/// A fresh temporary directory, removed when dropped.
pub(crate) fn temp_dir() -> Result<tempfile::TempDir, TaskError> {
    tempfile::tempdir().map_err(|source| TaskError::Io {
        what: "creating a temporary directory".into(),
        source,
    })
}

/// The bytes of the file at `path`.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, TaskError> {
    std::fs::read(path).map_err(|source| TaskError::Io {
        what: format!("reading {}", path.display()),
        source,
    })
}

/// Writes `bytes` to the file at `path`.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), TaskError> {
    std::fs::write(path, bytes).map_err(|source| TaskError::Io {
        what: format!("writing {}", path.display()),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SH: Program = Program {
        name: "sh",
        package: "dash",
    };
    const LIMIT: Duration = Duration::from_secs(10);

    fn sh(script: &str, stdin: Option<&str>, max: usize) -> Result<Vec<u8>, TaskError> {
        let stdin = stdin.map(|s| s.as_bytes().to_vec());
        run(SH, &["-c", script], &[], stdin, LIMIT, max)
    }

    #[test]
    fn stdout_and_stdin_pass_through() {
        assert_eq!(
            sh("tr a-z A-Z", Some("hello"), 100).ok(),
            Some(b"HELLO".to_vec())
        );
        assert_eq!(sh("true", None, 0).ok(), Some(vec![]));
    }

    #[test]
    fn env_is_passed() {
        let out = run(
            SH,
            &["-c", "printf %s \"$X\""],
            &[("X", "yes")],
            None,
            LIMIT,
            9,
        );
        assert_eq!(out.ok(), Some(b"yes".to_vec()));
    }

    #[test]
    fn a_missing_program_names_its_package() {
        let missing = Program {
            name: "taochain-no-such-program",
            package: "taochain-pkg",
        };
        let err = run(missing, &["x"], &[], None, LIMIT, 10);
        assert!(
            matches!(
                err,
                Err(TaskError::MissingProgram {
                    package: "taochain-pkg",
                    ..
                })
            ),
            "{err:?}"
        );
        let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("install the Debian package `taochain-pkg`"),
            "{msg}"
        );
    }

    #[test]
    fn a_failure_keeps_stderr() {
        let err = sh("echo broken >&2; exit 3", None, 10);
        assert!(
            matches!(&err, Err(TaskError::Failed { stderr, status, .. })
                if stderr == "broken" && status.contains('3')),
            "{err:?}"
        );
    }

    #[test]
    fn too_much_output_is_refused_and_stdin_may_be_ignored() {
        let err = sh("head -c 100000 /dev/zero", Some(&"x".repeat(1 << 20)), 1000);
        assert!(
            matches!(err, Err(TaskError::OutputTooLarge { limit: 1000, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn a_slow_program_is_killed() {
        let short = Duration::from_millis(200);
        let err = run(SH, &["-c", "exec sleep 30"], &[], None, short, 10);
        assert!(matches!(err, Err(TaskError::Timeout { .. })), "{err:?}");
    }
}
