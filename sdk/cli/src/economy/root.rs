//! `tao root ...`: root registration and root weights on subnets.

use clap::Subcommand;
use taochain_primitives::Msg;

use super::{SubnetCmd, run_metagraph, run_subnet, send};
use crate::Ctx;
use crate::chain::resolve_address;

/// `tao root ...`
#[derive(Subcommand)]
pub enum RootCmd {
    /// Register a hotkey on root.
    Register {
        /// Coldkey.
        #[arg(long)]
        from: String,
        /// Hotkey.
        #[arg(long)]
        hotkey: String,
    },
    /// Set root weights over subnets (signed by the hotkey).
    Weights {
        /// Hotkey key name.
        #[arg(long)]
        from: String,
        /// Netuids, comma-separated.
        #[arg(long, value_delimiter = ',')]
        netuids: Vec<u16>,
        /// Values, comma-separated.
        #[arg(long, value_delimiter = ',')]
        values: Vec<u16>,
    },
    /// Root members and each subnet's share of the block reward.
    Show,
}

/// Runs `tao root`.
pub fn run_root(ctx: &Ctx, cmd: RootCmd) -> anyhow::Result<()> {
    match cmd {
        RootCmd::Register { from, hotkey } => {
            let hotkey = resolve_address(ctx, &hotkey)?;
            send(
                ctx,
                &from,
                Msg::RootRegister { hotkey },
                format!("registered {hotkey} on root"),
            )
        }
        RootCmd::Weights {
            from,
            netuids,
            values,
        } => send(
            ctx,
            &from,
            Msg::SetWeights {
                netuid: 0,
                uids: netuids.clone(),
                values,
                version_key: 0,
            },
            format!("set root weights over {} subnets", netuids.len()),
        ),
        RootCmd::Show => {
            run_metagraph(ctx, 0)?;
            run_subnet(ctx, SubnetCmd::List)
        }
    }
}
