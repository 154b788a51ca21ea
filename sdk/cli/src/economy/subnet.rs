//! `tao subnet ...`: create (store + register in one step), list, show, set hyperparameters, dissolve.

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};
use taochain_arena_msg::TaskSpec;
use taochain_primitives::subnet::{EconomyParams, Hyperparams, SubnetView};
use taochain_primitives::{Address, Msg};

use super::{bytes_arg, get, name_value, send, tao};
use crate::Ctx;
use crate::chain::{resolve_address, signing_key};
use crate::output::{emit, spinner, table};

/// `tao subnet ...`
#[derive(Subcommand)]
pub enum SubnetCmd {
    /// Create a subnet run by a stored contract; locks the current lock cost.
    Create {
        /// Owner coldkey (key name).
        #[arg(long)]
        from: String,
        /// Owner hotkey (address or key name); gets UID 0.
        #[arg(long)]
        hotkey: String,
        /// Contract code id (with `--task`: an arena code already stored; default: store
        /// the arena contract first).
        #[arg(long, required_unless_present = "task")]
        code_id: Option<u64>,
        /// Instantiate message: hex, or @file.
        #[arg(long, default_value = "", conflicts_with = "task")]
        init_msg: String,
        /// An AI subnet: speech-to-text, image-to-text or text-correction. Stores the
        /// arena contract (unless `--code-id`) and instantiates it with the task.
        #[arg(long)]
        task: Option<String>,
        /// With `--task`: how long validators wait for an answer, milliseconds.
        #[arg(long, default_value_t = 10_000, requires = "task")]
        challenge_timeout_ms: u32,
        /// With `--task`: weight of a round's score in a miner's moving average, ppm.
        #[arg(long, default_value_t = 300_000, requires = "task")]
        score_smoothing_ppm: u32,
        /// With `--task`: the arena contract's wasm (default:
        /// $TAOCHAIN_CONTRACTS_DIR/arena.wasm, built by scripts/build-contracts.sh).
        #[arg(long, requires = "task")]
        arena_wasm: Option<std::path::PathBuf>,
        /// Hyperparameter overrides on the chain's defaults: `name=value` (repeatable).
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
    },
    /// Every subnet.
    List,
    /// One subnet.
    Show {
        /// Netuid.
        netuid: u16,
    },
    /// A subnet's hyperparameters.
    Hyperparams {
        /// Netuid.
        netuid: u16,
    },
    /// Owner: set a hyperparameter.
    SetHyperparam {
        /// Owner coldkey.
        #[arg(long)]
        from: String,
        /// Netuid.
        netuid: u16,
        /// Name.
        name: String,
        /// Value (booleans: 0 or 1).
        value: u64,
    },
    /// Owner: dissolve a subnet (the lock comes back).
    Dissolve {
        /// Owner coldkey.
        #[arg(long)]
        from: String,
        /// Netuid.
        netuid: u16,
    },
    /// The lock cost of the next subnet.
    LockCost,
}

fn subnet_json(v: &SubnetView) -> Value {
    json!({
        "netuid": v.netuid,
        "owner": v.info.owner.to_string(),
        "owner_hotkey": v.info.owner_hotkey.to_string(),
        "contract": v.info.contract.to_string(),
        "locked_rao": v.info.locked.to_string(),
        "uids": v.info.n,
        "tempo": v.info.hyperparams.tempo,
        "pot_rao": v.pot.to_string(),
        "burn_rao": v.burn.to_string(),
        "share": v.share_q32 as f64 / (1u64 << 32) as f64,
        "registered_at": v.info.registered_at,
        "last_epoch": v.info.last_epoch,
    })
}

fn hyperparams_json(h: &Hyperparams) -> Value {
    serde_json::to_value(h).unwrap_or(Value::Null)
}

/// Runs `tao subnet`.
pub fn run_subnet(ctx: &Ctx, cmd: SubnetCmd) -> anyhow::Result<()> {
    match cmd {
        SubnetCmd::Create {
            from,
            hotkey,
            code_id,
            init_msg,
            set,
            task,
            challenge_timeout_ms,
            score_smoothing_ppm,
            arena_wasm,
        } => match task {
            Some(task) => {
                let spec = TaskSpec::new(
                    crate::arena::task_kind(&task)?,
                    challenge_timeout_ms,
                    score_smoothing_ppm,
                );
                create_arena(ctx, &from, &hotkey, code_id, arena_wasm, &spec, &set)
            }
            None => {
                let code_id = code_id.context("--code-id is required without --task")?;
                create(ctx, &from, &hotkey, code_id, &bytes_arg(&init_msg)?, &set)
            }
        },
        SubnetCmd::List => list(ctx),
        SubnetCmd::Show { netuid } => show(ctx, netuid),
        SubnetCmd::Hyperparams { netuid } => hyperparams(ctx, netuid),
        SubnetCmd::SetHyperparam {
            from,
            netuid,
            name,
            value,
        } => send(
            ctx,
            &from,
            Msg::SetHyperparam {
                netuid,
                name: name.clone(),
                value,
            },
            format!("set {name} = {value} on subnet {netuid}"),
        ),
        SubnetCmd::Dissolve { from, netuid } => send(
            ctx,
            &from,
            Msg::DissolveSubnet { netuid },
            format!("dissolved subnet {netuid}"),
        ),
        SubnetCmd::LockCost => lock_cost(ctx),
    }
}

/// `tao subnet create --task`: checks the task, stores the arena contract unless a code id
/// is given, and registers the subnet instantiating it with the task.
fn create_arena(
    ctx: &Ctx,
    from: &str,
    hotkey: &str,
    code_id: Option<u64>,
    wasm: Option<std::path::PathBuf>,
    spec: &TaskSpec,
    set: &[String],
) -> anyhow::Result<()> {
    spec.validate().map_err(anyhow::Error::msg)?;
    // Everything that can be refused is checked before the contract upload is paid for.
    let (hotkey, hyperparams) = subnet_terms(ctx, hotkey, set)?;
    let code_id = match code_id {
        Some(id) => id,
        None => {
            let path = wasm.unwrap_or_else(default_arena_wasm);
            let bytes = std::fs::read(&path).with_context(|| {
                format!(
                    "reading the arena contract {} (build it: scripts/build-contracts.sh, or pass --arena-wasm / --code-id)",
                    path.display()
                )
            })?;
            let key = signing_key(ctx, from)?;
            let bar = spinner(ctx.output, "storing the arena contract");
            let c = ctx
                .client()
                .send(&key, vec![Msg::StoreCode { wasm: bytes }], None);
            bar.finish_and_clear();
            code_id_of(&c?.data)?
        }
    };
    register(
        ctx,
        from,
        hotkey,
        code_id,
        &borsh::to_vec(spec)?,
        hyperparams,
    )
}

/// The code id in a committed `StoreCode`'s result data (hex: borsh u64, then the
/// checksum).
pub fn code_id_of(data: &str) -> anyhow::Result<u64> {
    let data = hex::decode(data)?;
    Ok(u64::from_le_bytes(
        data.get(..8)
            .and_then(|d| d.try_into().ok())
            .context("StoreCode returned no code id")?,
    ))
}

fn default_arena_wasm() -> std::path::PathBuf {
    contracts_dir().join("arena.wasm")
}

/// Where `scripts/build-contracts.sh` puts the contracts: `$TAOCHAIN_CONTRACTS_DIR`, by
/// default under `~/.cache/taochain-contracts-target`.
pub fn contracts_dir() -> std::path::PathBuf {
    std::env::var_os("TAOCHAIN_CONTRACTS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/taochain-contracts-target/wasm32-unknown-unknown/release")
        })
}

/// `tao subnet create`: registers a subnet, with hyperparameter overrides if any.
fn create(
    ctx: &Ctx,
    from: &str,
    hotkey: &str,
    code_id: u64,
    init_msg: &[u8],
    set: &[String],
) -> anyhow::Result<()> {
    let (hotkey, hyperparams) = subnet_terms(ctx, hotkey, set)?;
    register(ctx, from, hotkey, code_id, init_msg, hyperparams)
}

/// The owner hotkey and the hyperparameters (the chain's defaults with the `--set`
/// overrides; `None` without any), refused before anything is sent.
fn subnet_terms(
    ctx: &Ctx,
    hotkey: &str,
    set: &[String],
) -> anyhow::Result<(Address, Option<Hyperparams>)> {
    let hotkey = resolve_address(ctx, hotkey)?;
    if set.is_empty() {
        return Ok((hotkey, None));
    }
    let mut hp = get::<EconomyParams>(ctx, "/economy")?
        .unwrap_or_default()
        .default_hyperparams;
    for s in set {
        let (n, v) = name_value(s)?;
        hp.set(&n, v).map_err(anyhow::Error::msg)?;
    }
    Ok((hotkey, Some(hp)))
}

/// Sends `RegisterSubnet`.
fn register(
    ctx: &Ctx,
    from: &str,
    hotkey: Address,
    code_id: u64,
    init_msg: &[u8],
    hyperparams: Option<Hyperparams>,
) -> anyhow::Result<()> {
    let msg = Msg::RegisterSubnet {
        hotkey,
        code_id,
        init_msg: init_msg.to_vec(),
        hyperparams,
    };
    send(
        ctx,
        from,
        msg,
        format!("created a subnet owned by hotkey {hotkey}"),
    )
}

/// `tao subnet list`: every subnet, as a table.
fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let views: Vec<SubnetView> = get(ctx, "/subnets")?.unwrap_or_default();
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            vec![
                v.netuid.to_string(),
                v.info.n.to_string(),
                v.info.hyperparams.tempo.to_string(),
                tao(v.pot),
                tao(v.burn),
                format!("{:.4}", v.share_q32 as f64 / (1u64 << 32) as f64),
                v.info.owner.to_string(),
            ]
        })
        .collect();
    let js: Vec<Value> = views.iter().map(subnet_json).collect();
    emit(ctx.output, &js, || {
        table(
            &["NETUID", "UIDS", "TEMPO", "POT", "BURN", "SHARE", "OWNER"],
            &rows,
        )
    })
}

/// `tao subnet show`: one subnet as JSON.
fn show(ctx: &Ctx, netuid: u16) -> anyhow::Result<()> {
    let views: Vec<SubnetView> = get(ctx, "/subnets")?.unwrap_or_default();
    let v = views
        .iter()
        .find(|v| v.netuid == netuid)
        .with_context(|| format!("no subnet {netuid}"))?;
    let js = subnet_json(v);
    emit(ctx.output, &js, || {
        serde_json::to_string_pretty(&js).unwrap_or_default()
    })
}

/// `tao subnet hyperparams`: a subnet's hyperparameters with their bounds.
fn hyperparams(ctx: &Ctx, netuid: u16) -> anyhow::Result<()> {
    let s: taochain_primitives::subnet::SubnetInfo =
        get(ctx, &format!("/subnet/{netuid}"))?.with_context(|| format!("no subnet {netuid}"))?;
    let js = hyperparams_json(&s.hyperparams);
    emit(ctx.output, &js, || {
        let rows: Vec<Vec<String>> = taochain_primitives::subnet::HYPERPARAMS
            .iter()
            .map(|(n, lo, hi)| {
                vec![
                    n.to_string(),
                    s.hyperparams.get(n).unwrap_or(0).to_string(),
                    format!("[{lo}, {hi}]"),
                ]
            })
            .collect();
        table(&["NAME", "VALUE", "BOUNDS"], &rows)
    })
}

/// `tao subnet lock-cost`: the lock cost of the next subnet.
fn lock_cost(ctx: &Ctx) -> anyhow::Result<()> {
    let c: u64 = get(ctx, "/lock_cost")?.unwrap_or(0);
    emit(
        ctx.output,
        &json!({"lock_cost_rao": c.to_string(), "lock_cost": tao(c)}),
        || format!("lock cost of the next subnet: {}", tao(c)),
    )
}
