//! `tao subnet|neuron|stake|weights|metagraph|root|gov`: the economy from the command line.
//! Every command that changes state signs one transaction, waits for its block and prints
//! what happened; every read prints a table (or `--output json`).

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use taochain_primitives::subnet::{
    EconomyParams, HotkeyInfo, Hyperparams, MetagraphRow, Proposal, ProposalAction, ProposalStatus,
    SubnetView, VoteChoice, weights_commit_hash,
};
use taochain_primitives::{Address, Msg, format_tao, parse_amount};

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
        /// Contract code id.
        #[arg(long)]
        code_id: u64,
        /// Instantiate message: hex, or @file.
        #[arg(long, default_value = "")]
        init_msg: String,
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
    /// A hotkey's stake, take and nominators.
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

/// `tao gov ...`
#[derive(Subcommand)]
pub enum GovCmd {
    /// Submit a proposal (exactly one action).
    Propose {
        /// Proposer.
        #[arg(long)]
        from: String,
        /// Deposit (refunded at quorum).
        #[arg(long)]
        deposit: String,
        /// Set a global parameter: `name=value` (e.g. `subnet_limit=64`, `min_fee=2000`,
        /// `default_tempo=100`).
        #[arg(long, value_name = "NAME=VALUE")]
        set_param: Option<String>,
        /// Migrate this subnet's contract (with --code-id, --msg).
        #[arg(long)]
        migrate_subnet: Option<u16>,
        /// New code id for --migrate-subnet.
        #[arg(long)]
        code_id: Option<u64>,
        /// Migrate message: hex or @file.
        #[arg(long, default_value = "")]
        msg: String,
        /// Dissolve this subnet.
        #[arg(long)]
        dissolve_subnet: Option<u16>,
    },
    /// Vote yes, no or abstain.
    Vote {
        /// Voter (coldkey with stake).
        #[arg(long)]
        from: String,
        /// Proposal id.
        id: u64,
        /// yes | no | abstain.
        choice: String,
    },
    /// Every proposal.
    List,
    /// One proposal.
    Show {
        /// Id.
        id: u64,
    },
}

fn get<T: borsh::BorshDeserialize>(ctx: &Ctx, path: &str) -> anyhow::Result<Option<T>> {
    let bytes = ctx.client().query_raw(path, 0)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        borsh::from_slice(&bytes).with_context(|| format!("decoding {path}"))?,
    ))
}

fn bytes_arg(text: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(file) = text.strip_prefix('@') {
        return std::fs::read(file).with_context(|| format!("reading {file}"));
    }
    hex::decode(text).context("expected hex bytes or @file")
}

fn send(ctx: &Ctx, from: &str, msg: Msg, what: String) -> anyhow::Result<()> {
    let key = signing_key(ctx, from)?;
    let bar = spinner(ctx.output, "broadcasting and waiting for the block");
    let r = ctx.client().send(&key, vec![msg], None);
    bar.finish_and_clear();
    let c = r?;
    emit(ctx.output, &c, || {
        format!("{what} (block {}, tx {})", c.height, c.hash)
    })
}

fn tao(rao: u64) -> String {
    format_tao(rao)
}

fn fraction(v: u16) -> String {
    format!("{:.4}", v as f64 / 65535.0)
}

fn name_value(s: &str) -> anyhow::Result<(String, u64)> {
    let (n, v) = s
        .split_once('=')
        .with_context(|| format!("`{s}` is not name=value"))?;
    Ok((
        n.to_string(),
        v.parse()
            .with_context(|| format!("`{v}` is not a number"))?,
    ))
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
        } => {
            let hotkey = resolve_address(ctx, &hotkey)?;
            let mut hp = get::<EconomyParams>(ctx, "/economy")?
                .unwrap_or_default()
                .default_hyperparams;
            for s in &set {
                let (n, v) = name_value(s)?;
                hp.set(&n, v).map_err(anyhow::Error::msg)?;
            }
            let msg = Msg::RegisterSubnet {
                hotkey,
                code_id,
                init_msg: bytes_arg(&init_msg)?,
                hyperparams: (!set.is_empty()).then_some(hp),
            };
            send(
                ctx,
                &from,
                msg,
                format!("created a subnet owned by hotkey {hotkey}"),
            )
        }
        SubnetCmd::List => {
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
        SubnetCmd::Show { netuid } => {
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
        SubnetCmd::Hyperparams { netuid } => {
            let s: taochain_primitives::subnet::SubnetInfo =
                get(ctx, &format!("/subnet/{netuid}"))?
                    .with_context(|| format!("no subnet {netuid}"))?;
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
        SubnetCmd::LockCost => {
            let c: u64 = get(ctx, "/lock_cost")?.unwrap_or(0);
            emit(
                ctx.output,
                &json!({"lock_cost_rao": c.to_string(), "lock_cost": tao(c)}),
                || format!("lock cost of the next subnet: {}", tao(c)),
            )
        }
    }
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
        } => {
            let (f, t) = (
                resolve_address(ctx, &from_hotkey)?,
                resolve_address(ctx, &to_hotkey)?,
            );
            let amount = parse_amount(&amount)?;
            send(
                ctx,
                &from,
                Msg::MoveStake {
                    from: f,
                    to: t,
                    amount,
                },
                format!("moved {} from {f} to {t}", tao(amount)),
            )
        }
        StakeCmd::Show { hotkey } => {
            let hotkey = resolve_address(ctx, &hotkey)?;
            let info: Option<HotkeyInfo> = get(ctx, &format!("/hotkey/{hotkey}"))?;
            let noms: Vec<(Address, u64)> =
                get(ctx, &format!("/nominators/{hotkey}"))?.unwrap_or_default();
            let info = info.with_context(|| format!("hotkey {hotkey} is not associated"))?;
            let js = json!({
                "hotkey": hotkey.to_string(),
                "owner": info.owner.to_string(),
                "take_bps": info.take_bps,
                "total_stake_rao": info.total_stake.to_string(),
                "nominators": noms.iter().map(|(c, s)| json!({"coldkey": c.to_string(), "stake_rao": s.to_string()})).collect::<Vec<_>>(),
            });
            emit(ctx.output, &js, || {
                let rows: Vec<Vec<String>> = noms
                    .iter()
                    .map(|(c, s)| vec![c.to_string(), tao(*s)])
                    .collect();
                format!(
                    "hotkey {hotkey}\nowner  {}\ntake   {}%\nstake  {}\n\n{}",
                    info.owner,
                    info.take_bps as f64 / 100.0,
                    tao(info.total_stake),
                    table(&["NOMINATOR", "STAKE"], &rows)
                )
            })
        }
        StakeCmd::SetTake { from, hotkey, take } => {
            let hotkey = resolve_address(ctx, &hotkey)?;
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
                &from,
                Msg::SetTake { hotkey, take_bps },
                format!("set the take of {hotkey} to {pct}%"),
            )
        }
    }
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

fn metagraph_json(r: &MetagraphRow) -> Value {
    json!({
        "uid": r.uid,
        "hotkey": r.hotkey.to_string(),
        "coldkey": r.coldkey.to_string(),
        "stake_rao": r.stake.to_string(),
        "permit": r.permit,
        "active": r.active,
        "consensus": r.consensus,
        "incentive": r.incentive,
        "dividends": r.dividends,
        "trust": r.trust,
        "emission_rao": r.emission.to_string(),
        "last_update": r.last_update,
        "registered_at": r.registered_at,
    })
}

/// Runs `tao metagraph NETUID`.
pub fn run_metagraph(ctx: &Ctx, netuid: u16) -> anyhow::Result<()> {
    let rows: Vec<MetagraphRow> = get(ctx, &format!("/metagraph/{netuid}"))?.unwrap_or_default();
    let js: Vec<Value> = rows.iter().map(metagraph_json).collect();
    emit(ctx.output, &js, || {
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.uid.to_string(),
                    tao(r.stake),
                    fraction(r.consensus),
                    fraction(r.incentive),
                    fraction(r.dividends),
                    fraction(r.trust),
                    tao(r.emission),
                    if r.permit { "*" } else { "" }.into(),
                    if r.active { "*" } else { "" }.into(),
                    r.hotkey.to_string(),
                ]
            })
            .collect();
        format!(
            "metagraph of subnet {netuid}: {} UIDs\n{}",
            rows.len(),
            table(
                &[
                    "UID",
                    "STAKE",
                    "CONSENSUS",
                    "INCENTIVE",
                    "DIVIDENDS",
                    "TRUST",
                    "EMISSION",
                    "VPERMIT",
                    "ACTIVE",
                    "HOTKEY"
                ],
                &cells
            )
        )
    })
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

fn proposal_json(p: &Proposal) -> Value {
    json!({
        "id": p.id,
        "proposer": p.proposer.to_string(),
        "action": action_text(&p.action),
        "deposit_rao": p.deposit.to_string(),
        "submitted_at": p.submitted_at,
        "voting_end": p.voting_end,
        "yes_rao": p.yes.to_string(),
        "no_rao": p.no.to_string(),
        "abstain_rao": p.abstain.to_string(),
        "status": status_text(&p.status),
    })
}

fn action_text(a: &ProposalAction) -> String {
    match a {
        ProposalAction::SetParam { name, value } => format!("set {name} = {value}"),
        ProposalAction::MigrateSubnet {
            netuid, code_id, ..
        } => {
            format!("migrate subnet {netuid} to code {code_id}")
        }
        ProposalAction::DissolveSubnet { netuid } => format!("dissolve subnet {netuid}"),
    }
}

fn status_text(s: &ProposalStatus) -> String {
    match s {
        ProposalStatus::Open => "open".into(),
        ProposalStatus::Executed => "executed".into(),
        ProposalStatus::Failed(why) => format!("failed: {why}"),
        ProposalStatus::Rejected => "rejected".into(),
        ProposalStatus::NoQuorum => "no quorum".into(),
    }
}

/// Runs `tao gov`.
pub fn run_gov(ctx: &Ctx, cmd: GovCmd) -> anyhow::Result<()> {
    match cmd {
        GovCmd::Propose {
            from,
            deposit,
            set_param,
            migrate_subnet,
            code_id,
            msg,
            dissolve_subnet,
        } => {
            let action = match (set_param, migrate_subnet, dissolve_subnet) {
                (Some(s), None, None) => {
                    let (name, value) = name_value(&s)?;
                    ProposalAction::SetParam { name, value }
                }
                (None, Some(netuid), None) => ProposalAction::MigrateSubnet {
                    netuid,
                    code_id: code_id.context("--migrate-subnet needs --code-id")?,
                    msg: bytes_arg(&msg)?,
                },
                (None, None, Some(netuid)) => ProposalAction::DissolveSubnet { netuid },
                _ => bail!("give exactly one of --set-param, --migrate-subnet, --dissolve-subnet"),
            };
            let what = format!("proposed: {}", action_text(&action));
            send(
                ctx,
                &from,
                Msg::Propose {
                    action,
                    deposit: parse_amount(&deposit)?,
                },
                what,
            )
        }
        GovCmd::Vote { from, id, choice } => {
            let c = match choice.to_lowercase().as_str() {
                "yes" => VoteChoice::Yes,
                "no" => VoteChoice::No,
                "abstain" => VoteChoice::Abstain,
                other => bail!("`{other}` is not yes, no or abstain"),
            };
            send(
                ctx,
                &from,
                Msg::Vote { id, choice: c },
                format!("voted {choice} on proposal {id}"),
            )
        }
        GovCmd::List => {
            let ps: Vec<Proposal> = get(ctx, "/proposals")?.unwrap_or_default();
            let js: Vec<Value> = ps.iter().map(proposal_json).collect();
            emit(ctx.output, &js, || {
                let rows: Vec<Vec<String>> = ps
                    .iter()
                    .map(|p| {
                        vec![
                            p.id.to_string(),
                            status_text(&p.status),
                            p.voting_end.to_string(),
                            action_text(&p.action),
                        ]
                    })
                    .collect();
                table(&["ID", "STATUS", "VOTING ENDS", "ACTION"], &rows)
            })
        }
        GovCmd::Show { id } => {
            let p: Proposal = get(ctx, &format!("/proposal/{id}"))?
                .with_context(|| format!("no proposal {id}"))?;
            let js = proposal_json(&p);
            emit(ctx.output, &js, || {
                serde_json::to_string_pretty(&js).unwrap_or_default()
            })
        }
    }
}
