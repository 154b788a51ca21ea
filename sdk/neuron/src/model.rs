//! A miner's model: any program, run with the input file's path as its last argument,
//! whose stdout is the answer (so a miner brings PocketSphinx, Tesseract, a Python script,
//! anything); or, for benchmarks and tests, an in-process function.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// Most bytes of a model's stdout kept as its answer.
pub const MAX_ANSWER: usize = 64 * 1024;

/// An in-process model: input bytes to an answer.
pub type ModelFn = dyn Fn(&[u8]) -> Result<String, String> + Send + Sync;

/// What answers challenges.
#[derive(Clone)]
pub enum Model {
    /// A program and its leading arguments; the input file's path is appended.
    Exe {
        /// The program.
        program: PathBuf,
        /// Arguments before the input path.
        args: Vec<String>,
    },
    /// An in-process function.
    Func(Arc<ModelFn>),
}

impl Model {
    /// A model from a command line (`EXE [ARGS...]`, split on whitespace).
    pub fn from_command(command: &str) -> Result<Model, String> {
        let mut parts = command.split_whitespace();
        let program = parts
            .next()
            .ok_or_else(|| "the model command is empty".to_string())?;
        Ok(Model::Exe {
            program: program.into(),
            args: parts.map(str::to_string).collect(),
        })
    }

    /// The model's answer to `input` (written to a file ending in `.{ext}` for a program),
    /// within `timeout`.
    pub async fn answer(
        &self,
        input: &[u8],
        ext: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        match self {
            Model::Func(f) => f(input),
            Model::Exe { program, args } => {
                let file = tempfile::Builder::new()
                    .prefix("challenge-")
                    .suffix(&format!(".{ext}"))
                    .tempfile()
                    .map_err(|e| format!("temp file: {e}"))?;
                tokio::fs::write(file.path(), input)
                    .await
                    .map_err(|e| format!("writing the input: {e}"))?;
                let run = run_program(program, args, file.path().as_os_str());
                match tokio::time::timeout(timeout, run).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("model timed out after {} ms", timeout.as_millis())),
                }
            }
        }
    }
}

async fn run_program(
    program: &PathBuf,
    args: &[String],
    input: &std::ffi::OsStr,
) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .arg(input)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // Its own process group, so a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run model {}: {e}", program.display()))?;
    let group = GroupKill(child.id());
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    // Both pipes are drained at once (a chatty stderr must not block the answer); what is
    // past the bounds is read and dropped.
    let out = async {
        let mut out = Vec::new();
        if let Some(s) = stdout {
            let mut s = s.take(MAX_ANSWER as u64);
            let _ = s.read_to_end(&mut out).await;
            let _ = tokio::io::copy(&mut s.into_inner(), &mut tokio::io::sink()).await;
        }
        out
    };
    let err = async {
        let mut err = Vec::new();
        if let Some(s) = stderr {
            let mut s = s.take(4096);
            let _ = s.read_to_end(&mut err).await;
            let _ = tokio::io::copy(&mut s.into_inner(), &mut tokio::io::sink()).await;
        }
        err
    };
    let (out, err, status) = tokio::join!(out, err, child.wait());
    let status = status.map_err(|e| format!("waiting for the model: {e}"))?;
    drop(group);
    if !status.success() {
        let last = String::from_utf8_lossy(&err);
        let last = last
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("model exited with {status}: {last}"));
    }
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// Kills a model's whole process group when dropped (a timeout drops the future).
struct GroupKill(Option<u32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
