//! `tao metagraph N`: a subnet's (or root's) metagraph as a table.

use serde_json::{Value, json};
use taochain_primitives::subnet::MetagraphRow;

use super::{fraction, get, tao};
use crate::Ctx;
use crate::output::{emit, table};

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
        "axon": r.axon.as_ref().map(|a| json!({
            "endpoint": a.endpoint,
            "protocol": a.protocol,
            "block": a.block,
        })),
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
                    r.axon
                        .as_ref()
                        .map_or(String::new(), |a| a.endpoint.clone()),
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
                    "HOTKEY",
                    "AXON"
                ],
                &cells
            )
        )
    })
}
