//! `taod start --audit`: after every commit the node sums its ledger (every balance, the
//! supply record, the emission pool, the pots and the carry) into a
//! [`taochain_primitives::Audit`] of that height, keeps the last [`AUDIT_HEIGHTS`] and
//! serves them at `/audit` (height 0: the latest). It reads committed state only and
//! changes nothing, so it cannot affect consensus; it costs O(accounts) per block, which is
//! why it is for soaks and test networks and off unless asked for.

use std::collections::BTreeMap;
use std::sync::Mutex;

use taochain_primitives::query::codes;
use taochain_primitives::schema::{ACCOUNTS, EMISSION_CARRY_KEY, POTS, SUPPLY_KEY, account_key};
use taochain_primitives::{Account, Audit};
use taochain_storage::Storage;

use crate::typed::{for_each, get_or_default};
use crate::{AppError, QueryOutcome};

/// Audited heights a node keeps (the oldest go first).
pub const AUDIT_HEIGHTS: usize = 10_000;

/// The audit of `height`, which must be the latest committed height (the sums read the
/// latest state; commits are serialised, so nothing moves it while the audit runs).
pub fn audit(storage: &Storage, height: u64) -> Result<Option<Audit>, AppError> {
    if storage.latest_version() != Some(height) {
        return Ok(None);
    }
    let app_hash = storage
        .root_hash(height)?
        .ok_or_else(|| AppError::Invariant(format!("no root for committed height {height}")))?;
    let state = storage.latest();
    let mut out = Audit {
        height,
        app_hash,
        supply: get_or_default(&state, &SUPPLY_KEY)?,
        emission_pool: get_or_default(
            &state,
            &account_key(&taochain_primitives::emission::emission_pool().0),
        )?
        .balance,
        carry: get_or_default(&state, &EMISSION_CARRY_KEY)?,
        ..Audit::default()
    };
    for_each(&state, &ACCOUNTS, |a: Account| {
        out.accounts += 1;
        out.balances += u128::from(a.balance);
    })?;
    for_each(&state, &POTS, |p: u64| out.pots += u128::from(p))?;
    Ok(Some(out))
}

/// The audits a node has made, newest last, at most [`AUDIT_HEIGHTS`].
#[derive(Debug, Default)]
pub struct Audits {
    kept: Mutex<BTreeMap<u64, Audit>>,
}

impl Audits {
    /// Audits `height`, just committed, and keeps the result.
    pub fn record(&self, storage: &Storage, height: u64) -> Result<(), AppError> {
        let Some(a) = audit(storage, height)? else {
            return Ok(());
        };
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.insert(a.height, a);
        while kept.len() > AUDIT_HEIGHTS {
            kept.pop_first();
        }
        Ok(())
    }

    /// The `/audit` answer for `height` (0: the latest audited).
    pub fn query(&self, height: u64) -> QueryOutcome {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let found = if height == 0 {
            kept.last_key_value().map(|(_, a)| a)
        } else {
            kept.get(&height)
        };
        match found {
            Some(a) => QueryOutcome {
                value: borsh::to_vec(a).unwrap_or_default(),
                height: a.height,
                ..QueryOutcome::default()
            },
            None => QueryOutcome {
                code: codes::HEIGHT_UNAVAILABLE,
                log: match (kept.first_key_value(), kept.last_key_value()) {
                    (Some((lo, _)), Some((hi, _))) => {
                        format!("no audit of height {height} (this node has {lo}..={hi})")
                    }
                    _ => "this node has audited no height yet".into(),
                },
                ..QueryOutcome::default()
            },
        }
    }
}

/// The `/audit` answer to a query asking for a proof: an audit is the node's own sums of
/// the state, not a state entry, so nothing proves it.
pub fn not_provable() -> QueryOutcome {
    QueryOutcome {
        code: codes::BAD_ARGUMENT,
        log: "an audit is the node's own sums, not state: it has no proof (query without --prove)"
            .into(),
        ..QueryOutcome::default()
    }
}

/// The `/audit` answer of a node started without `--audit`.
pub fn not_auditing() -> QueryOutcome {
    QueryOutcome {
        code: codes::UNKNOWN_PATH,
        log: "this node does not audit its ledger (start taod with --audit)".into(),
        ..QueryOutcome::default()
    }
}

#[cfg(test)]
mod tests {
    use taochain_primitives::Supply;
    use taochain_primitives::emission::emission_pool;
    use taochain_primitives::schema::pot_key;
    use taochain_storage::{Changes, StorageOptions};

    use super::*;

    fn put<V: borsh::BorshSerialize>(c: &mut Changes, key: Vec<u8>, v: &V) {
        c.insert(key, Some(borsh::to_vec(v).expect("borsh")));
    }

    /// A store with three accounts (one the emission pool), two pots and a carry.
    fn ledger(extra_rao: u64) -> Storage {
        let storage = Storage::in_memory(StorageOptions::default());
        let mut c = Changes::new();
        let account = |balance| Account { balance, nonce: 0 };
        put(&mut c, account_key(&[1; 20]).into_bytes(), &account(600));
        put(
            &mut c,
            account_key(&[2; 20]).into_bytes(),
            &account(300 + extra_rao),
        );
        put(
            &mut c,
            account_key(&emission_pool().0).into_bytes(),
            &account(100),
        );
        put(&mut c, pot_key(1).into_bytes(), &60u64);
        put(&mut c, pot_key(7).into_bytes(), &30u64);
        put(&mut c, EMISSION_CARRY_KEY.as_bytes().to_vec(), &10u64);
        let supply = Supply {
            total_issuance: 1_000,
            genesis_issuance: 1_000,
            total_minted: 0,
            total_recycled: 0,
        };
        put(&mut c, SUPPLY_KEY.as_bytes().to_vec(), &supply);
        let prepared = storage.prepare(1, c, Default::default()).expect("prepare");
        storage.commit(prepared).expect("commit");
        storage
    }

    #[test]
    fn the_audit_sums_every_account_and_pot_of_the_committed_state() {
        let storage = ledger(0);
        let a = audit(&storage, 1).expect("audit").expect("a height");
        assert_eq!(a.height, 1);
        assert_eq!(Some(a.app_hash), storage.root_hash(1).expect("root"));
        assert_eq!((a.accounts, a.balances), (3, 1_000));
        assert_eq!((a.emission_pool, a.pots, a.carry), (100, 90, 10));
        assert_eq!(
            audit(&storage, 2).expect("audit"),
            None,
            "not the latest height"
        );
        assert!(a.violations().is_empty(), "{:?}", a.violations());
    }

    #[test]
    fn rao_outside_the_issuance_is_a_violation() {
        let a = audit(&ledger(5), 1).expect("audit").expect("a height");
        assert_eq!(a.balances, 1_005);
        assert_eq!(a.violations().len(), 1, "{:?}", a.violations());
    }

    #[test]
    fn audits_are_kept_per_height_and_bounded() {
        let storage = ledger(0);
        let audits = Audits::default();
        assert_eq!(audits.query(0).code, codes::HEIGHT_UNAVAILABLE);
        audits.record(&storage, 1).expect("record");
        let q = audits.query(1);
        assert_eq!((q.code, q.height), (0, 1));
        let a: Audit = borsh::from_slice(&q.value).expect("an audit");
        assert_eq!(a.balances, 1_000);
        assert_eq!(audits.query(0).height, 1);
        let missing = audits.query(2);
        assert_eq!(missing.code, codes::HEIGHT_UNAVAILABLE);
        assert!(missing.log.contains("1..=1"), "{}", missing.log);
        {
            let mut kept = audits.kept.lock().expect("lock");
            for h in 2..=AUDIT_HEIGHTS as u64 + 5 {
                kept.insert(h, Audit::default());
            }
        }
        audits.record(&storage, 1).expect("record");
        let kept = audits.kept.lock().expect("lock");
        assert_eq!(kept.len(), AUDIT_HEIGHTS);
        assert!(
            !kept.contains_key(&5) && kept.contains_key(&6),
            "the oldest go first"
        );
    }
}
