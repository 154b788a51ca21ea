//! Executing one transaction inside a block: the checks, then the fee (paid, recycled) and
//! the nonce bump, then the messages in their own delta so a failed message rolls back
//! its writes while the fee and nonce stay.

use taochain_primitives::{Address, Msg, Params, RejectCode, SignedTx};
use taochain_storage::{Blobs, StateDelta, StateWrite};

use crate::bank::{account, set_account, transfer};
use crate::checks::{Rejection, check_nonce_and_fee, check_stateless};
use crate::contracts::{self, Outcome};
use crate::economy::{
    self, axons, channels, finish, governance, neurons, staking, subnets, weights,
};
use crate::emission::recycle;
use crate::{AppError, Event};

/// What happened to one transaction in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// `Ok` when every message succeeded.
    pub result: Result<(), Rejection>,
    /// Gas charged.
    pub gas_used: u64,
    /// Events, including `fee` when a fee was charged.
    pub events: Vec<Event>,
    /// Result data of the last message (code id, contract address, contract output).
    pub data: Vec<u8>,
}

impl Delivered {
    fn rejected(rejection: Rejection) -> Self {
        Delivered {
            result: Err(rejection),
            gas_used: 0,
            events: vec![],
            data: vec![],
        }
    }
}

/// Block-wide context for delivery.
pub struct Context<'a> {
    /// This chain's id.
    pub chain_id: &'a str,
    /// Current parameters.
    pub params: &'a Params,
    /// What contract messages need (VM, block env).
    pub contracts: &'a contracts::Env<'a>,
}

/// Executes a decoded, signature-checked transaction against `state`.
pub fn deliver(
    state: &mut (impl StateWrite + ?Sized),
    tx: &SignedTx,
    encoded_len: usize,
    ctx: &Context<'_>,
    blobs: &mut Blobs,
) -> Result<Delivered, AppError> {
    let gas_used = match check_stateless(tx, encoded_len, ctx.chain_id, ctx.params) {
        Ok(gas) => gas,
        Err(r) => return Ok(Delivered::rejected(r)),
    };
    let sender = tx.sender();
    let mut acct = account(state, &sender)?;
    if let Err(r) = check_nonce_and_fee(&acct, tx) {
        return Ok(Delivered::rejected(r));
    }
    // Fee and nonce: committed whatever the messages do.
    acct.balance -= tx.body.fee; // checked above: balance >= fee
    acct.nonce = acct.nonce.saturating_add(1);
    set_account(state, &sender, &acct);
    recycle(state, tx.body.fee)?;
    let mut events = vec![Event::new(
        "fee",
        &[
            ("payer", sender.to_string()),
            ("amount", tx.body.fee.to_string()),
        ],
    )];
    let mut run = Run {
        sender,
        ctx,
        gas_used,
        gas_limit: tx.body.gas_limit,
        events: vec![],
        data: vec![],
        blobs: Blobs::new(),
    };
    let result = run.messages(state, &tx.body.msgs)?;
    let data = if result.is_ok() {
        events.append(&mut run.events);
        blobs.append(&mut run.blobs);
        run.data
    } else {
        vec![]
    };
    Ok(Delivered {
        result,
        gas_used: run.gas_used,
        events,
        data,
    })
}

/// One transaction's messages in progress: gas, events, data, new blobs.
struct Run<'a> {
    sender: Address,
    ctx: &'a Context<'a>,
    gas_used: u64,
    gas_limit: u64,
    events: Vec<Event>,
    data: Vec<u8>,
    blobs: Blobs,
}

impl Run<'_> {
    /// Runs the messages all-or-nothing in a child delta.
    fn messages(
        &mut self,
        state: &mut (impl StateWrite + ?Sized),
        msgs: &[Msg],
    ) -> Result<Result<(), Rejection>, AppError> {
        let changes = {
            let mut child = StateDelta::new(&*state);
            for (i, msg) in msgs.iter().enumerate() {
                if let Err(r) = self.message(&mut child, msg)? {
                    return Ok(Err(Rejection::new(
                        r.code,
                        format!("message {i}: {}", r.log),
                    )));
                }
            }
            child.into_changes()
        };
        crate::typed::apply(state, changes);
        Ok(Ok(()))
    }

    fn message(
        &mut self,
        state: &mut (impl StateWrite + ?Sized),
        msg: &Msg,
    ) -> Result<Result<(), Rejection>, AppError> {
        let sender = self.sender;
        let env = self.ctx.contracts;
        let left = self.gas_limit.saturating_sub(self.gas_used);
        let outcome: Outcome = match msg {
            Msg::Transfer { to, amount } => {
                if let Err(r) = transfer(state, &sender, to, *amount)? {
                    return Ok(Err(r.into()));
                }
                self.events.push(Event::new(
                    "transfer",
                    &[
                        ("sender", sender.to_string()),
                        ("recipient", to.to_string()),
                        ("amount", amount.to_string()),
                    ],
                ));
                return Ok(Ok(()));
            }
            Msg::StoreCode { wasm } => {
                contracts::store_code(state, env, &mut self.blobs, sender, wasm, left)?
            }
            Msg::StoreBlob { bytes } => {
                contracts::store_blob(state, env, &mut self.blobs, sender, bytes, left)?
            }
            Msg::Instantiate {
                code_id,
                msg,
                funds,
                admin,
                label,
            } => contracts::instantiate(
                state, env, sender, *code_id, msg, *funds, *admin, label, left,
            )?,
            Msg::Execute {
                contract,
                msg,
                funds,
            } => contracts::execute(state, env, sender, *contract, msg, *funds, left)?,
            Msg::Migrate {
                contract,
                new_code_id,
                msg,
            } => contracts::migrate(state, env, sender, *contract, *new_code_id, msg, left)?,
            economic => economy_message(state, env, sender, economic, left)?,
        };
        match outcome {
            Ok(done) => {
                self.gas_used = self.gas_used.saturating_add(done.gas_used);
                self.events.extend(done.events);
                self.data = done.data;
                Ok(Ok(()))
            }
            Err((r, gas)) => {
                self.gas_used = self.gas_used.saturating_add(gas);
                if self.gas_used > self.gas_limit {
                    return Ok(Err(Rejection::new(RejectCode::OutOfGas, r.log)));
                }
                Ok(Err(r))
            }
        }
    }
}

/// Routes the economy's messages (subnets, neurons, stake, weights, governance).
fn economy_message(
    state: &mut (impl StateWrite + ?Sized),
    env: &contracts::Env<'_>,
    sender: Address,
    msg: &Msg,
    gas_left: u64,
) -> Result<Outcome, AppError> {
    let h = env.height;
    let s = &sender;
    finish(match msg {
        Msg::AssociateHotkey { hotkey } => staking::associate(state, s, hotkey, h),
        Msg::RegisterSubnet {
            hotkey,
            code_id,
            init_msg,
            hyperparams,
        } => subnets::register(
            state,
            env,
            s,
            hotkey,
            *code_id,
            init_msg,
            hyperparams.as_ref(),
            gas_left,
        ),
        Msg::SetHyperparam {
            netuid,
            name,
            value,
        } => subnets::set_hyperparam(state, s, *netuid, name, *value),
        Msg::DissolveSubnet { netuid } => subnets::dissolve_by_owner(state, s, *netuid, gas_left),
        Msg::BurnedRegister { netuid, hotkey } => {
            neurons::burned_register(state, s, *netuid, hotkey, h, gas_left)
        }
        Msg::RootRegister { hotkey } => neurons::root_register(state, s, hotkey, h, gas_left),
        Msg::AddStake { hotkey, amount } => staking::add_stake(state, s, hotkey, *amount, h),
        Msg::RemoveStake { hotkey, amount } => staking::remove_stake(state, s, hotkey, *amount, h),
        Msg::MoveStake { from, to, amount } => staking::move_stake(state, s, from, to, *amount, h),
        Msg::ClaimRewards { hotkey } => staking::claim(state, s, hotkey),
        Msg::SetTake { hotkey, take_bps } => staking::set_take(state, s, hotkey, *take_bps, h),
        Msg::SetWeights {
            netuid,
            uids,
            values,
            ..
        } => weights::set_weights(state, s, *netuid, uids, values, h),
        Msg::CommitWeights { netuid, hash } => weights::commit(state, s, *netuid, *hash, h),
        Msg::RevealWeights {
            netuid,
            uids,
            values,
            salt,
            version_key,
        } => weights::reveal(
            state,
            s,
            *netuid,
            uids,
            values,
            salt,
            *version_key,
            h,
            gas_left,
        ),
        Msg::Propose { action, deposit } => governance::propose(state, s, action, *deposit, h),
        Msg::Vote { id, choice } => governance::vote(state, s, *id, *choice, h),
        Msg::ServeAxon {
            netuid,
            endpoint,
            protocol,
        } => axons::serve_axon(state, s, *netuid, endpoint, *protocol, h),
        Msg::OpenChannel {
            gateway,
            netuid,
            deposit,
            blocks,
            user_key,
        } => channels::open(state, s, user_key, gateway, *netuid, *deposit, *blocks, h),
        Msg::RedeemVoucher {
            channel,
            cumulative,
            signature,
        } => channels::redeem(
            state,
            s,
            env.chain_id,
            *channel,
            *cumulative,
            signature,
            gas_left,
        ),
        Msg::CloseChannel { channel } => channels::close(state, s, *channel, h),
        Msg::Transfer { .. }
        | Msg::StoreBlob { .. }
        | Msg::StoreCode { .. }
        | Msg::Instantiate { .. }
        | Msg::Execute { .. }
        | Msg::Migrate { .. } => {
            economy::reject(RejectCode::UnknownMessage, "not an economy message")
        }
    })
}
