//! The user's side of payment channels, kept in `{tao home}/wallet.json`: which channel
//! pays which gateway on which subnet, and the highest cumulative amount this home has
//! signed on each. The next voucher is computed from it, so a gateway can never make the
//! user sign for more than was asked of it, except for one request whose answer was lost
//! ([`next_base`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use taochain_primitives::Address;

/// The wallet file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Wallet {
    /// `chain/user/gateway/netuid` -> channel id (the latest opened).
    channels: BTreeMap<String, u64>,
    /// `chain/channel` -> highest cumulative rao signed.
    signed: BTreeMap<String, u64>,
    #[serde(skip)]
    path: PathBuf,
}

impl Wallet {
    /// Opens (or starts) the wallet of the tao home `home`.
    pub fn open(home: &Path) -> anyhow::Result<Wallet> {
        let path = home.join("wallet.json");
        let mut w: Wallet = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Wallet::default(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        w.path = path;
        Ok(w)
    }

    /// Writes it back (atomically).
    pub fn save(&self) -> anyhow::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &serde_json::to_vec_pretty(self)?)?;
        tmp.persist(&self.path)?;
        Ok(())
    }

    /// The channel last opened from `user` to `gateway` on `netuid`.
    pub fn channel(
        &self,
        chain: &str,
        user: &Address,
        gateway: &Address,
        netuid: u16,
    ) -> Option<u64> {
        self.channels
            .get(&format!("{chain}/{user}/{gateway}/{netuid}"))
            .copied()
    }

    /// Records a newly opened channel.
    pub fn set_channel(
        &mut self,
        chain: &str,
        user: &Address,
        gateway: &Address,
        netuid: u16,
        id: u64,
    ) {
        self.channels
            .insert(format!("{chain}/{user}/{gateway}/{netuid}"), id);
    }

    /// The highest amount signed on `channel`.
    pub fn signed(&self, chain: &str, channel: u64) -> u64 {
        self.signed
            .get(&format!("{chain}/{channel}"))
            .copied()
            .unwrap_or(0)
    }

    /// Records a signed amount (never lowers it).
    pub fn set_signed(&mut self, chain: &str, channel: u64, amount: u64) {
        let e = self.signed.entry(format!("{chain}/{channel}")).or_insert(0);
        *e = (*e).max(amount);
    }
}

/// What the next voucher on a channel adds the price to: the most this wallet signed or
/// the chain redeemed; the gateway's claim `charged` is believed only when it is at most
/// one price above that (one request answered whose answer never arrived). `Err` when the
/// gateway claims more.
pub fn next_base(signed: u64, redeemed: u64, charged: u64, price: u64) -> Result<u64, String> {
    let base = signed.max(redeemed);
    if charged <= base {
        return Ok(base);
    }
    if charged - base <= price {
        return Ok(charged);
    }
    Err(format!(
        "the gateway claims {charged} rao charged; this wallet signed {signed} rao and {redeemed} rao were redeemed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_is_believed_for_one_lost_answer_only() {
        assert_eq!(next_base(100, 0, 0, 10), Ok(100));
        assert_eq!(
            next_base(100, 120, 0, 10),
            Ok(120),
            "the chain redeemed more"
        );
        assert_eq!(next_base(100, 0, 110, 10), Ok(110), "one answer lost");
        assert!(next_base(100, 0, 111, 10).is_err(), "overclaiming");
    }

    #[test]
    fn the_wallet_round_trips_and_never_lowers_an_amount() {
        let dir = tempfile::tempdir().expect("dir");
        let (u, g) = (Address([1; 20]), Address([2; 20]));
        let mut w = Wallet::open(dir.path()).expect("new");
        w.set_channel("c", &u, &g, 3, 7);
        w.set_signed("c", 7, 50);
        w.set_signed("c", 7, 40);
        w.save().expect("save");
        let w = Wallet::open(dir.path()).expect("load");
        assert_eq!(w.channel("c", &u, &g, 3), Some(7));
        assert_eq!(w.channel("d", &u, &g, 3), None);
        assert_eq!(w.signed("c", 7), 50);
    }
}
