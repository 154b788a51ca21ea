//! JSON views of chain records shared by every tool that prints them (`tao ... --output
//! json`, the explorer's API), so a number means the same everywhere: rao amounts as
//! decimal strings, u16 fractions as integers (65535 = 1).

use serde_json::{Value, json};
use taochain_primitives::subnet::MetagraphRow;

/// One metagraph row.
pub fn metagraph_json(r: &MetagraphRow) -> Value {
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
