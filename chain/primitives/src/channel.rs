//! Payment channels: a user pays a subnet's gateway per request without a transaction per
//! request. `OpenChannel` escrows a deposit for a gateway hotkey on a subnet until an
//! expiry; the user signs [`Voucher`]s with a growing cumulative amount off chain; the
//! gateway redeems the latest with `RedeemVoucher`, which pays the increment since the last
//! redemption: the subnet's gateway share to the gateway, the rest into the subnet's pot
//! (paid out by the next epoch's 18/41/41). After the expiry the user's `CloseChannel`
//! returns what was not redeemed: a gateway redeems before the expiry. The gateway share is
//! fixed at open; if the subnet was dissolved (or its netuid reused) since, a redemption
//! still pays the gateway for its work and the rest joins the emission carry.

use borsh::{BorshDeserialize, BorshSerialize};
use sha2::{Digest, Sha256};

use crate::Address;

/// Domain of a voucher signature.
pub const VOUCHER_DOMAIN: &[u8] = b"taochain/voucher/v1";

/// Shortest and longest channel life, blocks.
pub const CHANNEL_BLOCKS: (u64, u64) = (10, 1_000_000);

/// Default gateway share of a redemption, basis points (a subnet owner sets it with the
/// `gateway_share_bps` hyperparameter, at most [`MAX_GATEWAY_SHARE_BPS`]).
pub const DEFAULT_GATEWAY_SHARE_BPS: u64 = 1_000;

/// The highest gateway share, basis points.
pub const MAX_GATEWAY_SHARE_BPS: u64 = 5_000;

/// A channel, stored at `channel/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Channel {
    /// Who pays (the voucher signer).
    pub user: Address,
    /// The user's ed25519 public key (vouchers are checked against it).
    pub user_key: [u8; 32],
    /// The gateway hotkey that may redeem.
    pub gateway: Address,
    /// The subnet whose pot is paid.
    pub netuid: u16,
    /// That subnet's contract when the channel opened: the subnet's identity. A later
    /// subnet on the same netuid (even one registered in the same block) has another
    /// contract, and its pot is not paid.
    pub subnet_contract: Address,
    /// The gateway's share of each redemption, basis points, fixed when the channel opened.
    pub gateway_share_bps: u64,
    /// rao escrowed.
    pub deposit: u64,
    /// rao redeemed so far (the highest cumulative voucher amount redeemed).
    pub redeemed: u64,
    /// First block at which the user may close.
    pub expires_at: u64,
    /// Closed: the rest went back to the user; nothing more can be redeemed.
    pub closed: bool,
}

/// What a user signs: the channel and the cumulative amount it owes, bound to the chain
/// and subnet.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Voucher {
    /// Channel id.
    pub channel: u64,
    /// Total rao owed on the channel so far.
    pub cumulative: u64,
}

impl Voucher {
    /// The 32 bytes signed: sha256 of the domain, the chain id, the netuid and the voucher.
    pub fn digest(&self, chain_id: &str, netuid: u16) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((VOUCHER_DOMAIN.len() as u64).to_be_bytes());
        h.update(VOUCHER_DOMAIN);
        h.update((chain_id.len() as u64).to_be_bytes());
        h.update(chain_id.as_bytes());
        h.update(netuid.to_be_bytes());
        h.update(self.channel.to_be_bytes());
        h.update(self.cumulative.to_be_bytes());
        h.finalize().into()
    }
}

/// The gateway's part of a redeemed `increment` at `share_bps` (floor); the pot gets the
/// rest.
pub fn gateway_part(increment: u64, share_bps: u64) -> u64 {
    let share = share_bps.min(MAX_GATEWAY_SHARE_BPS) as u128;
    (increment as u128 * share / 10_000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voucher_digest_binds_chain_subnet_channel_and_amount() {
        let v = Voucher {
            channel: 1,
            cumulative: 10,
        };
        let d = v.digest("c", 1);
        assert_ne!(d, v.digest("d", 1));
        assert_ne!(d, v.digest("c", 2));
        assert_ne!(
            d,
            Voucher {
                channel: 2,
                ..v.clone()
            }
            .digest("c", 1)
        );
        assert_ne!(
            d,
            Voucher {
                cumulative: 11,
                ..v
            }
            .digest("c", 1)
        );
    }

    #[test]
    fn the_gateway_part_is_a_floor_within_the_cap() {
        assert_eq!(gateway_part(1_000, 1_000), 100);
        assert_eq!(gateway_part(999, 1_000), 99);
        assert_eq!(gateway_part(u64::MAX, 5_000), u64::MAX / 2);
        assert_eq!(gateway_part(1_000, 9_999), 500, "capped at 50%");
    }
}
