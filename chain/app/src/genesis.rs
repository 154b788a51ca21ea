//! The genesis `app_state` (JSON inside CometBFT's genesis.json) and its loading into state.
//!
//! ```json
//! { "accounts": [{ "address": "tao1...", "balance": "1000000000000" }],
//!   "total_issuance": "1000000000000",
//!   "params": { "max_tx_bytes": 1200000, "max_msgs": 64, "min_fee": 1000,
//!               "min_gas_price": 100, "max_tx_gas": 1200000000, "max_block_gas": 3000000000 } }
//! ```
//! Amounts are decimal strings of rao (JSON numbers lose precision above 2^53).
//! `total_issuance` must equal the sum of the balances and stay within the cap.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use taochain_primitives::subnet::EconomyParams;
use taochain_primitives::{Account, Address, Params, Supply, TOTAL_SUPPLY_CAP};
use taochain_storage::schema::{CHAIN_ID_KEY, ECONOMY_PARAMS_KEY, PARAMS_KEY, Raw, SUPPLY_KEY};
use taochain_storage::{Changes, StateDelta};

use crate::AppError;
use crate::bank::set_account;
use crate::typed::put;

/// One funded account at genesis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenesisAccount {
    /// bech32 address.
    pub address: String,
    /// Balance in rao, as a decimal string.
    pub balance: String,
}

/// The application's part of the genesis document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Funded accounts.
    pub accounts: Vec<GenesisAccount>,
    /// Total issuance at genesis, rao as a decimal string; must equal the sum of balances.
    pub total_issuance: String,
    /// Chain parameters.
    #[serde(default)]
    pub params: Params,
    /// Economy parameters (subnet limit, lock cost, default hyperparameters, root,
    /// governance).
    #[serde(default)]
    pub economy: EconomyParams,
}

fn parse_rao(what: &str, s: &str) -> Result<u64, AppError> {
    s.parse::<u64>()
        .map_err(|_| AppError::Genesis(format!("{what}: `{s}` is not a rao amount")))
}

impl Genesis {
    /// Parses the `app_state` bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, AppError> {
        serde_json::from_slice(bytes).map_err(|e| AppError::Genesis(e.to_string()))
    }

    /// Validates and turns the genesis into the initial state changes.
    pub fn into_changes(self, chain_id: &str) -> Result<Changes, AppError> {
        if chain_id.is_empty() || chain_id.len() > taochain_primitives::tx::MAX_CHAIN_ID_LEN {
            return Err(AppError::Genesis(format!(
                "chain id `{chain_id}` has a bad length"
            )));
        }
        self.params
            .validate()
            .map_err(|e| AppError::Genesis(format!("params: {e}")))?;
        self.economy
            .validate()
            .map_err(|e| AppError::Genesis(format!("economy: {e}")))?;
        let mut balances = BTreeMap::<Address, u64>::new();
        let mut sum: u64 = 0;
        for acct in &self.accounts {
            let address: Address = acct
                .address
                .parse()
                .map_err(|e| AppError::Genesis(format!("account {}: {e}", acct.address)))?;
            let balance = parse_rao(&acct.address, &acct.balance)?;
            if balances.insert(address, balance).is_some() {
                return Err(AppError::Genesis(format!(
                    "duplicate account {}",
                    acct.address
                )));
            }
            sum = sum
                .checked_add(balance)
                .ok_or_else(|| AppError::Genesis("balances overflow u64".into()))?;
        }
        let issuance = parse_rao("total_issuance", &self.total_issuance)?;
        if issuance != sum {
            return Err(AppError::Genesis(format!(
                "total_issuance {issuance} != sum of balances {sum}"
            )));
        }
        if issuance > TOTAL_SUPPLY_CAP {
            return Err(AppError::Genesis(
                "total_issuance above the 21M TAO cap".into(),
            ));
        }
        let empty = Changes::new();
        let mut state = StateDelta::new(&empty);
        for (address, balance) in &balances {
            set_account(
                &mut state,
                address,
                &Account {
                    balance: *balance,
                    nonce: 0,
                },
            );
        }
        let supply = Supply {
            total_issuance: issuance,
            genesis_issuance: issuance,
            ..Supply::default()
        };
        put(&mut state, &SUPPLY_KEY, &supply);
        put(&mut state, &PARAMS_KEY, &self.params);
        if let Err(why) = self.economy.default_hyperparams.validate() {
            return Err(AppError::Genesis(format!("default hyperparameters: {why}")));
        }
        if self.economy.subnet_limit == 0 || self.economy.root_tempo == 0 {
            return Err(AppError::Genesis(
                "subnet_limit and root_tempo must be positive".into(),
            ));
        }
        put(&mut state, &ECONOMY_PARAMS_KEY, &self.economy);
        put(
            &mut state,
            &CHAIN_ID_KEY,
            &Raw(chain_id.as_bytes().to_vec()),
        );
        Ok(state.into_changes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(i: u8) -> String {
        Address([i; 20]).to_string()
    }

    fn genesis(accounts: &[(String, &str)], issuance: &str) -> Genesis {
        Genesis {
            accounts: accounts
                .iter()
                .map(|(a, b)| GenesisAccount {
                    address: a.clone(),
                    balance: b.to_string(),
                })
                .collect(),
            total_issuance: issuance.into(),
            params: Params::default(),
            economy: EconomyParams::default(),
        }
    }

    #[test]
    fn valid_genesis_loads() {
        let g = genesis(&[(addr(1), "5"), (addr(2), "7")], "12");
        let changes = g.into_changes("test").expect("valid");
        assert_eq!(changes.len(), 6);
    }

    #[test]
    fn invalid_genesis_is_refused_with_a_reason() {
        let cases = [
            genesis(&[(addr(1), "5")], "6"),
            genesis(&[(addr(1), "5"), (addr(1), "5")], "10"),
            genesis(&[("cosmos1xyz".into(), "5")], "5"),
            genesis(&[(addr(1), "-5")], "5"),
            genesis(&[(addr(1), "18446744073709551615"), (addr(2), "1")], "0"),
            genesis(&[(addr(1), "21000000000000001")], "21000000000000001"),
        ];
        for g in cases {
            assert!(
                matches!(g.clone().into_changes("t"), Err(AppError::Genesis(_))),
                "{g:?}"
            );
        }
        assert!(Genesis::from_json(br#"{"accounts": [], "total_issuance": "0", "x": 1}"#).is_err());
    }
}
