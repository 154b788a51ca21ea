//! `tao weights ...`: set, commit and reveal weights (signed by the hotkey).

use clap::{Args, Subcommand};
use taochain_primitives::Msg;
use taochain_primitives::subnet::weights_commit_hash;

use super::send;
use crate::Ctx;
use crate::chain::resolve_address;

/// `tao weights ...`
#[derive(Subcommand)]
pub enum WeightsCmd {
    /// Set weights (signed by the hotkey).
    Set(WeightArgs),
    /// Commit to weights (commit-reveal subnets); prints the hash.
    Commit(WeightArgs),
    /// Reveal committed weights.
    Reveal(WeightArgs),
}

/// A weight vector.
#[derive(Args)]
pub struct WeightArgs {
    /// Hotkey key name (signs).
    #[arg(long)]
    from: String,
    /// Subnet (0: root, where UIDs are netuids).
    #[arg(long)]
    netuid: u16,
    /// UIDs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    uids: Vec<u16>,
    /// Values, comma-separated (max-upscaled on chain).
    #[arg(long, value_delimiter = ',')]
    values: Vec<u16>,
    /// Salt (commit/reveal).
    #[arg(long, default_value = "")]
    salt: String,
    /// Version key.
    #[arg(long, default_value_t = 0)]
    version_key: u64,
}

/// Runs `tao weights`.
pub fn run_weights(ctx: &Ctx, cmd: WeightsCmd) -> anyhow::Result<()> {
    match cmd {
        WeightsCmd::Set(w) => send(
            ctx,
            &w.from,
            Msg::SetWeights {
                netuid: w.netuid,
                uids: w.uids.clone(),
                values: w.values.clone(),
                version_key: w.version_key,
            },
            format!("set {} weights on subnet {}", w.uids.len(), w.netuid),
        ),
        WeightsCmd::Commit(w) => {
            let hotkey = resolve_address(ctx, &w.from)?;
            let hash = weights_commit_hash(
                &hotkey,
                w.netuid,
                &w.uids,
                &w.values,
                w.salt.as_bytes(),
                w.version_key,
            );
            send(
                ctx,
                &w.from,
                Msg::CommitWeights {
                    netuid: w.netuid,
                    hash,
                },
                format!("committed weights {}", hex::encode(hash)),
            )
        }
        WeightsCmd::Reveal(w) => send(
            ctx,
            &w.from,
            Msg::RevealWeights {
                netuid: w.netuid,
                uids: w.uids.clone(),
                values: w.values.clone(),
                salt: w.salt.into_bytes(),
                version_key: w.version_key,
            },
            format!("revealed {} weights on subnet {}", w.uids.len(), w.netuid),
        ),
    }
}
