//! `tao ai ask`: one paid question to a gateway. For each subnet the answer needs (the one
//! named by `--netuid`, or the experts the gating rule picks with `--route auto`), find the
//! user's channel to the gateway (the wallet's, or `--channel`), open one if there is none
//! usable, sign the next voucher (what was charged + the gateway's price, refused above
//! `--max-price`), send, and print the answer with who answered and what it cost.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;
use taochain_arena_msg::TaskKind;
use taochain_client::keys::address_of;
use taochain_neuron::gateway::MAX_INPUT;
use taochain_neuron::gateway::api::{Answer, GatewayInfo, RouteVoucher, VoucherWire};
use taochain_neuron::gateway::client::GatewayClient;
use taochain_primitives::channel::{Channel, Voucher};
use taochain_primitives::subnet::SubnetInfo;
use taochain_primitives::{Address, Msg, format_tao};

use super::wallet::{Wallet, next_base};
use super::{amount, channel};
use crate::Ctx;
use crate::chain::signing_key;
use crate::output::{Output, emit, spinner};

/// `tao ai ask`'s arguments.
#[derive(clap::Args)]
pub struct AskArgs {
    /// The paying user (key name).
    #[arg(long)]
    from: String,
    /// The input: a WAV, a PNG or a text file.
    #[arg(long)]
    file: PathBuf,
    /// Ask this subnet.
    #[arg(long, conflicts_with = "route", required_unless_present = "route")]
    netuid: Option<u16>,
    /// `auto`: let the gateway's router pick and chain the experts for the input.
    #[arg(long, value_parser = ["auto"])]
    route: Option<String>,
    /// The gateway's URL.
    #[arg(long, default_value = "http://127.0.0.1:8700")]
    gateway: String,
    /// Pay from this channel (with --netuid); default: the wallet's, or a new one.
    #[arg(long, requires = "netuid")]
    channel: Option<u64>,
    /// Deposit of a channel opened for this question.
    #[arg(long, default_value = "1TAO")]
    deposit: String,
    /// Life of a channel opened for this question, blocks.
    #[arg(long, default_value_t = 1000)]
    blocks: u64,
    /// Refuse a gateway asking more than this per request.
    #[arg(long, default_value = "0.1TAO")]
    max_price: String,
}

struct Session<'a> {
    ctx: &'a Ctx,
    key: SigningKey,
    user: Address,
    info: GatewayInfo,
    gateway: Address,
    price: u64,
    wallet: Wallet,
    books: GatewayClient,
    rt: &'a tokio::runtime::Runtime,
}

impl Session<'_> {
    /// A usable channel for `netuid`: the one given, the wallet's, or a new one.
    fn channel_for(
        &mut self,
        netuid: u16,
        given: Option<u64>,
        a: &AskArgs,
    ) -> anyhow::Result<(u64, Channel)> {
        let chain = self.info.chain_id.clone();
        let height = self.ctx.client().status()?.height;
        let margin = self.info.expiry_margin_blocks;
        // A channel pays one subnet: one dissolved since and replaced on the netuid is not
        // this one.
        let raw = self
            .ctx
            .client()
            .query_raw(&format!("/subnet/{netuid}"), 0)?;
        anyhow::ensure!(!raw.is_empty(), "no subnet {netuid}");
        let subnet: SubnetInfo = borsh::from_slice(&raw)?;
        let usable = |c: &Channel| {
            !c.closed
                && c.user == self.user
                && c.gateway == self.gateway
                && c.netuid == netuid
                && c.subnet_contract == subnet.contract
                && height.saturating_add(margin).saturating_add(1) < c.expires_at
        };
        if let Some(id) = given {
            let c = channel(self.ctx, id)?;
            anyhow::ensure!(
                usable(&c),
                "channel {id} is not {}'s to gateway {} on netuid {netuid}'s subnet now, is closed, or expires at block {} (now {height})",
                self.user,
                self.gateway,
                c.expires_at
            );
            return Ok((id, c));
        }
        if let Some(id) = self
            .wallet
            .channel(&chain, &self.user, &self.gateway, netuid)
            && let Ok(c) = channel(self.ctx, id)
        {
            let spent = self.wallet.signed(&chain, id).max(c.redeemed);
            if usable(&c) && spent.saturating_add(self.price) <= c.deposit {
                return Ok((id, c));
            }
        }
        let deposit = amount(&a.deposit)?;
        anyhow::ensure!(
            deposit >= self.price,
            "--deposit {} does not pay for one request at the gateway's price {}",
            format_tao(deposit),
            format_tao(self.price)
        );
        let bar = spinner(self.ctx.output, "opening a channel to the gateway");
        let sent = self.ctx.client().send(
            &self.key,
            vec![Msg::OpenChannel {
                gateway: self.gateway,
                netuid,
                deposit,
                blocks: a.blocks,
                user_key: self.key.verifying_key().to_bytes(),
            }],
            None,
        );
        bar.finish_and_clear();
        let c = sent?;
        let id: u64 = borsh::from_slice(&hex::decode(&c.data)?).context("channel id")?;
        self.wallet
            .set_channel(&chain, &self.user, &self.gateway, netuid, id);
        self.wallet.save()?;
        if self.ctx.output == Output::Text {
            eprintln!(
                "opened channel {id} of {} to gateway {} on netuid {netuid} (block {})",
                format_tao(deposit),
                self.gateway,
                c.height
            );
        }
        Ok((id, channel(self.ctx, id)?))
    }

    /// The next voucher on `id` and its amount.
    fn voucher(&mut self, id: u64, c: &Channel) -> anyhow::Result<(VoucherWire, u64)> {
        let chain = self.info.chain_id.clone();
        let charged: u64 = self
            .rt
            .block_on(self.books.books(id))?
            .charged_rao
            .parse()
            .context("the gateway's charged amount")?;
        let issued = self.wallet.signed(&chain, id);
        let base = next_base(issued, c.redeemed, charged).map_err(anyhow::Error::msg)?;
        let cumulative = base
            .checked_add(self.price)
            .filter(|&v| v <= c.deposit)
            .with_context(|| {
                format!("channel {id}'s deposit {} is spent", format_tao(c.deposit))
            })?;
        let sig = self.key.sign(
            &Voucher {
                channel: id,
                cumulative,
            }
            .digest(&chain, c.netuid),
        );
        // Recorded before it leaves: the gateway may redeem any voucher it was sent.
        self.wallet.set_signed(&chain, id, cumulative);
        self.wallet.save()?;
        Ok((
            VoucherWire {
                channel: id,
                cumulative_rao: cumulative.to_string(),
                signature: hex::encode(sig.to_bytes()),
            },
            cumulative,
        ))
    }
}

fn describe(a: &Answer) -> String {
    format!(
        "{} on netuid {}: UID {} ({}) in {} ms, {}/{} agreed of {} asked; paid {} (channel {}, {} in total)",
        a.task,
        a.netuid,
        a.miner.uid,
        a.miner.hotkey,
        a.latency_ms,
        a.agreed,
        a.answered,
        a.asked,
        a.charged_rao
            .parse()
            .map_or(a.charged_rao.clone(), format_tao),
        a.channel,
        a.cumulative_rao
            .parse()
            .map_or(a.cumulative_rao.clone(), format_tao),
    )
}

/// Refuses, before any channel is opened and paid for, what the gateway would refuse: a
/// subnet it does not serve, an input over [`MAX_INPUT`] bytes, an input that is not what
/// the first subnet's task takes.
fn check_servable(info: &GatewayInfo, netuids: &[u16], input: &[u8]) -> anyhow::Result<()> {
    let served = |netuid: u16| {
        info.subnets
            .iter()
            .find(|s| s.netuid == netuid)
            .with_context(|| {
                let list: Vec<String> = info
                    .subnets
                    .iter()
                    .map(|s| format!("{} ({})", s.netuid, s.task))
                    .collect();
                format!(
                    "the gateway serves no subnet {netuid}; it serves {}",
                    list.join(", ")
                )
            })
    };
    for &netuid in netuids {
        served(netuid)?;
    }
    anyhow::ensure!(
        input.len() <= MAX_INPUT,
        "the input is {} bytes, over the gateway's {MAX_INPUT}-byte limit",
        input.len()
    );
    let Some(&first) = netuids.first() else {
        anyhow::bail!("no subnet to ask");
    };
    let task = &served(first)?.task;
    let kind = taochain_tasks::route::input_kind(input)
        .map_err(|e| anyhow::anyhow!("subnet {first} ({task}) cannot take this input: {e}"))?;
    anyhow::ensure!(
        kind.name() == task,
        "subnet {first} runs {task}, which takes {}; this input is for {}",
        TaskKind::from_name(task).map_or("another input", |k| k.input_type()),
        kind.name()
    );
    Ok(())
}

/// Runs `tao ai ask`.
pub fn run(ctx: &Ctx, a: AskArgs) -> anyhow::Result<()> {
    let input = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let key = signing_key(ctx, &a.from)?;
    let rt = crate::arena::runtime()?;
    let client = GatewayClient::new(&a.gateway, Duration::from_secs(120))?;
    let info = rt
        .block_on(client.info())
        .with_context(|| format!("reaching the gateway at {}", a.gateway))?;
    let node_chain = ctx.client().status()?.chain_id;
    anyhow::ensure!(
        info.chain_id == node_chain,
        "the gateway is on chain {}, the node on {node_chain}",
        info.chain_id
    );
    let price: u64 = info.price_rao.parse().context("the gateway's price")?;
    let max = amount(&a.max_price)?;
    anyhow::ensure!(
        price <= max,
        "the gateway asks {} per request, over --max-price {}",
        format_tao(price),
        format_tao(max)
    );
    let netuids: Vec<u16> = match a.netuid {
        Some(n) => vec![n],
        None => taochain_tasks::route::route(&input)
            .map_err(anyhow::Error::msg)?
            .into_iter()
            .map(|k| {
                info.subnets
                    .iter()
                    .find(|s| s.task == k.name())
                    .map(|s| s.netuid)
                    .with_context(|| format!("the gateway serves no {} subnet", k.name()))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    check_servable(&info, &netuids, &input)?;
    let mut s = Session {
        ctx,
        user: address_of(&key),
        key,
        gateway: info
            .gateway
            .parse()
            .map_err(|e| anyhow::anyhow!("gateway hotkey: {e}"))?,
        price,
        wallet: Wallet::open(&ctx.home)?,
        info,
        books: client.clone(),
        rt: &rt,
    };
    let mut vouchers = vec![];
    for &netuid in &netuids {
        let (id, c) = s.channel_for(netuid, a.channel, &a)?;
        let (v, _) = s.voucher(id, &c)?;
        vouchers.push(RouteVoucher { netuid, voucher: v });
    }
    let bar = spinner(ctx.output, "asking the gateway");
    let result = if a.route.is_some() {
        rt.block_on(client.route(&input, vouchers))
            .map(|r| (r.answer.clone(), r.route.clone(), r.latency_ms))
    } else {
        let v = vouchers.remove(0);
        rt.block_on(client.ask(v.netuid, &input, v.voucher))
            .map(|r| (r.answer.clone(), vec![r.clone()], r.latency_ms))
    };
    bar.finish_and_clear();
    let (answer, route, latency_ms) = result?;
    let value = json!({"answer": answer, "latency_ms": latency_ms, "route": route});
    emit(ctx.output, &value, || {
        let mut lines = vec![answer.clone()];
        if route.len() > 1 {
            let path: Vec<String> = route
                .iter()
                .map(|r| format!("{} (netuid {})", r.task, r.netuid))
                .collect();
            lines.push(format!("route: {}", path.join(" -> ")));
        }
        lines.extend(route.iter().map(describe));
        lines.join("\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use taochain_neuron::gateway::api::SubnetEntry;

    fn info() -> GatewayInfo {
        GatewayInfo {
            chain_id: "c".into(),
            gateway: "g".into(),
            price_rao: "1".into(),
            top_k: 1,
            expiry_margin_blocks: 1,
            subnets: vec![
                SubnetEntry {
                    netuid: 1,
                    task: "speech-to-text".into(),
                },
                SubnetEntry {
                    netuid: 3,
                    task: "text-correction".into(),
                },
            ],
        }
    }

    #[test]
    fn a_served_subnet_and_an_input_its_task_takes_pass() {
        check_servable(&info(), &[3], b"helo wrld").expect("servable");
    }

    #[test]
    fn what_the_gateway_would_refuse_is_refused_before_paying() {
        let err = check_servable(&info(), &[4], b"hello").expect_err("refused");
        assert!(err.to_string().contains("serves no subnet 4"), "{err}");
        let err = check_servable(&info(), &[1], b"hello").expect_err("refused");
        assert!(err.to_string().contains("takes audio/wav"), "{err}");
        let big = vec![b'a'; MAX_INPUT + 1];
        let err = check_servable(&info(), &[3], &big).expect_err("refused");
        assert!(err.to_string().contains("byte limit"), "{err}");
        let err = check_servable(&info(), &[3], &[0xff, 0xfe]).expect_err("refused");
        assert!(err.to_string().contains("cannot take this input"), "{err}");
    }
}
