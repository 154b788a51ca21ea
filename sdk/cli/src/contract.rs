//! `tao contract build|check|store|instantiate|execute|query|migrate|state` and
//! `tao vm run`: the contract workflow from a Rust crate to a live contract.
//! Messages are raw bytes the contract defines (the SDK uses borsh), given as hex or
//! `@file`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Subcommand;
use taochain_client::Client;
use taochain_primitives::{Address, Msg, parse_amount};
use taochain_vm::{Entry, VmError, validate};
use taochain_vm_sandbox::Sandbox;

use crate::Ctx;
use crate::chain::{resolve_address, signing_key};
use crate::output::{emit, spinner};
use crate::trust::{TrustArgs, proof_json, proof_text};

/// Contract commands.
#[derive(Subcommand)]
pub enum ContractCmd {
    /// cargo build a contract crate for wasm32 and report sizes (and validation).
    Build {
        /// The crate or workspace directory.
        dir: PathBuf,
    },
    /// The store-time validation, offline: exit 0 accepted, 1 rejected with the reason.
    Check {
        /// The .wasm file.
        file: PathBuf,
    },
    /// Upload code; prints the code id.
    Store {
        /// The .wasm file.
        file: PathBuf,
        /// Signing key.
        #[arg(long)]
        from: String,
    },
    /// Create a contract; prints its address.
    Instantiate {
        /// Code id.
        #[arg(long)]
        code_id: u64,
        /// Message (hex or @file).
        #[arg(long, default_value = "")]
        msg: String,
        /// Funds sent along (`1TAO`, `500rao`).
        #[arg(long)]
        funds: Option<String>,
        /// Admin allowed to migrate (address or key name; default none: immutable).
        #[arg(long)]
        admin: Option<String>,
        /// Label.
        #[arg(long, default_value = "")]
        label: String,
        /// Signing key.
        #[arg(long)]
        from: String,
    },
    /// Call `execute`; prints the output (hex).
    Execute {
        /// Contract address.
        contract: String,
        /// Message (hex or @file).
        #[arg(long, default_value = "")]
        msg: String,
        /// Funds sent along.
        #[arg(long)]
        funds: Option<String>,
        /// Signing key.
        #[arg(long)]
        from: String,
    },
    /// Run `query` on the chain; prints the output (hex).
    Query {
        /// Contract address.
        contract: String,
        /// Message (hex or @file).
        #[arg(long, default_value = "")]
        msg: String,
    },
    /// Move a contract to new code (admin only) and run `migrate`.
    Migrate {
        /// Contract address.
        contract: String,
        /// New code id.
        #[arg(long)]
        code_id: u64,
        /// Message (hex or @file).
        #[arg(long, default_value = "")]
        msg: String,
        /// Signing key.
        #[arg(long)]
        from: String,
    },
    /// One raw entry of a contract's storage, optionally proved against the app hash.
    State {
        /// Contract address.
        contract: String,
        /// Storage key (hex).
        #[arg(long)]
        key: String,
        /// Verify an ICS23 proof of the entry's key against the app hash of the next
        /// header, which the light client verifies from a trust anchor.
        #[arg(long)]
        prove: bool,
        #[command(flatten)]
        trust: TrustArgs,
    },
}

/// `tao vm ...`.
#[derive(Subcommand)]
pub enum VmCmd {
    /// Run one entry point offline in the real VM with an empty mock chain. Exit 0 ok,
    /// 1 contract error / trap / out of gas / invalid code, 2 usage error. The gas limit is
    /// the global `--gas N` (`auto`: a transaction's most, the default `max_tx_gas`).
    Run {
        /// The .wasm file.
        file: PathBuf,
        /// instantiate, execute, query, migrate or epoch.
        #[arg(long)]
        entry: String,
        /// Message (hex or @file).
        #[arg(long, default_value = "")]
        msg: String,
    },
}

/// Message bytes from hex or `@file`.
pub fn message(text: &str) -> anyhow::Result<Vec<u8>> {
    match text.strip_prefix('@') {
        Some(path) => std::fs::read(path).with_context(|| format!("reading message file {path}")),
        None => hex::decode(text.trim().trim_start_matches("0x"))
            .with_context(|| format!("message `{text}` is not hex (or @file)")),
    }
}

fn read_wasm(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("reading {}", file.display()))
}

fn funds(f: &Option<String>) -> anyhow::Result<u64> {
    Ok(f.as_deref().map(parse_amount).transpose()?.unwrap_or(0))
}

fn send(ctx: &Ctx, from: &str, msg: Msg) -> anyhow::Result<taochain_client::Committed> {
    let key = signing_key(ctx, from)?;
    let bar = spinner(ctx.output, "broadcasting and waiting for the block");
    let r = ctx.client().send(&key, vec![msg], None);
    bar.finish_and_clear();
    Ok(r?)
}

fn committed(ctx: &Ctx, c: &taochain_client::Committed, what: String) -> anyhow::Result<()> {
    emit(ctx.output, c, || {
        format!(
            "{what} (block {}, tx {}, gas {})",
            c.height, c.hash, c.gas_used
        )
    })
}

/// Runs a contract subcommand.
pub fn run(ctx: &Ctx, cmd: ContractCmd) -> anyhow::Result<()> {
    match cmd {
        ContractCmd::Build { dir } => build(ctx, &dir),
        ContractCmd::Check { file } => check(ctx, &file),
        ContractCmd::Store { file, from } => store(ctx, &file, &from),
        ContractCmd::Instantiate {
            code_id,
            msg,
            funds: f,
            admin,
            label,
            from,
        } => instantiate(ctx, code_id, &msg, &f, admin, label, &from),
        ContractCmd::Execute {
            contract,
            msg,
            funds: f,
            from,
        } => execute(ctx, &contract, &msg, &f, &from),
        ContractCmd::Migrate {
            contract,
            code_id,
            msg,
            from,
        } => migrate(ctx, &contract, code_id, &msg, &from),
        ContractCmd::Query { contract, msg } => query(ctx, &contract, &msg),
        ContractCmd::State {
            contract,
            key,
            prove,
            trust,
        } => state(ctx, &ctx.client(), &contract, &key, prove.then_some(&trust)),
    }
}

/// `tao contract check`: validates a .wasm file offline; exits 1 when it is rejected.
fn check(ctx: &Ctx, file: &Path) -> anyhow::Result<()> {
    let wasm = read_wasm(file)?;
    match validate(&wasm) {
        Ok(info) => emit(
            ctx.output,
            &serde_json::json!({"accepted": true, "checksum": hex::encode(info.checksum), "size": info.size, "entries": info.entries}),
            || {
                format!(
                    "ACCEPTED {} ({} bytes, checksum {}, entries {})",
                    file.display(),
                    info.size,
                    hex::encode(info.checksum),
                    info.entries.join(",")
                )
            },
        ),
        Err(e) => {
            emit(
                ctx.output,
                &serde_json::json!({"accepted": false, "reason": e.to_string()}),
                || format!("REJECTED {}: {e}", file.display()),
            )?;
            std::process::exit(1);
        }
    }
}

/// `tao contract store`: uploads code and reports its code id.
fn store(ctx: &Ctx, file: &Path, from: &str) -> anyhow::Result<()> {
    let c = send(
        ctx,
        from,
        Msg::StoreCode {
            wasm: read_wasm(file)?,
        },
    )?;
    let data = hex::decode(&c.data)?;
    let code_id = u64::from_le_bytes(
        data.get(..8)
            .and_then(|b| b.try_into().ok())
            .context("no code id in the result")?,
    );
    committed(
        ctx,
        &c,
        format!("stored {} as code id {code_id}", file.display()),
    )
}

/// `tao contract instantiate`: creates a contract and reports its address.
fn instantiate(
    ctx: &Ctx,
    code_id: u64,
    msg: &str,
    f: &Option<String>,
    admin: Option<String>,
    label: String,
    from: &str,
) -> anyhow::Result<()> {
    let admin = admin.map(|a| resolve_address(ctx, &a)).transpose()?;
    let m = Msg::Instantiate {
        code_id,
        msg: message(msg)?,
        funds: funds(f)?,
        admin,
        label,
    };
    let c = send(ctx, from, m)?;
    let addr = Address(
        hex::decode(&c.data)?
            .try_into()
            .map_err(|_| anyhow::anyhow!("no address in the result"))?,
    );
    committed(ctx, &c, format!("instantiated code {code_id} at {addr}"))
}

/// `tao contract execute`: calls `execute` and reports its output.
fn execute(
    ctx: &Ctx,
    contract: &str,
    msg: &str,
    f: &Option<String>,
    from: &str,
) -> anyhow::Result<()> {
    let contract = resolve_address(ctx, contract)?;
    let c = send(
        ctx,
        from,
        Msg::Execute {
            contract,
            msg: message(msg)?,
            funds: funds(f)?,
        },
    )?;
    committed(ctx, &c, format!("executed {contract}: output {}", c.data))
}

/// `tao contract migrate`: moves a contract to new code and reports `migrate`'s output.
fn migrate(ctx: &Ctx, contract: &str, code_id: u64, msg: &str, from: &str) -> anyhow::Result<()> {
    let contract = resolve_address(ctx, contract)?;
    let c = send(
        ctx,
        from,
        Msg::Migrate {
            contract,
            new_code_id: code_id,
            msg: message(msg)?,
        },
    )?;
    committed(
        ctx,
        &c,
        format!("migrated {contract} to code {code_id}: output {}", c.data),
    )
}

/// `tao contract query`: runs `query` on the chain and prints its output (hex).
fn query(ctx: &Ctx, contract: &str, msg: &str) -> anyhow::Result<()> {
    let contract = resolve_address(ctx, contract)?;
    let out = ctx.client().smart_query(&contract, &message(msg)?)?;
    emit(
        ctx.output,
        &serde_json::json!({"output": hex::encode(&out)}),
        || hex::encode(&out),
    )
}

fn state(
    ctx: &Ctx,
    client: &Client,
    contract: &str,
    key: &str,
    prove: Option<&TrustArgs>,
) -> anyhow::Result<()> {
    let contract = resolve_address(ctx, contract)?;
    let path = format!("/contract/{contract}/state/{key}");
    let Some(trust) = prove else {
        let v = client.query_raw(&path, 0)?;
        return emit(
            ctx.output,
            &serde_json::json!({"value": hex::encode(&v)}),
            || hex::encode(&v),
        );
    };
    let trust = trust.resolve(ctx)?;
    let bar = spinner(ctx.output, "waiting for the next header to check the proof");
    let v = client.query_verified_raw(&path, &trust, std::time::Duration::from_secs(30));
    bar.finish_and_clear();
    let v = v?;
    let value = v.value.clone().unwrap_or_default();
    emit(
        ctx.output,
        &serde_json::json!({"value": hex::encode(&value), "proof": proof_json(&v)}),
        || format!("{}\n{}", hex::encode(&value), proof_text(&v)),
    )
}

fn build(ctx: &Ctx, dir: &Path) -> anyhow::Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let status = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!(
            "cargo build failed (is the target installed? rustup target add wasm32-unknown-unknown)"
        );
    }
    let out_dir = target.join("wasm32-unknown-unknown/release");
    let mut rows = vec![];
    for entry in
        std::fs::read_dir(&out_dir).with_context(|| format!("reading {}", out_dir.display()))?
    {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("wasm") {
            let wasm = read_wasm(&path)?;
            let verdict = validate(&wasm)
                .map(|_| "accepted".to_string())
                .unwrap_or_else(|e| format!("REJECTED: {e}"));
            rows.push(serde_json::json!({"file": path, "bytes": wasm.len(), "check": verdict}));
        }
    }
    emit(ctx.output, &rows, || {
        rows.iter()
            .map(|r| {
                format!(
                    "{}  {} bytes  {}",
                    r["file"].as_str().unwrap_or(""),
                    r["bytes"],
                    r["check"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Runs a vm subcommand. Exit codes: 0 ok, 1 contract failure, 2 usage error.
pub fn run_vm(ctx: &Ctx, cmd: VmCmd) -> anyhow::Result<()> {
    let VmCmd::Run { file, entry, msg } = cmd;
    let gas = match ctx.gas {
        taochain_client::Gas::Limit(n) => n,
        taochain_client::Gas::Auto => taochain_primitives::Params::default().max_tx_gas,
    };
    let usage = |e: anyhow::Error| -> ! {
        eprintln!("usage error: {e:#}");
        std::process::exit(2)
    };
    let wasm = read_wasm(&file).unwrap_or_else(|e| usage(e));
    let msg = message(&msg).unwrap_or_else(|e| usage(e));
    let entry = Entry::from_name(&entry)
        .unwrap_or_else(|| usage(anyhow::anyhow!("unknown entry `{entry}`")));
    let mut chain = Sandbox::new();
    chain.gas_limit = gas;
    let checksum = match chain.store_code(&wasm) {
        Ok(c) => c,
        Err(e) => {
            emit(
                ctx.output,
                &serde_json::json!({"ok": false, "error": e.to_string(), "gas_used": 0}),
                || format!("INVALID: {e}"),
            )?;
            std::process::exit(1);
        }
    };
    let addr = chain.register(checksum);
    let out = chain.call(addr, entry, [0u8; 20], 0, &msg);
    let (ok, text) = match &out.result {
        Ok(data) => (
            true,
            format!(
                "OK output {} (gas used {})",
                hex::encode(data),
                out.gas_used
            ),
        ),
        Err(e) => (
            false,
            format!("{} (gas used {})", describe(e), out.gas_used),
        ),
    };
    let json = serde_json::json!({
        "ok": ok, "output": out.result.as_ref().map(hex::encode).ok(), "error": out.result.as_ref().err().map(|e| e.to_string()),
        "gas_used": out.gas_used, "events": out.events.len(), "debug": out.debug,
    });
    emit(ctx.output, &json, || text)?;
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

fn describe(e: &VmError) -> String {
    match e {
        VmError::OutOfGas { .. } => format!("OUT OF GAS: {e}"),
        VmError::Contract(_) => format!("CONTRACT ERROR: {e}"),
        _ => format!("FAILED: {e}"),
    }
}
