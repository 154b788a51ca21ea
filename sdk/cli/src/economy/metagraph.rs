//! `tao metagraph N`: a subnet's (or root's) metagraph as a table.

use serde_json::Value;
use taochain_client::views::metagraph_json;
use taochain_primitives::subnet::MetagraphRow;

use super::{fraction, get, tao};
use crate::Ctx;
use crate::output::{emit, table};

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
