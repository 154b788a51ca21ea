//! `tao stake ...`: add, remove, move, claim nominator rewards, show, set take.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::json;
use taochain_primitives::subnet::{HotkeyInfo, StakePool};
use taochain_primitives::{Address, Msg, parse_amount};

use super::{get, send, tao};
use crate::Ctx;
use crate::chain::resolve_address;
use crate::output::{emit, table};

/// `tao stake ...`
#[derive(Subcommand)]
pub enum StakeCmd {
    /// Stake free balance on a hotkey (yours or anyone's: nomination).
    Add(StakeArgs),
    /// Unstake to the free balance.
    Remove(StakeArgs),
    /// Move your stake between hotkeys.
    Move {
        /// Coldkey.
        #[arg(long)]
        from: String,
        /// From this hotkey.
        #[arg(long)]
        from_hotkey: String,
        /// To this hotkey.
        #[arg(long)]
        to_hotkey: String,
        /// Amount (`1.5TAO`, `100rao`).
        #[arg(long)]
        amount: String,
    },
    /// Claim your nominator rewards accrued on a hotkey (also paid whenever your stake on
    /// it changes).
    Claim {
        /// Coldkey.
        #[arg(long)]
        from: String,
        /// Hotkey.
        #[arg(long)]
        hotkey: String,
    },
    /// A hotkey's stake (pending: added since its last epoch, not earning yet), take, and
    /// nominators with their unclaimed rewards.
    Show {
        /// Hotkey.
        hotkey: String,
    },
    /// Set a hotkey's validator take (at most 18%; increases are rate-limited).
    SetTake {
        /// Owning coldkey.
        #[arg(long)]
        from: String,
        /// Hotkey.
        #[arg(long)]
        hotkey: String,
        /// Take in percent, e.g. `9` or `9.5`.
        take: String,
    },
}

/// Stake amount arguments.
#[derive(Args)]
pub struct StakeArgs {
    /// Coldkey.
    #[arg(long)]
    from: String,
    /// Hotkey.
    #[arg(long)]
    hotkey: String,
    /// Amount.
    #[arg(long)]
    amount: String,
}

/// Runs `tao stake`.
pub fn run_stake(ctx: &Ctx, cmd: StakeCmd) -> anyhow::Result<()> {
    match cmd {
        StakeCmd::Add(a) => {
            let hotkey = resolve_address(ctx, &a.hotkey)?;
            let amount = parse_amount(&a.amount)?;
            send(
                ctx,
                &a.from,
                Msg::AddStake { hotkey, amount },
                format!("staked {} on {hotkey}", tao(amount)),
            )
        }
        StakeCmd::Remove(a) => {
            let hotkey = resolve_address(ctx, &a.hotkey)?;
            let amount = parse_amount(&a.amount)?;
            send(
                ctx,
                &a.from,
                Msg::RemoveStake { hotkey, amount },
                format!("unstaked {} from {hotkey}", tao(amount)),
            )
        }
        StakeCmd::Move {
            from,
            from_hotkey,
            to_hotkey,
            amount,
        } => move_stake(ctx, &from, &from_hotkey, &to_hotkey, &amount),
        StakeCmd::Claim { from, hotkey } => {
            let hotkey = resolve_address(ctx, &hotkey)?;
            send(
                ctx,
                &from,
                Msg::ClaimRewards { hotkey },
                format!("claimed nominator rewards on {hotkey}"),
            )
        }
        StakeCmd::Show { hotkey } => show(ctx, &hotkey),
        StakeCmd::SetTake { from, hotkey, take } => set_take(ctx, &from, &hotkey, &take),
    }
}

/// `tao stake move`: moves stake from one hotkey to another.
fn move_stake(
    ctx: &Ctx,
    from: &str,
    from_hotkey: &str,
    to_hotkey: &str,
    amount: &str,
) -> anyhow::Result<()> {
    let (f, t) = (
        resolve_address(ctx, from_hotkey)?,
        resolve_address(ctx, to_hotkey)?,
    );
    let amount = parse_amount(amount)?;
    send(
        ctx,
        from,
        Msg::MoveStake {
            from: f,
            to: t,
            amount,
        },
        format!("moved {} from {f} to {t}", tao(amount)),
    )
}

/// `tao stake show`: a hotkey's stake, take and nominators.
fn show(ctx: &Ctx, hotkey: &str) -> anyhow::Result<()> {
    let hotkey = resolve_address(ctx, hotkey)?;
    let info: Option<HotkeyInfo> = get(ctx, &format!("/hotkey/{hotkey}"))?;
    let pool: StakePool = get(ctx, &format!("/pool/{hotkey}"))?.unwrap_or_default();
    let noms: Vec<(Address, u64)> = get(ctx, &format!("/nominators/{hotkey}"))?.unwrap_or_default();
    let info = info.with_context(|| format!("hotkey {hotkey} is not associated"))?;
    let mut rewards = Vec::with_capacity(noms.len());
    for (c, _) in &noms {
        rewards.push(get::<u64>(ctx, &format!("/rewards/{hotkey}/{c}"))?.unwrap_or(0));
    }
    let js = json!({
        "hotkey": hotkey.to_string(),
        "owner": info.owner.to_string(),
        "take_bps": info.take_bps,
        "total_stake_rao": info.total_stake.to_string(),
        "pending_stake_rao": pool.pending.to_string(),
        "nominators": noms.iter().zip(&rewards).map(|((c, s), r)| json!({"coldkey": c.to_string(), "stake_rao": s.to_string(), "unclaimed_rao": r.to_string()})).collect::<Vec<_>>(),
    });
    emit(ctx.output, &js, || {
        let rows: Vec<Vec<String>> = noms
            .iter()
            .zip(&rewards)
            .map(|((c, s), r)| vec![c.to_string(), tao(*s), tao(*r)])
            .collect();
        format!(
            "hotkey  {hotkey}\nowner   {}\ntake    {}%\nstake   {}\npending {} (earns from the hotkey's next epoch)\n\n{}",
            info.owner,
            info.take_bps as f64 / 100.0,
            tao(info.total_stake),
            tao(pool.pending),
            table(&["NOMINATOR", "STAKE", "UNCLAIMED"], &rows)
        )
    })
}

/// `tao stake set-take`: sets a hotkey's take from a percentage.
fn set_take(ctx: &Ctx, from: &str, hotkey: &str, take: &str) -> anyhow::Result<()> {
    let hotkey = resolve_address(ctx, hotkey)?;
    let pct: f64 = take
        .trim_end_matches('%')
        .parse()
        .context("take in percent")?;
    if !(0.0..=100.0).contains(&pct) {
        bail!("take must be a percentage");
    }
    let take_bps = (pct * 100.0).round() as u16;
    send(
        ctx,
        from,
        Msg::SetTake { hotkey, take_bps },
        format!("set the take of {hotkey} to {pct}%"),
    )
}
