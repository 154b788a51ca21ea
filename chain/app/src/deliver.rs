//! Executing one transaction inside a block: the checks, then the fee (paid, recycled) and
//! the nonce bump, then the messages in their own delta so a failed message rolls back
//! its writes while the fee and nonce stay.

use taochain_primitives::{Address, Msg, Params, SignedTx};
use taochain_storage::{StateDelta, StateWrite};

use crate::bank::{account, set_account, transfer};
use crate::checks::{Rejection, check_nonce_and_fee, check_stateless};
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
}

impl Delivered {
    fn rejected(rejection: Rejection) -> Self {
        Delivered {
            result: Err(rejection),
            gas_used: 0,
            events: vec![],
        }
    }
}

/// Block-wide context for delivery.
pub struct Context<'a> {
    /// This chain's id.
    pub chain_id: &'a str,
    /// Current parameters.
    pub params: &'a Params,
}

/// Executes a decoded, signature-checked transaction against `state`.
pub fn deliver(
    state: &mut (impl StateWrite + ?Sized),
    tx: &SignedTx,
    encoded_len: usize,
    ctx: &Context<'_>,
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
    let result = run_messages(state, &sender, &tx.body.msgs, &mut events)?;
    Ok(Delivered {
        result,
        gas_used,
        events,
    })
}

/// Runs the messages all-or-nothing in a child delta.
fn run_messages(
    state: &mut (impl StateWrite + ?Sized),
    sender: &Address,
    msgs: &[Msg],
    events: &mut Vec<Event>,
) -> Result<Result<(), Rejection>, AppError> {
    let mut msg_events = vec![];
    let changes = {
        let mut child = StateDelta::new(&*state);
        for (i, msg) in msgs.iter().enumerate() {
            match msg {
                Msg::Transfer { to, amount } => {
                    if let Err((code, log)) = transfer(&mut child, sender, to, *amount)? {
                        return Ok(Err(Rejection::new(code, format!("message {i}: {log}"))));
                    }
                    msg_events.push(Event::new(
                        "transfer",
                        &[
                            ("sender", sender.to_string()),
                            ("recipient", to.to_string()),
                            ("amount", amount.to_string()),
                        ],
                    ));
                }
            }
        }
        child.into_changes()
    };
    for (key, value) in changes {
        match value {
            Some(v) => state.put(key, v),
            None => state.delete(key),
        }
    }
    events.extend(msg_events);
    Ok(Ok(()))
}
