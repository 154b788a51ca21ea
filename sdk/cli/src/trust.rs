//! The trust anchor of `--prove` commands: which flag, variable or default it comes from,
//! and how a proved answer reports what it was verified against.
//!
//! In order: `--trust-height H --trust-hash HEX`, `--trust-genesis PATH`, the variable
//! `TAO_TRUST_GENESIS`, then the genesis of the localnet `tao localnet` made in this tao
//! home. With none of them, `--prove` refuses: it never trusts the node it checks.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use taochain_client::client::VerifiedValue;
use taochain_client::trust::parse_duration;
use taochain_client::{Trust, TrustAnchor};

use crate::Ctx;

/// The variable naming a genesis file to trust.
pub const TRUST_GENESIS_ENV: &str = "TAO_TRUST_GENESIS";

/// Where a proof's header verification starts (used with `--prove`).
#[derive(Args, Debug, Clone)]
pub struct TrustArgs {
    /// Trust the validators of this local genesis file (CometBFT `genesis.json`).
    /// Default: $TAO_TRUST_GENESIS, else the localnet's genesis in the tao home.
    #[arg(long, value_name = "PATH", conflicts_with = "trust_height")]
    pub trust_genesis: Option<PathBuf>,
    /// Trust the header at this height, whose hash is --trust-hash.
    #[arg(long, value_name = "H", requires = "trust_hash")]
    pub trust_height: Option<u64>,
    /// The hash of the header at --trust-height (hex), got from a source you trust.
    #[arg(long, value_name = "HEX", requires = "trust_height")]
    pub trust_hash: Option<String>,
    /// How old the trusted header may be (`14d`, `36h`, `600s`).
    #[arg(long, value_name = "DURATION", default_value = "14d")]
    pub trusting_period: String,
}

/// The localnet's genesis under a tao home.
fn localnet_genesis(home: &Path) -> PathBuf {
    taochain_localnet::node_home(&home.join("localnet"), 0)
        .join("config")
        .join("genesis.json")
}

fn genesis(path: &Path, why: &str) -> anyhow::Result<TrustAnchor> {
    TrustAnchor::genesis_file(path).with_context(|| format!("trust anchor from {why}"))
}

impl TrustArgs {
    /// The anchor and options these arguments (or the defaults) give.
    pub fn resolve(&self, ctx: &Ctx) -> anyhow::Result<Trust> {
        let period = parse_duration(&self.trusting_period).map_err(anyhow::Error::msg)?;
        let anchor = if let (Some(h), Some(hash)) = (self.trust_height, &self.trust_hash) {
            TrustAnchor::header(h, hash)?
        } else if let Some(path) = &self.trust_genesis {
            genesis(path, "--trust-genesis")?
        } else if let Some(path) = std::env::var_os(TRUST_GENESIS_ENV) {
            genesis(Path::new(&path), TRUST_GENESIS_ENV)?
        } else if localnet_genesis(&ctx.home).is_file() {
            genesis(&localnet_genesis(&ctx.home), "the localnet's genesis")?
        } else {
            anyhow::bail!(
                "--prove needs a trust anchor and will not trust the node it checks: pass --trust-genesis PATH (the chain's genesis.json) or --trust-height H --trust-hash HEX (a header hash from a source you trust), or set {TRUST_GENESIS_ENV}=PATH"
            );
        };
        Ok(Trust::new(anchor).with_trusting_period(period))
    }
}

/// The `proof` object of a proved answer's JSON.
pub fn proof_json<T>(v: &VerifiedValue<T>) -> serde_json::Value {
    serde_json::json!({
        "verified": true,
        "exists": v.value.is_some(),
        "height": v.height,
        "app_hash": v.app_hash,
        "header": v.header,
        "anchor": v.anchor,
    })
}

/// The proof lines of a proved answer's text.
pub fn proof_text<T>(v: &VerifiedValue<T>) -> String {
    format!(
        "proof:   VERIFIED ({} at height {} against app hash {})\nheader:  {} (hash {}, verified by the light client, {} header(s) checked)\nanchor:  {}",
        if v.value.is_some() {
            "membership"
        } else {
            "absence"
        },
        v.height,
        v.app_hash,
        v.header.height,
        v.header.hash,
        v.header.headers_checked,
        v.anchor
    )
}
