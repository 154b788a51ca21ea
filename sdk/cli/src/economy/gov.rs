//! `tao gov ...`: proposals, votes and their listing.

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use taochain_primitives::subnet::{Proposal, ProposalAction, ProposalStatus, VoteChoice};
use taochain_primitives::{Msg, parse_amount};

use super::{bytes_arg, get, name_value, send};
use crate::Ctx;
use crate::output::{emit, table};

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
            let action =
                proposal_action(set_param, migrate_subnet, code_id, &msg, dissolve_subnet)?;
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
        GovCmd::List => list(ctx),
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

/// The one action `tao gov propose` was given.
fn proposal_action(
    set_param: Option<String>,
    migrate_subnet: Option<u16>,
    code_id: Option<u64>,
    msg: &str,
    dissolve_subnet: Option<u16>,
) -> anyhow::Result<ProposalAction> {
    Ok(match (set_param, migrate_subnet, dissolve_subnet) {
        (Some(s), None, None) => {
            let (name, value) = name_value(&s)?;
            ProposalAction::SetParam { name, value }
        }
        (None, Some(netuid), None) => ProposalAction::MigrateSubnet {
            netuid,
            code_id: code_id.context("--migrate-subnet needs --code-id")?,
            msg: bytes_arg(msg)?,
        },
        (None, None, Some(netuid)) => ProposalAction::DissolveSubnet { netuid },
        _ => bail!("give exactly one of --set-param, --migrate-subnet, --dissolve-subnet"),
    })
}

/// `tao gov list`: every proposal, as a table.
fn list(ctx: &Ctx) -> anyhow::Result<()> {
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
