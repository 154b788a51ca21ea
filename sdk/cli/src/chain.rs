//! `tao tx ...`, `tao query ...`, `tao status`, `tao emission`.

use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
pub use signer::signing_key;
use taochain_primitives::{Account, Address, format_tao, parse_amount};

use crate::Ctx;
use crate::output::{emit, spinner};
use crate::trust::{TrustArgs, proof_json, proof_text};

/// Transactions.
#[derive(Subcommand)]
pub enum TxCmd {
    /// Send TAO.
    Transfer {
        /// Sending key name.
        #[arg(long)]
        from: String,
        /// Recipient address (or a key name from the keystore).
        #[arg(long)]
        to: String,
        /// Amount: `1.5TAO` or `1500000000rao`.
        #[arg(long)]
        amount: String,
        /// Fee (default: the chain's minimum).
        #[arg(long)]
        fee: Option<String>,
    },
}

/// Queries.
#[derive(Subcommand)]
pub enum QueryCmd {
    /// An account's balance and nonce.
    Account {
        /// Address or key name.
        address: String,
        /// Ask for an ICS23 proof of the account's key and verify it against the app
        /// hash of the next header, which the light client verifies from a trust anchor.
        #[arg(long)]
        prove: bool,
        #[command(flatten)]
        trust: TrustArgs,
    },
    /// Total issuance, minted and recycled TAO.
    Supply,
    /// Chain parameters.
    Params,
    /// The emission pool and the current block reward.
    Emission,
    /// The node's audit of its ledger at a height (nodes started with `taod start
    /// --audit`): app hash, sum of balances against the issuance, emission pool against
    /// pots and carry. Exits 1 when an invariant does not hold.
    Audit {
        /// Height (default: the latest the node audited).
        #[arg(long, default_value_t = 0)]
        height: u64,
    },
}

/// An address, or the address of a key in the keystore.
pub fn resolve_address(ctx: &Ctx, text: &str) -> anyhow::Result<Address> {
    if let Ok(a) = text.parse::<Address>() {
        return Ok(a);
    }
    let info = ctx
        .keystore()?
        .show(text)
        .with_context(|| format!("`{text}` is neither a tao1... address nor a key name"))?;
    Ok(info.address.parse()?)
}

mod signer {
    //! Loading a signing key, asking for the password only when the key is encrypted.
    use crate::Ctx;

    pub fn signing_key(ctx: &Ctx, name: &str) -> anyhow::Result<ed25519_dalek::SigningKey> {
        let ks = ctx.keystore()?;
        let pw = if ks.is_encrypted(name)? {
            Some(crate::keys::password(
                &format!("password for `{name}`: "),
                false,
            )?)
        } else {
            None
        };
        Ok(ks.signing_key(name, pw.as_deref())?)
    }
}

/// Runs a tx subcommand.
pub fn run_tx(ctx: &Ctx, cmd: TxCmd) -> anyhow::Result<()> {
    match cmd {
        TxCmd::Transfer {
            from,
            to,
            amount,
            fee,
        } => {
            let key = signing_key(ctx, &from)?;
            let to = resolve_address(ctx, &to)?;
            let amount = parse_amount(&amount)?;
            let fee = fee.as_deref().map(parse_amount).transpose()?;
            let spinner = spinner(ctx.output, "broadcasting and waiting for the block");
            let committed = ctx.client().transfer(&key, to, amount, fee);
            spinner.finish_and_clear();
            let committed = committed?;
            emit(ctx.output, &committed, || {
                format!(
                    "sent {} to {to} in block {} (tx {}, gas {})",
                    format_tao(amount),
                    committed.height,
                    committed.hash,
                    committed.gas_used
                )
            })
        }
    }
}

fn account_json(address: &Address, a: &Account) -> serde_json::Value {
    serde_json::json!({
        "address": address.to_string(),
        "balance_rao": a.balance.to_string(),
        "balance": format_tao(a.balance),
        "nonce": a.nonce,
    })
}

/// Runs a query subcommand.
pub fn run_query(ctx: &Ctx, cmd: QueryCmd) -> anyhow::Result<()> {
    match cmd {
        QueryCmd::Account {
            address,
            prove: false,
            ..
        } => query_account(ctx, &address),
        QueryCmd::Account {
            address,
            prove: true,
            trust,
        } => query_account_proved(ctx, &address, &trust),
        QueryCmd::Supply => query_supply(ctx),
        QueryCmd::Params => query_params(ctx),
        QueryCmd::Emission => query_emission(ctx),
        QueryCmd::Audit { height } => query_audit(ctx, height),
    }
}

/// JSON of a node's audit, with the invariants that do not hold.
pub fn audit_json(a: &taochain_primitives::Audit) -> serde_json::Value {
    serde_json::json!({
        "height": a.height,
        "app_hash": hex::encode_upper(a.app_hash),
        "accounts": a.accounts,
        "balances_rao": a.balances.to_string(),
        "total_issuance_rao": a.supply.total_issuance.to_string(),
        "emission_pool_rao": a.emission_pool.to_string(),
        "pots_rao": a.pots.to_string(),
        "carry_rao": a.carry.to_string(),
        "violations": a.violations(),
    })
}

/// `tao query audit`.
fn query_audit(ctx: &Ctx, height: u64) -> anyhow::Result<()> {
    let a = ctx.client().audit(height)?;
    let violations = a.violations();
    emit(ctx.output, &audit_json(&a), || {
        format!(
            "height:         {}\napp hash:       {}\naccounts:       {}\nbalances:       {} rao\ntotal issuance: {} rao\nemission pool:  {} rao = pots {} + carry {}\n{}",
            a.height,
            hex::encode_upper(a.app_hash),
            a.accounts,
            a.balances,
            a.supply.total_issuance,
            a.emission_pool,
            a.pots,
            a.carry,
            if violations.is_empty() {
                "the ledger adds up".to_string()
            } else {
                format!("VIOLATED: {}", violations.join("; "))
            }
        )
    })?;
    anyhow::ensure!(
        violations.is_empty(),
        "the ledger does not add up at height {}",
        a.height
    );
    Ok(())
}

/// `tao query account`: balance and nonce as the node reports them.
fn query_account(ctx: &Ctx, address: &str) -> anyhow::Result<()> {
    let client = ctx.client();
    let address = resolve_address(ctx, address)?;
    let a = client.account(&address)?;
    emit(ctx.output, &account_json(&address, &a), || {
        format!(
            "address: {address}\nbalance: {} ({} rao)\nnonce:   {}",
            format_tao(a.balance),
            a.balance,
            a.nonce
        )
    })
}

/// `tao query account --prove`: the account, verified against a light-client header.
fn query_account_proved(ctx: &Ctx, address: &str, trust: &TrustArgs) -> anyhow::Result<()> {
    let client = ctx.client();
    let trust = trust.resolve(ctx)?;
    let address = resolve_address(ctx, address)?;
    let spinner = spinner(ctx.output, "waiting for the next header to check the proof");
    let v = client.query_verified::<Account>(
        &format!("/account/{address}"),
        &trust,
        Duration::from_secs(30),
    );
    spinner.finish_and_clear();
    let v = v?;
    let a = v.value.unwrap_or_default();
    let mut json = account_json(&address, &a);
    json["proof"] = proof_json(&v);
    emit(ctx.output, &json, || {
        format!(
            "address: {address}\nbalance: {} ({} rao)\nnonce:   {}\n{}",
            format_tao(a.balance),
            a.balance,
            a.nonce,
            proof_text(&v)
        )
    })
}

/// `tao query supply`.
fn query_supply(ctx: &Ctx) -> anyhow::Result<()> {
    let s = ctx.client().supply()?;
    let json = serde_json::json!({
        "total_issuance_rao": s.total_issuance.to_string(),
        "genesis_issuance_rao": s.genesis_issuance.to_string(),
        "total_minted_rao": s.total_minted.to_string(),
        "total_recycled_rao": s.total_recycled.to_string(),
        "cap_rao": taochain_primitives::TOTAL_SUPPLY_CAP.to_string(),
    });
    emit(ctx.output, &json, || {
        format!(
            "total issuance: {}\ngenesis:        {}\nminted:         {}\nrecycled:       {}\ncap:            {}",
            format_tao(s.total_issuance),
            format_tao(s.genesis_issuance),
            format_tao(s.total_minted),
            format_tao(s.total_recycled),
            format_tao(taochain_primitives::TOTAL_SUPPLY_CAP)
        )
    })
}

/// `tao query params`.
fn query_params(ctx: &Ctx) -> anyhow::Result<()> {
    let p = ctx.client().params()?;
    emit(ctx.output, &p, || {
        format!(
            "max_tx_bytes:  {}\nmax_msgs:      {}\nmin_fee:       {} rao\nmin_gas_price: {} milli-rao per gas\nmax_tx_gas:    {}\nmax_block_gas: {}",
            p.max_tx_bytes, p.max_msgs, p.min_fee, p.min_gas_price, p.max_tx_gas, p.max_block_gas
        )
    })
}

/// `tao query emission`: the emission pool and the current block reward.
fn query_emission(ctx: &Ctx) -> anyhow::Result<()> {
    let client = ctx.client();
    let pool = client.emission_pool()?;
    let supply = client.supply()?;
    let reward = taochain_primitives::block_reward(supply.total_issuance);
    let json = serde_json::json!({
        "pool_balance_rao": pool.balance.to_string(),
        "block_reward_rao": reward.to_string(),
        "total_issuance_rao": supply.total_issuance.to_string(),
    });
    emit(ctx.output, &json, || {
        format!(
            "emission pool: {}\nblock reward:  {} ({reward} rao)\nissuance:      {}",
            format_tao(pool.balance),
            format_tao(reward),
            format_tao(supply.total_issuance)
        )
    })
}

/// `tao status`.
pub fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let s = ctx.client().status()?;
    emit(ctx.output, &s, || {
        format!(
            "chain:    {}\nheight:   {}\napp hash: {}\nnode:     {} ({})\nsyncing:  {}",
            s.chain_id, s.height, s.app_hash, s.moniker, s.node_id, s.catching_up
        )
    })
}

/// `tao emission --issuance RAO`: one number on stdout (or JSON).
pub fn emission(ctx: &Ctx, issuance: u64) -> anyhow::Result<()> {
    let reward = taochain_primitives::block_reward(issuance);
    emit(
        ctx.output,
        &serde_json::json!({"issuance_rao": issuance.to_string(), "block_reward_rao": reward}),
        || reward.to_string(),
    )
}
