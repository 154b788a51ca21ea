//! `tao ai ask`, `tao ai channel open|show|close`, `tao ai voucher`, `tao ai redeem`:
//! paying a subnet's gateway per request through a payment channel
//! (`taochain_primitives::channel`). The user opens a channel with a deposit, signs
//! cumulative vouchers off chain (`tao ai ask` does both, [`ask`]), the gateway redeems the
//! latest, and after the expiry the user closes it and gets the rest back. The user's
//! channels and signed amounts are kept in the [`wallet`].

mod ask;
mod wallet;

use anyhow::Context;
use clap::Subcommand;
use ed25519_dalek::Signer;
use serde_json::json;
use taochain_primitives::channel::{Channel, Voucher};
use taochain_primitives::{Msg, format_tao, parse_amount};

use crate::Ctx;
use crate::chain::{resolve_address, signing_key};
use crate::output::{emit, spinner};

/// `tao ai ...`
#[derive(Subcommand)]
pub enum AiCmd {
    /// Ask a subnet (or, with `--route auto`, the mixture of experts) through a gateway,
    /// paying per request from a channel (opened if needed).
    Ask(ask::AskArgs),
    /// Payment channels to a subnet's gateway.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Sign a voucher: the channel's user owes `--amount` in total so far.
    Voucher {
        /// The channel's user (key name).
        #[arg(long)]
        from: String,
        /// Channel id.
        #[arg(long)]
        channel: u64,
        /// Cumulative amount (`1.5TAO`, `100rao`).
        #[arg(long)]
        amount: String,
    },
    /// The gateway redeems a voucher: the increment goes to it (its share) and the pot.
    /// Redeem before the channel expires: from then on the user may close it.
    Redeem {
        /// The gateway hotkey (key name).
        #[arg(long)]
        from: String,
        /// Channel id.
        #[arg(long)]
        channel: u64,
        /// Cumulative amount of the voucher.
        #[arg(long)]
        amount: String,
        /// The user's signature (hex, from `tao ai voucher`).
        #[arg(long)]
        signature: String,
    },
}

/// `tao ai channel ...`
#[derive(Subcommand)]
pub enum ChannelCmd {
    /// Escrow a deposit for a gateway hotkey on a subnet.
    Open {
        /// The paying user (key name).
        #[arg(long)]
        from: String,
        /// The gateway hotkey (address or key name).
        #[arg(long)]
        gateway: String,
        /// Subnet.
        #[arg(long)]
        netuid: u16,
        /// Deposit (`10TAO`).
        #[arg(long)]
        deposit: String,
        /// Blocks until the user may close it.
        #[arg(long, default_value_t = 1000)]
        blocks: u64,
    },
    /// One channel.
    Show {
        /// Channel id.
        id: u64,
    },
    /// After the expiry: close and take back what was not redeemed.
    Close {
        /// The channel's user (key name).
        #[arg(long)]
        from: String,
        /// Channel id.
        id: u64,
    },
}

fn amount(text: &str) -> anyhow::Result<u64> {
    parse_amount(text).with_context(|| format!("`{text}` is not an amount"))
}

fn channel(ctx: &Ctx, id: u64) -> anyhow::Result<Channel> {
    let raw = ctx.client().query_raw(&format!("/channel/{id}"), 0)?;
    anyhow::ensure!(!raw.is_empty(), "no channel {id}");
    Ok(borsh::from_slice(&raw)?)
}

fn send(
    ctx: &Ctx,
    from: &str,
    msg: Msg,
    what: String,
) -> anyhow::Result<taochain_client::Committed> {
    let key = signing_key(ctx, from)?;
    let bar = spinner(ctx.output, "broadcasting and waiting for the block");
    let r = ctx.client().send(&key, vec![msg], None);
    bar.finish_and_clear();
    let c = r?;
    if ctx.output == crate::output::Output::Text {
        println!("{what} (block {}, tx {})", c.height, c.hash);
    }
    Ok(c)
}

/// Prints the committed transaction for `--output json` (text was printed by `send`).
fn json_only(ctx: &Ctx, c: &taochain_client::Committed) -> anyhow::Result<()> {
    if ctx.output == crate::output::Output::Json {
        println!("{}", serde_json::to_string(c)?);
    }
    Ok(())
}

/// Runs `tao ai ...`.
pub fn run(ctx: &Ctx, cmd: AiCmd) -> anyhow::Result<()> {
    match cmd {
        AiCmd::Ask(args) => ask::run(ctx, args),
        AiCmd::Channel(ChannelCmd::Open {
            from,
            gateway,
            netuid,
            deposit,
            blocks,
        }) => {
            let key = signing_key(ctx, &from)?;
            let gateway = resolve_address(ctx, &gateway)?;
            let deposit = amount(&deposit)?;
            let msg = Msg::OpenChannel {
                gateway,
                netuid,
                deposit,
                blocks,
                user_key: key.verifying_key().to_bytes(),
            };
            let c = send(
                ctx,
                &from,
                msg,
                format!("opened a channel of {} to {gateway}", format_tao(deposit)),
            )?;
            let id: u64 = borsh::from_slice(&hex::decode(&c.data)?).context("channel id")?;
            let chain_id = ctx.client().status()?.chain_id;
            let mut w = wallet::Wallet::open(&ctx.home)?;
            w.set_channel(
                &chain_id,
                &taochain_client::keys::address_of(&key),
                &gateway,
                netuid,
                id,
            );
            w.save()?;
            emit(
                ctx.output,
                &json!({"channel": id, "height": c.height, "hash": c.hash}),
                || format!("channel id {id}"),
            )
        }
        AiCmd::Channel(ChannelCmd::Show { id }) => {
            let c = channel(ctx, id)?;
            let value = json!({
                "channel": id, "user": c.user.to_string(), "gateway": c.gateway.to_string(),
                "netuid": c.netuid, "deposit_rao": c.deposit.to_string(),
                "redeemed_rao": c.redeemed.to_string(), "expires_at": c.expires_at, "closed": c.closed,
            });
            emit(ctx.output, &value, || {
                format!(
                    "channel {id}: {} -> gateway {} on netuid {}; deposit {}, redeemed {}, expires at block {}{}",
                    c.user,
                    c.gateway,
                    c.netuid,
                    format_tao(c.deposit),
                    format_tao(c.redeemed),
                    c.expires_at,
                    if c.closed { ", closed" } else { "" }
                )
            })
        }
        AiCmd::Channel(ChannelCmd::Close { from, id }) => {
            let c = send(
                ctx,
                &from,
                Msg::CloseChannel { channel: id },
                format!("closed channel {id}"),
            )?;
            json_only(ctx, &c)
        }
        AiCmd::Voucher {
            from,
            channel: id,
            amount: a,
        } => {
            let key = signing_key(ctx, &from)?;
            let c = channel(ctx, id)?;
            let cumulative = amount(&a)?;
            anyhow::ensure!(
                taochain_client::keys::address_of(&key) == c.user,
                "`{from}` is not channel {id}'s user {}",
                c.user
            );
            anyhow::ensure!(!c.closed, "channel {id} is closed");
            anyhow::ensure!(
                cumulative > c.redeemed,
                "{} is not above the {} already redeemed (a voucher is cumulative)",
                format_tao(cumulative),
                format_tao(c.redeemed)
            );
            anyhow::ensure!(
                cumulative <= c.deposit,
                "{} is more than the deposit {}",
                format_tao(cumulative),
                format_tao(c.deposit)
            );
            let chain_id = ctx.client().status()?.chain_id;
            let sig = key.sign(
                &Voucher {
                    channel: id,
                    cumulative,
                }
                .digest(&chain_id, c.netuid),
            );
            let hex_sig = hex::encode(sig.to_bytes());
            let mut w = wallet::Wallet::open(&ctx.home)?;
            w.set_signed(&chain_id, id, cumulative);
            w.save()?;
            emit(
                ctx.output,
                &json!({"channel": id, "cumulative_rao": cumulative.to_string(), "signature": hex_sig}),
                || hex_sig.clone(),
            )
        }
        AiCmd::Redeem {
            from,
            channel: id,
            amount: a,
            signature,
        } => {
            let cumulative = amount(&a)?;
            let sig: [u8; 64] = hex::decode(signature.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .context("the signature is not 64 bytes of hex")?;
            let c = send(
                ctx,
                &from,
                Msg::RedeemVoucher {
                    channel: id,
                    cumulative,
                    signature: sig,
                },
                format!("redeemed channel {id} up to {}", format_tao(cumulative)),
            )?;
            json_only(ctx, &c)
        }
    }
}
