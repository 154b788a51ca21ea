//! `tao neuron ...`: burned registration and hotkey association.

use clap::Subcommand;
use taochain_primitives::Msg;

use super::send;
use crate::Ctx;
use crate::chain::resolve_address;

/// `tao neuron ...`
#[derive(Subcommand)]
pub enum NeuronCmd {
    /// Register a hotkey on a subnet, burning the current price.
    Register {
        /// Paying coldkey.
        #[arg(long)]
        from: String,
        /// Subnet.
        #[arg(long)]
        netuid: u16,
        /// Hotkey (address or key name).
        #[arg(long)]
        hotkey: String,
    },
    /// Claim a hotkey for a coldkey.
    Associate {
        /// Coldkey.
        #[arg(long)]
        from: String,
        /// Hotkey.
        #[arg(long)]
        hotkey: String,
    },
}

/// Runs `tao neuron`.
pub fn run_neuron(ctx: &Ctx, cmd: NeuronCmd) -> anyhow::Result<()> {
    match cmd {
        NeuronCmd::Register {
            from,
            netuid,
            hotkey,
        } => {
            let hotkey = resolve_address(ctx, &hotkey)?;
            send(
                ctx,
                &from,
                Msg::BurnedRegister { netuid, hotkey },
                format!("registered {hotkey} on subnet {netuid}"),
            )
        }
        NeuronCmd::Associate { from, hotkey } => {
            let hotkey = resolve_address(ctx, &hotkey)?;
            send(
                ctx,
                &from,
                Msg::AssociateHotkey { hotkey },
                format!("associated hotkey {hotkey}"),
            )
        }
    }
}
