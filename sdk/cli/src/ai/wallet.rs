//! The user's side of payment channels, kept in `{tao home}/wallet.json`: which channel
//! pays which gateway on which subnet, and the highest cumulative amount this home has
//! signed on each, recorded before a voucher leaves. The next voucher is computed from it
//! ([`next_base`]), so a gateway can never make the user pay for more requests than it
//! answered.

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

/// What the next voucher on a channel adds the price to. `issued` is the most this wallet
/// ever signed on it (recorded before each voucher is sent), `redeemed` what the chain
/// redeemed, `charged` what the gateway says it charged. A gateway holds no voucher above
/// `issued`, so a claim above it is a lie (`Err`); below it, the last request was not
/// answered and its amount is signed again, so a failed request costs nothing and a
/// gateway gains nothing by misreporting.
pub fn next_base(issued: u64, redeemed: u64, charged: u64) -> Result<u64, String> {
    if charged > issued.max(redeemed) {
        return Err(format!(
            "the gateway claims {charged} rao charged; this wallet never signed more than {issued} rao"
        ));
    }
    Ok(charged.max(redeemed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_is_believed_only_up_to_what_was_signed() {
        assert_eq!(
            next_base(100, 0, 100),
            Ok(100),
            "the last request was answered"
        );
        assert_eq!(next_base(100, 0, 90), Ok(90), "it was not: sign 100 again");
        assert_eq!(next_base(100, 120, 90), Ok(120), "the chain redeemed more");
        assert!(next_base(100, 0, 101).is_err(), "overclaiming");
        assert!(next_base(0, 0, 1).is_err());
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
