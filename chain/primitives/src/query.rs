//! Query paths: the error codes the node's `Query` answers with, and the one mapping from a
//! provable query path to the state key it reads ([`state_key_for_path`]). The node serves
//! a path by reading that key; a light client recomputes it from the path it asked for, so
//! a proof for any other key is refused.
//!
//! Provable paths (the raw borsh of one key): `/account/{addr}`, `/supply`, `/params`,
//! `/emission` (the emission pool account), `/chain_id`, `/code/{id}`, `/contract/{addr}`,
//! `/contract/{addr}/state/{hex key}`, `/blob/{hash}`, and the economy's `/subnet/{netuid}`,
//! `/subnet/{netuid}/pot`, `/neuron/{netuid}/{uid}`, `/axon/{netuid}/{uid}`, `/channel/{id}`, `/uid/{netuid}/{hotkey}`,
//! `/hotkey/{addr}`, `/stake/{hotkey}/{coldkey}`, `/coldstake/{coldkey}`, `/pool/{hotkey}`,
//! `/share/{hotkey}/{coldkey}`, `/hlock/{hotkey}`, `/clock/{coldkey}`, `/proposal/{id}`,
//! `/vote/{id}/{addr}`, `/economy`, `/shares`, `/total_stake`, `/emission_carry`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::Address;
use crate::emission::emission_pool;
use crate::schema::{
    CHAIN_ID_KEY, CHANNEL_SEQ_KEY, ECONOMY_PARAMS_KEY, EMISSION_CARRY_KEY, PARAMS_KEY,
    SUBNET_SHARES_KEY, SUPPLY_KEY, TOTAL_STAKE_KEY, account_key, axon_key, blob_key, channel_key,
    code_key, cold_lock_key, cold_stake_key, contract_key, contract_store_key, hotkey_key,
    hotkey_lock_key, neuron_key, pool_key, pot_key, proposal_key, share_key, stake_key, subnet_key,
    uid_key, vote_key,
};

/// Query error codes (distinct from transaction codes).
pub mod codes {
    /// The path is not one this chain serves.
    pub const UNKNOWN_PATH: u32 = 101;
    /// A path argument (e.g. an address) does not parse.
    pub const BAD_ARGUMENT: u32 = 102;
    /// The height is in the future or pruned.
    pub const HEIGHT_UNAVAILABLE: u32 = 103;
    /// Storage failed while serving the query.
    pub const INTERNAL: u32 = 104;
    /// The contract's query failed (error, trap, out of gas, no such contract).
    pub const CONTRACT_FAILED: u32 = 105;
}

/// A path that maps to no state key: the query code and what was wrong.
pub type PathError = (u32, String);

/// Maps a provable query path to the state key it reads.
pub fn state_key_for_path(path: &str) -> Result<Vec<u8>, PathError> {
    let path = path.trim_end_matches('/');
    if let Some(rest) = path.strip_prefix("/contract/") {
        return contract_path(path, rest);
    }
    if let Some(id) = path.strip_prefix("/code/") {
        let id: u64 = id.parse().map_err(|_| {
            (
                codes::BAD_ARGUMENT,
                format!("code id `{id}` is not a number"),
            )
        })?;
        return Ok(code_key(id).into_bytes());
    }
    if let Some(key) = economy_key_for_path(path) {
        return key;
    }
    if let Some(hash) = path.strip_prefix("/blob/") {
        return Ok(blob_key(&parse_hash(hash)?).into_bytes());
    }
    if let Some(a) = path.strip_prefix("/account/") {
        return Ok(account_key(addr(a)?.as_bytes()).into_bytes());
    }
    match path {
        "/supply" => Ok(SUPPLY_KEY.into_bytes()),
        "/params" => Ok(PARAMS_KEY.into_bytes()),
        "/chain_id" => Ok(CHAIN_ID_KEY.into_bytes()),
        "/emission" => Ok(account_key(emission_pool().as_bytes()).into_bytes()),
        _ => Err((
            codes::UNKNOWN_PATH,
            format!(
                "unknown query path `{path}`; known: /account/{{addr}}, /supply, /params, /emission, /chain_id, /code/{{id}}, /contract/{{addr}}, /subnets, /subnet/{{netuid}}, /metagraph/{{netuid}}, /neuron/{{netuid}}/{{uid}}, /axon/{{netuid}}/{{uid}}, /channel/{{id}}, /hotkey/{{addr}}, /stake/{{hotkey}}/{{coldkey}}, /nominators/{{hotkey}}, /rewards/{{hotkey}}/{{coldkey}}, /pool/{{hotkey}}, /lock_cost, /proposals, /proposal/{{id}}, /economy"
            ),
        )),
    }
}

/// `/contract/{addr}` and `/contract/{addr}/state/{hex key}` (`rest` follows `/contract/`).
fn contract_path(path: &str, rest: &str) -> Result<Vec<u8>, PathError> {
    let (a, sub) = rest.split_once('/').unwrap_or((rest, ""));
    let contract = addr(a)?;
    match sub.split_once('/') {
        None if sub.is_empty() => Ok(contract_key(contract.as_bytes()).into_bytes()),
        Some(("state", hex_key)) => {
            let key = decode_hex(hex_key).ok_or_else(|| {
                (
                    codes::BAD_ARGUMENT,
                    format!("state key `{hex_key}` is not hex"),
                )
            })?;
            Ok(contract_store_key(contract.as_bytes(), &key).into_bytes())
        }
        _ => Err((
            codes::UNKNOWN_PATH,
            format!("unknown contract path `{path}`"),
        )),
    }
}

/// The state key of an economy state path, `None` if `path` is not one.
pub fn economy_key_for_path(path: &str) -> Option<Result<Vec<u8>, PathError>> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    economy_key(&parts).transpose()
}

fn economy_key(parts: &[&str]) -> Result<Option<Vec<u8>>, PathError> {
    Ok(Some(match parts {
        ["subnet", n] => subnet_key(num("netuid", n)?).into_bytes(),
        ["subnet", n, "pot"] => pot_key(num("netuid", n)?).into_bytes(),
        ["neuron", n, u] => neuron_key(num("netuid", n)?, num("uid", u)?).into_bytes(),
        ["axon", n, u] => axon_key(num("netuid", n)?, num("uid", u)?).into_bytes(),
        ["channel", id] => channel_key(num("channel id", id)?).into_bytes(),
        ["channel_seq"] => CHANNEL_SEQ_KEY.into_bytes(),
        ["uid", n, h] => uid_key(num("netuid", n)?, addr(h)?.as_bytes()).into_bytes(),
        ["hotkey", h] => hotkey_key(addr(h)?.as_bytes()).into_bytes(),
        ["stake", h, c] => stake_key(addr(h)?.as_bytes(), addr(c)?.as_bytes()).into_bytes(),
        ["coldstake", c] => cold_stake_key(addr(c)?.as_bytes()).into_bytes(),
        ["pool", h] => pool_key(addr(h)?.as_bytes()).into_bytes(),
        ["share", h, c] => share_key(addr(h)?.as_bytes(), addr(c)?.as_bytes()).into_bytes(),
        ["hlock", h] => hotkey_lock_key(addr(h)?.as_bytes()).into_bytes(),
        ["clock", c] => cold_lock_key(addr(c)?.as_bytes()).into_bytes(),
        ["proposal", id] => proposal_key(num("proposal id", id)?).into_bytes(),
        ["vote", id, a] => vote_key(num("proposal id", id)?, addr(a)?.as_bytes()).into_bytes(),
        ["economy"] => ECONOMY_PARAMS_KEY.into_bytes(),
        ["shares"] => SUBNET_SHARES_KEY.into_bytes(),
        ["total_stake"] => TOTAL_STAKE_KEY.into_bytes(),
        ["emission_carry"] => EMISSION_CARRY_KEY.into_bytes(),
        _ => return Ok(None),
    }))
}

/// A number argument of a path.
pub fn num<T: core::str::FromStr>(what: &str, s: &str) -> Result<T, PathError> {
    s.parse()
        .map_err(|_| (codes::BAD_ARGUMENT, format!("{what} `{s}` is not a number")))
}

/// An address argument of a path.
pub fn addr(s: &str) -> Result<Address, PathError> {
    s.parse()
        .map_err(|e| (codes::BAD_ARGUMENT, format!("bad address `{s}`: {e}")))
}

/// A 32-byte hex hash argument of a path.
pub fn parse_hash(hex_hash: &str) -> Result<[u8; 32], PathError> {
    decode_hex(hex_hash)
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| {
            (
                codes::BAD_ARGUMENT,
                format!("`{hex_hash}` is not a 32-byte hex hash"),
            )
        })
}

/// Hex (either case, even length) to bytes; `None` if it is not hex.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(seed: u8) -> Address {
        Address([seed; 20])
    }

    #[test]
    fn every_provable_path_maps_to_its_schema_key() {
        let (x, y) = (a(1), a(2));
        let cases: Vec<(String, Vec<u8>)> = vec![
            (
                format!("/account/{x}"),
                account_key(x.as_bytes()).into_bytes(),
            ),
            (
                format!("/account/{x}/"),
                account_key(x.as_bytes()).into_bytes(),
            ),
            ("/supply".into(), SUPPLY_KEY.into_bytes()),
            ("/params".into(), PARAMS_KEY.into_bytes()),
            ("/chain_id".into(), CHAIN_ID_KEY.into_bytes()),
            (
                "/emission".into(),
                account_key(Address::module("emission_pool").as_bytes()).into_bytes(),
            ),
            ("/code/7".into(), code_key(7).into_bytes()),
            (
                format!("/contract/{x}"),
                contract_key(x.as_bytes()).into_bytes(),
            ),
            (
                format!("/contract/{x}/state/636F756e74"),
                contract_store_key(x.as_bytes(), b"count").into_bytes(),
            ),
            (
                format!("/blob/{}", "ab".repeat(32)),
                blob_key(&[0xab; 32]).into_bytes(),
            ),
            ("/subnet/3".into(), subnet_key(3).into_bytes()),
            ("/subnet/3/pot".into(), pot_key(3).into_bytes()),
            ("/neuron/3/9".into(), neuron_key(3, 9).into_bytes()),
            ("/axon/3/9".into(), axon_key(3, 9).into_bytes()),
            ("/channel/5".into(), channel_key(5).into_bytes()),
            (format!("/uid/3/{x}"), uid_key(3, x.as_bytes()).into_bytes()),
            (
                format!("/hotkey/{x}"),
                hotkey_key(x.as_bytes()).into_bytes(),
            ),
            (
                format!("/stake/{x}/{y}"),
                stake_key(x.as_bytes(), y.as_bytes()).into_bytes(),
            ),
            (
                format!("/coldstake/{y}"),
                cold_stake_key(y.as_bytes()).into_bytes(),
            ),
            (format!("/pool/{x}"), pool_key(x.as_bytes()).into_bytes()),
            (
                format!("/share/{x}/{y}"),
                share_key(x.as_bytes(), y.as_bytes()).into_bytes(),
            ),
            (
                format!("/hlock/{x}"),
                hotkey_lock_key(x.as_bytes()).into_bytes(),
            ),
            (
                format!("/clock/{y}"),
                cold_lock_key(y.as_bytes()).into_bytes(),
            ),
            ("/proposal/4".into(), proposal_key(4).into_bytes()),
            (
                format!("/vote/4/{y}"),
                vote_key(4, y.as_bytes()).into_bytes(),
            ),
            ("/economy".into(), ECONOMY_PARAMS_KEY.into_bytes()),
            ("/shares".into(), SUBNET_SHARES_KEY.into_bytes()),
            ("/total_stake".into(), TOTAL_STAKE_KEY.into_bytes()),
            ("/emission_carry".into(), EMISSION_CARRY_KEY.into_bytes()),
        ];
        for (path, key) in cases {
            assert_eq!(state_key_for_path(&path), Ok(key), "{path}");
        }
    }

    #[test]
    fn bad_paths_get_the_nodes_codes_and_messages() {
        let x = a(1);
        let err = |p: &str| state_key_for_path(p).err().map(|e| e.0);
        assert_eq!(err("/account/nope"), Some(codes::BAD_ARGUMENT));
        assert_eq!(err("/code/x"), Some(codes::BAD_ARGUMENT));
        assert_eq!(err("/subnet/70000"), Some(codes::BAD_ARGUMENT));
        assert_eq!(err("/blob/abc"), Some(codes::BAD_ARGUMENT));
        assert_eq!(
            err(&format!("/contract/{x}/state/abc")),
            Some(codes::BAD_ARGUMENT)
        );
        assert_eq!(
            err(&format!("/contract/{x}/state/zz")),
            Some(codes::BAD_ARGUMENT)
        );
        assert_eq!(
            err(&format!("/contract/{x}/smart")),
            Some(codes::UNKNOWN_PATH)
        );
        // The trailing `/` is trimmed first, so an empty contract key is `.../state`.
        assert_eq!(
            err(&format!("/contract/{x}/state/")),
            Some(codes::UNKNOWN_PATH)
        );
        assert_eq!(err("/subnets"), Some(codes::UNKNOWN_PATH));
        assert_eq!(err("/nope"), Some(codes::UNKNOWN_PATH));
        assert_eq!(
            state_key_for_path("/code/x"),
            Err((codes::BAD_ARGUMENT, "code id `x` is not a number".into()))
        );
        assert_eq!(
            state_key_for_path(&format!("/contract/{x}/state/zz")),
            Err((codes::BAD_ARGUMENT, "state key `zz` is not hex".into()))
        );
        assert_eq!(
            state_key_for_path(&format!("/contract/{x}/x")),
            Err((
                codes::UNKNOWN_PATH,
                format!("unknown contract path `/contract/{x}/x`")
            ))
        );
    }

    #[test]
    fn hex_decoding_matches_the_hex_crate() {
        for s in ["", "00", "ff", "FF", "aB09", "abc", "0g", "+1", " 1", "é1"] {
            assert_eq!(decode_hex(s), hex::decode(s).ok(), "{s:?}");
        }
    }
}
