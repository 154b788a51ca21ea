//! Payment channels (`taochain_primitives::channel`), a native module so that redeemed
//! money can reach a subnet's pot: `OpenChannel` moves the deposit into the `channels`
//! module account; `RedeemVoucher` (by the gateway, signature checked against the user's
//! key, paid as gas before it runs) pays the increment over the last redemption: the
//! gateway share fixed at open to the gateway hotkey's account, the rest to the emission
//! pool account as a claim of the subnet's pot (or of the emission carry, when that subnet
//! is gone); `CloseChannel` (by the user, from the expiry)
//! returns the rest. Every refusal leaves all balances as they were.

use taochain_primitives::channel::{
    CHANNEL_BLOCKS, Channel, DEFAULT_GATEWAY_SHARE_BPS, MAX_GATEWAY_SHARE_BPS, Voucher,
    gateway_part,
};
use taochain_primitives::emission::emission_pool;
use taochain_primitives::tx::verify_strict;
use taochain_primitives::{Address, RejectCode};
use taochain_storage::schema::{
    CHANNEL_SEQ_KEY, EMISSION_CARRY_KEY, channel_key, gateway_share_key,
};
use taochain_storage::{StateRead, StateWrite};

use super::store::{self, uid_of};
use super::subnets::existing;
use super::{Fail, done, reject, reject_after};
use crate::AppError;
use crate::bank::transfer;
use crate::contracts::Done;
use crate::events::Event;
use crate::typed::{get, get_or_default, put};

/// Gas of a voucher's signature check (an ed25519 verification, as the VM's host call).
pub const VOUCHER_VERIFY_GAS: u64 = 45_000;

/// Module account holding channel deposits.
pub fn channels_account() -> Address {
    Address::module("channels")
}

/// A channel.
pub fn channel(state: &(impl StateRead + ?Sized), id: u64) -> Result<Option<Channel>, AppError> {
    get(state, &channel_key(id))
}

/// The subnet's gateway share, basis points.
pub fn gateway_share(state: &(impl StateRead + ?Sized), netuid: u16) -> Result<u64, AppError> {
    Ok(get(state, &gateway_share_key(netuid))?.unwrap_or(DEFAULT_GATEWAY_SHARE_BPS))
}

/// `SetHyperparam gateway_share_bps` (kept apart from `Hyperparams`, whose encoding is
/// fixed).
pub fn set_gateway_share(
    state: &mut (impl StateWrite + ?Sized),
    netuid: u16,
    value: u64,
) -> Result<(), Fail> {
    if value > MAX_GATEWAY_SHARE_BPS {
        return reject(
            RejectCode::InvalidParam,
            format!("gateway_share_bps = {value} is outside [0, {MAX_GATEWAY_SHARE_BPS}]"),
        );
    }
    put(state, &gateway_share_key(netuid), &value);
    Ok(())
}

fn moved(r: Result<(), (RejectCode, String)>) -> Result<(), Fail> {
    r.map_err(|(code, log)| Fail::Reject(crate::checks::Rejection::new(code, log), 0))
}

/// `OpenChannel`.
#[allow(clippy::too_many_arguments)]
pub fn open(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    user_key: &[u8; 32],
    gateway: &Address,
    netuid: u16,
    deposit: u64,
    blocks: u64,
    height: u64,
) -> Result<Done, Fail> {
    if Address::from_public_key(user_key) != *sender {
        return reject(
            RejectCode::InvalidParam,
            "user_key is not the sender's public key",
        );
    }
    let (lo, hi) = CHANNEL_BLOCKS;
    if !(lo..=hi).contains(&blocks) {
        return reject(
            RejectCode::InvalidParam,
            format!("a channel lasts {lo} to {hi} blocks, not {blocks}"),
        );
    }
    if deposit == 0 {
        return reject(RejectCode::ZeroAmount, "a channel needs a deposit");
    }
    let subnet = existing(state, netuid)?;
    if uid_of(state, netuid, gateway)?.is_none() {
        return reject(
            RejectCode::NotRegistered,
            format!("gateway {gateway} holds no UID on netuid {netuid}"),
        );
    }
    moved(transfer(state, sender, &channels_account(), deposit)?)?;
    let id = get_or_default(state, &CHANNEL_SEQ_KEY)?
        .checked_add(1)
        .ok_or_else(|| AppError::Invariant("channel id overflow".into()))?;
    put(state, &CHANNEL_SEQ_KEY, &id);
    let expires_at = height.saturating_add(blocks);
    put(
        state,
        &channel_key(id),
        &Channel {
            user: *sender,
            user_key: *user_key,
            gateway: *gateway,
            netuid,
            subnet_contract: subnet.contract,
            gateway_share_bps: gateway_share(state, netuid)?,
            deposit,
            redeemed: 0,
            expires_at,
            closed: false,
        },
    );
    let mut d = done(vec![Event::new(
        "channel_opened",
        &[
            ("channel", id.to_string()),
            ("user", sender.to_string()),
            ("gateway", gateway.to_string()),
            ("netuid", netuid.to_string()),
            ("deposit", deposit.to_string()),
            ("expires_at", expires_at.to_string()),
        ],
    )])?;
    d.data = borsh::to_vec(&id).unwrap_or_default();
    Ok(d)
}

fn open_channel(state: &(impl StateRead + ?Sized), id: u64) -> Result<Channel, Fail> {
    match channel(state, id)? {
        None => reject(RejectCode::ChannelNotFound, format!("no channel {id}")),
        Some(c) if c.closed => reject(RejectCode::ChannelClosed, format!("channel {id} is closed")),
        Some(c) => Ok(c),
    }
}

/// `RedeemVoucher`, sent by the gateway.
pub fn redeem(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    chain_id: &str,
    id: u64,
    cumulative: u64,
    signature: &[u8; 64],
    gas_left: u64,
) -> Result<Done, Fail> {
    let mut c = open_channel(state, id)?;
    if c.gateway != *sender {
        return reject(
            RejectCode::Unauthorized,
            format!("only channel {id}'s gateway {} may redeem", c.gateway),
        );
    }
    if cumulative > c.deposit {
        return reject(
            RejectCode::VoucherAboveDeposit,
            format!("voucher for {cumulative} rao; the deposit is {}", c.deposit),
        );
    }
    if cumulative <= c.redeemed {
        return reject(
            RejectCode::VoucherNotIncreasing,
            format!(
                "voucher for {cumulative} rao; {} already redeemed",
                c.redeemed
            ),
        );
    }
    if gas_left < VOUCHER_VERIFY_GAS {
        return reject_after(
            RejectCode::OutOfGas,
            format!("a voucher check needs {VOUCHER_VERIFY_GAS} gas; {gas_left} left"),
            gas_left,
        );
    }
    let digest = Voucher {
        channel: id,
        cumulative,
    }
    .digest(chain_id, c.netuid);
    if !verify_strict(&c.user_key, &digest, signature) {
        return reject_after(
            RejectCode::VoucherBadSignature,
            format!(
                "the voucher is not signed by channel {id}'s user for this chain, subnet, channel and amount"
            ),
            VOUCHER_VERIFY_GAS,
        );
    }
    let increment = cumulative - c.redeemed;
    let to_gateway = gateway_part(increment, c.gateway_share_bps);
    let rest = increment - to_gateway;
    // The channel's subnet, unless it was dissolved (or its netuid reused) since the open:
    // then the gateway is still paid for its work and the rest joins the emission carry. A
    // subnet is known by its contract, new at each registration (a registration block would
    // not tell apart two subnets registered on one netuid in one block).
    let same_subnet =
        store::subnet(state, c.netuid)?.is_some_and(|s| s.contract == c.subnet_contract);
    let invariant =
        |(_, log): (RejectCode, String)| AppError::Invariant(format!("channel {id}: {log}"));
    if to_gateway > 0 {
        transfer(state, &channels_account(), sender, to_gateway)?.map_err(invariant)?;
    }
    if rest > 0 {
        transfer(state, &channels_account(), &emission_pool(), rest)?.map_err(invariant)?;
        if same_subnet {
            let pot = store::pot(state, c.netuid)?
                .checked_add(rest)
                .ok_or_else(|| AppError::Invariant("pot overflow".into()))?;
            store::set_pot(state, c.netuid, pot);
        } else {
            let carry = get_or_default(state, &EMISSION_CARRY_KEY)?
                .checked_add(rest)
                .ok_or_else(|| AppError::Invariant("carry overflow".into()))?;
            put(state, &EMISSION_CARRY_KEY, &carry);
        }
    }
    let to_pot = if same_subnet { rest } else { 0 };
    c.redeemed = cumulative;
    put(state, &channel_key(id), &c);
    let mut d = done(vec![Event::new(
        "voucher_redeemed",
        &[
            ("channel", id.to_string()),
            ("netuid", c.netuid.to_string()),
            ("cumulative", cumulative.to_string()),
            ("to_gateway", to_gateway.to_string()),
            ("to_pot", to_pot.to_string()),
            ("to_carry", (rest - to_pot).to_string()),
        ],
    )])?;
    d.gas_used = VOUCHER_VERIFY_GAS;
    Ok(d)
}

/// `CloseChannel`, sent by the user from the expiry on.
pub fn close(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    id: u64,
    height: u64,
) -> Result<Done, Fail> {
    let mut c = open_channel(state, id)?;
    if c.user != *sender {
        return reject(
            RejectCode::Unauthorized,
            format!("only channel {id}'s user {} may close it", c.user),
        );
    }
    if height < c.expires_at {
        return reject(
            RejectCode::ChannelNotExpired,
            format!(
                "channel {id} expires at block {}; now {height}",
                c.expires_at
            ),
        );
    }
    let refund = c.deposit - c.redeemed;
    if refund > 0 {
        transfer(state, &channels_account(), sender, refund)?
            .map_err(|(_, log)| AppError::Invariant(format!("channel {id}: {log}")))?;
    }
    c.closed = true;
    put(state, &channel_key(id), &c);
    done(vec![Event::new(
        "channel_closed",
        &[("channel", id.to_string()), ("refund", refund.to_string())],
    )])
}
