//! The gateway's books: per channel, what it has charged (the highest voucher it earned by
//! answering), what it has redeemed on chain, and whether a request is in flight. A voucher
//! is admitted only if its channel pays this gateway on this subnet, is open and not about
//! to expire, and its cumulative amount is within the deposit and at least what was charged
//! plus the price; it is charged only when an answer goes back ([`Books::settle`]), and a
//! failed request charges nothing ([`Books::release`]). Redemption takes the last earned
//! voucher, never more than was served. Pure bookkeeping: the caller brings the channel
//! (from the chain) and the height.

use std::collections::BTreeMap;
use std::path::Path;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use taochain_primitives::Address;
use taochain_primitives::channel::{Channel, Voucher};

/// Blocks before a channel's expiry from which its vouchers are refused (the gateway needs
/// them to redeem before the user may close), plus a block per [`REDEEM_BATCH`]
/// unredeemed channels expiring no later (they are redeemed first, a transaction a block).
pub const EXPIRY_MARGIN_BLOCKS: u64 = 5;

/// Vouchers redeemed in one transaction (the chain's default `max_msgs`).
pub const REDEEM_BATCH: usize = 64;

/// Why a voucher does not pay for a request: an HTTP status, a stable code, a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 402, 404 or 409.
    pub status: StatusCode,
    /// `voucher_too_low`, ...
    pub code: &'static str,
    /// One line.
    pub message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: String) -> Refusal {
    Refusal {
        status,
        code,
        message,
    }
}

/// What a voucher must satisfy besides its channel: this gateway, subnet, chain, price and
/// the current height.
#[derive(Debug, Clone)]
pub struct Terms<'a> {
    /// The gateway hotkey.
    pub me: Address,
    /// The subnet asked.
    pub netuid: u16,
    /// Its contract (a subnet dissolved and replaced on the netuid had another).
    pub subnet_contract: Address,
    /// The chain id (bound into the voucher).
    pub chain_id: &'a str,
    /// Price of this request, rao.
    pub price: u64,
    /// The latest height the gateway knows.
    pub height: u64,
    /// [`EXPIRY_MARGIN_BLOCKS`] or another margin.
    pub margin: u64,
}

/// One channel's books.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Entry {
    /// Highest cumulative amount earned (answered for).
    charged: u64,
    /// The voucher for `charged`: its signature, hex.
    signature: Option<String>,
    /// Redeemed on chain.
    redeemed: u64,
    /// Height of the first earning not yet redeemed.
    since: u64,
    /// The channel's expiry (kept so a restarted gateway still redeems before it).
    #[serde(default)]
    expires_at: u64,
    /// The channel closed before what was earned could be redeemed: nothing more to do.
    #[serde(default)]
    closed: bool,
    /// A request is in flight.
    #[serde(skip)]
    busy: bool,
}

/// An admitted voucher, held while its request is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Channel id.
    pub channel: u64,
    /// Its cumulative amount.
    pub cumulative: u64,
    /// Its signature.
    pub signature: [u8; 64],
    /// What this request costs: the cumulative amount minus what was charged before.
    pub charge: u64,
}

/// A voucher to redeem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    /// Channel id.
    pub channel: u64,
    /// Cumulative amount.
    pub cumulative: u64,
    /// Signature.
    pub signature: [u8; 64],
}

/// Every channel's books.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Books {
    /// The chain the channel ids belong to (empty in books written before it was kept).
    #[serde(default)]
    chain_id: String,
    entries: BTreeMap<u64, Entry>,
}

/// Checks `channel`'s voucher signature for `cumulative` (cheap checks first: call after
/// [`Books::admit`]'s refusals would not apply, or before; it holds no lock).
pub fn check_signature(
    channel: &Channel,
    id: u64,
    cumulative: u64,
    signature: &[u8; 64],
    chain_id: &str,
) -> Result<(), Refusal> {
    let digest = Voucher {
        channel: id,
        cumulative,
    }
    .digest(chain_id, channel.netuid);
    if taochain_primitives::tx::verify_strict(&channel.user_key, &digest, signature) {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::PAYMENT_REQUIRED,
            "voucher_bad_signature",
            format!(
                "the voucher is not signed by channel {id}'s user for this chain, subnet, channel and amount"
            ),
        ))
    }
}

/// Blocks the redemption of `queued` channels takes (a [`REDEEM_BATCH`] a block), before
/// the one after them.
fn blocks_for(queued: usize) -> u64 {
    u64::try_from(queued / REDEEM_BATCH).unwrap_or(u64::MAX)
}

/// The vouchers of `queue` (signatures decoded only for what is sent).
fn redemptions(queue: Vec<(u64, &Entry)>) -> Vec<Redemption> {
    queue
        .into_iter()
        .filter_map(|(id, e)| {
            Some(Redemption {
                channel: id,
                cumulative: e.charged,
                signature: crate::wire::hex_array::<64>("signature", e.signature.as_deref()?)
                    .ok()?,
            })
        })
        .collect()
}

impl Books {
    /// Loads books saved by [`Books::save`]; empty when the file does not exist.
    pub fn load(path: &Path, chain_id: &str) -> Result<Books, String> {
        let mut books: Books = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("gateway books {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Books::default(),
            Err(e) => return Err(format!("gateway books {}: {e}", path.display())),
        };
        // Channel ids start at 1 on every chain: another chain's charges would be taken
        // for this one's.
        if !books.chain_id.is_empty() && books.chain_id != chain_id {
            return Err(format!(
                "gateway books {} are chain {}'s, not {chain_id}'s: give this chain its own books file",
                path.display(),
                books.chain_id
            ));
        }
        books.chain_id = chain_id.to_string();
        Ok(books)
    }

    /// Writes the books atomically (a temporary file renamed over `path`).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let dir = path.parent().unwrap_or(Path::new("."));
        let text = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
        std::io::Write::write_all(&mut tmp, &text).map_err(|e| e.to_string())?;
        tmp.persist(path).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Admits a voucher for a request on `channel` (already fetched from the chain; the
    /// signature is checked apart, by [`check_signature`]) and marks the channel busy.
    pub fn admit(
        &mut self,
        id: u64,
        channel: &Channel,
        cumulative: u64,
        signature: [u8; 64],
        t: &Terms<'_>,
    ) -> Result<Ticket, Refusal> {
        let pay = StatusCode::PAYMENT_REQUIRED;
        if channel.gateway != t.me {
            return Err(refuse(
                pay,
                "channel_wrong_gateway",
                format!(
                    "channel {id} pays gateway {}, not {}",
                    channel.gateway, t.me
                ),
            ));
        }
        if channel.netuid != t.netuid {
            return Err(refuse(
                pay,
                "channel_wrong_subnet",
                format!(
                    "channel {id} pays netuid {}, not {}",
                    channel.netuid, t.netuid
                ),
            ));
        }
        if channel.subnet_contract != t.subnet_contract {
            return Err(refuse(
                pay,
                "channel_wrong_subnet",
                format!(
                    "channel {id} pays the subnet with contract {} on netuid {}; this gateway serves contract {} there",
                    channel.subnet_contract, t.netuid, t.subnet_contract
                ),
            ));
        }
        if channel.closed {
            return Err(refuse(
                pay,
                "channel_closed",
                format!("channel {id} is closed"),
            ));
        }
        let queued = self.queued_before(id, channel.expires_at);
        let margin = t.margin.saturating_add(blocks_for(queued));
        if t.height.saturating_add(margin) >= channel.expires_at {
            return Err(refuse(
                pay,
                "channel_expiring",
                format!(
                    "channel {id} expires at block {} (now {}); this gateway takes vouchers until {margin} blocks before ({} blocks, and one per {REDEEM_BATCH} of the {queued} channels it must redeem first)",
                    channel.expires_at, t.height, t.margin
                ),
            ));
        }
        if let Some((expiry, queued)) = self.would_delay(id, channel.expires_at, t) {
            return Err(refuse(
                pay,
                "channel_expiring",
                format!(
                    "this gateway must redeem {queued} channels by block {expiry} (now {}); channel {id}, redeemed before them, would make that too late",
                    t.height
                ),
            ));
        }
        if cumulative > channel.deposit {
            return Err(refuse(
                pay,
                "voucher_above_deposit",
                format!(
                    "voucher for {cumulative} rao; channel {id}'s deposit is {}",
                    channel.deposit
                ),
            ));
        }
        // Written only once admitted: a refused voucher leaves no entry behind.
        let mut e = self.entries.get(&id).cloned().unwrap_or_default();
        e.expires_at = channel.expires_at;
        // A restarted gateway with lost books still knows what it redeemed.
        e.redeemed = e.redeemed.max(channel.redeemed);
        e.charged = e.charged.max(channel.redeemed);
        let needed = e.charged.saturating_add(t.price);
        if cumulative < needed {
            return Err(refuse(
                pay,
                "voucher_too_low",
                format!(
                    "voucher for {cumulative} rao; at least {needed} needed ({} charged so far + price {})",
                    e.charged, t.price
                ),
            ));
        }
        if e.busy {
            return Err(refuse(
                StatusCode::CONFLICT,
                "channel_busy",
                format!("channel {id} has a request in flight (one at a time per channel)"),
            ));
        }
        e.busy = true;
        let charged = e.charged;
        self.entries.insert(id, e);
        Ok(Ticket {
            channel: id,
            cumulative,
            signature,
            charge: cumulative - charged,
        })
    }

    /// Open channels other than `id` with earnings to redeem (or a request in flight) that
    /// are redeemed before it: nearest expiry first, then lowest id.
    fn queued_before(&self, id: u64, expires_at: u64) -> usize {
        self.entries
            .iter()
            .filter(|(i, e)| {
                !e.closed
                    && (e.charged > e.redeemed || e.busy)
                    && (e.expires_at, **i) < (expires_at, id)
            })
            .count()
    }

    /// With channel `id` (not queued yet) joining the redemption queue, the first expiry
    /// at or after its own (`expires_at`) whose channels would no longer all be redeemed
    /// [`Terms::margin`] blocks before it (they come after `id`, a [`REDEEM_BATCH`] a
    /// block), and how many channels are queued up to it. `None` when `id` is queued
    /// already (it moves no one back) or every such expiry is still met.
    fn would_delay(&self, id: u64, expires_at: u64, t: &Terms<'_>) -> Option<(u64, usize)> {
        let queued = |e: &Entry| !e.closed && (e.charged > e.redeemed || e.busy);
        if self.entries.get(&id).is_some_and(queued) {
            return None;
        }
        let mut per_expiry = BTreeMap::<u64, usize>::new();
        for e in self.entries.values().filter(|e| queued(e)) {
            *per_expiry.entry(e.expires_at).or_default() += 1;
        }
        *per_expiry.entry(expires_at).or_default() += 1;
        let mut ahead = 0usize;
        for (expiry, n) in per_expiry {
            ahead = ahead.saturating_add(n);
            // The last channel expiring at `expiry` is redeemed `ahead - 1` places in.
            let reached = t
                .height
                .saturating_add(t.margin)
                .saturating_add(blocks_for(ahead - 1));
            if expiry >= expires_at && reached >= expiry {
                return Some((expiry, ahead));
            }
        }
        None
    }

    /// The request was answered: the voucher is earned.
    pub fn settle(&mut self, t: &Ticket, height: u64) {
        let e = self.entries.entry(t.channel).or_default();
        e.busy = false;
        if t.cumulative > e.charged {
            if e.charged <= e.redeemed {
                e.since = height;
            }
            e.charged = t.cumulative;
            e.signature = Some(hex::encode(t.signature));
        }
    }

    /// The request failed: nothing is charged.
    pub fn release(&mut self, t: &Ticket) {
        if let Some(e) = self.entries.get_mut(&t.channel) {
            e.busy = false;
        }
    }

    /// Every earned, unredeemed voucher on an open channel, nearest expiry first (then
    /// lowest id): the order they are redeemed in.
    fn unredeemed(&self) -> Vec<(u64, &Entry)> {
        let mut queue: Vec<(u64, &Entry)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.charged > e.redeemed && !e.closed && e.signature.is_some())
            .map(|(id, e)| (*id, e))
            .collect();
        queue.sort_by_key(|(id, e)| (e.expires_at, *id));
        queue
    }

    /// The redemption transaction to send at `height` (one a block): when any voucher is
    /// due, either `every` blocks old or within `margin` blocks of its channel's expiry
    /// plus a block per [`REDEEM_BATCH`] queued before it (what [`Books::admit`] keeps
    /// free), the [`REDEEM_BATCH`] nearest their expiry, due or not; nothing otherwise.
    /// Nearest deadline first at every block is what keeps every admitted voucher in time.
    pub fn due(&self, height: u64, every: u64, margin: u64) -> Vec<Redemption> {
        let mut queue = self.unredeemed();
        let any_due = queue.iter().enumerate().any(|(queued, (_, e))| {
            height >= e.since.saturating_add(every)
                || height
                    .saturating_add(margin)
                    .saturating_add(blocks_for(queued))
                    >= e.expires_at
        });
        if !any_due {
            return vec![];
        }
        queue.truncate(REDEEM_BATCH);
        redemptions(queue)
    }

    /// Every earned, unredeemed voucher, nearest expiry first (at shutdown).
    pub fn all_unredeemed(&self) -> Vec<Redemption> {
        redemptions(self.unredeemed())
    }

    /// Whether an answer on channel `id` can still be charged at `height`: its voucher,
    /// with the channels queued before it, is still redeemable `margin` blocks before the
    /// expiry (the test [`Books::admit`] made). A request that ran past that is not
    /// answered, and not charged.
    pub fn in_time(&self, id: u64, height: u64, margin: u64) -> bool {
        self.entries.get(&id).is_some_and(|e| {
            let queued = self.queued_before(id, e.expires_at);
            height
                .saturating_add(margin)
                .saturating_add(blocks_for(queued))
                < e.expires_at
        })
    }

    /// `cumulative` was redeemed on `id` by `height`; the rao this adds to what was
    /// redeemed before. What was earned since waits `every` blocks from `height` (a channel
    /// in constant use is redeemed once per period, not at every block).
    pub fn redeemed(&mut self, id: u64, cumulative: u64, height: u64) -> u64 {
        let Some(e) = self.entries.get_mut(&id) else {
            return 0;
        };
        let added = cumulative.saturating_sub(e.redeemed);
        e.redeemed = e.redeemed.max(cumulative);
        if e.charged > e.redeemed {
            e.since = e.since.max(height);
        }
        added
    }

    /// Forgets the channels nothing more can come of at `height`: closed ones, and those
    /// past their expiry with everything earned redeemed (the books stay the size of the
    /// live channels). Busy ones stay.
    pub fn prune(&mut self, height: u64) {
        self.entries.retain(|_, e| {
            e.busy || !(e.closed || (e.charged <= e.redeemed && height > e.expires_at))
        });
    }

    /// The channel closed with `redeemed` on chain: what was earned above it is lost
    /// (returned, rao), and the channel is never tried again.
    pub fn give_up(&mut self, id: u64, redeemed: u64) -> u64 {
        let Some(e) = self.entries.get_mut(&id) else {
            return 0;
        };
        e.closed = true;
        e.redeemed = e.redeemed.max(redeemed);
        e.charged.saturating_sub(e.redeemed)
    }

    /// `(charged, redeemed)` of a channel.
    pub fn get(&self, id: u64) -> Option<(u64, u64)> {
        self.entries.get(&id).map(|e| (e.charged, e.redeemed))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    const GW: Address = Address([7; 20]);

    fn user() -> SigningKey {
        SigningKey::from_bytes(&[3; 32])
    }

    fn channel() -> Channel {
        Channel {
            user: Address([1; 20]),
            user_key: user().verifying_key().to_bytes(),
            gateway: GW,
            netuid: 2,
            subnet_contract: Address([9; 20]),
            gateway_share_bps: 1000,
            deposit: 1_000,
            redeemed: 0,
            expires_at: 100,
            closed: false,
        }
    }

    fn terms(price: u64, height: u64) -> Terms<'static> {
        Terms {
            me: GW,
            netuid: 2,
            subnet_contract: Address([9; 20]),
            chain_id: "tao-test",
            price,
            height,
            margin: EXPIRY_MARGIN_BLOCKS,
        }
    }

    fn sign(id: u64, amount: u64, chain: &str, netuid: u16) -> [u8; 64] {
        user()
            .sign(
                &Voucher {
                    channel: id,
                    cumulative: amount,
                }
                .digest(chain, netuid),
            )
            .to_bytes()
    }

    #[test]
    fn a_voucher_is_charged_only_when_answered_and_must_cover_the_price() {
        let (mut b, c) = (Books::default(), channel());
        let t = b
            .admit(9, &c, 10, sign(9, 10, "tao-test", 2), &terms(10, 1))
            .expect("ok");
        assert_eq!(t.charge, 10);
        // One request at a time per channel.
        let busy = b
            .admit(9, &c, 20, [0; 64], &terms(10, 1))
            .expect_err("busy");
        assert_eq!(busy.code, "channel_busy");
        b.release(&t);
        assert_eq!(b.get(9), Some((0, 0)), "a failed request charges nothing");
        let t = b
            .admit(9, &c, 10, t.signature, &terms(10, 1))
            .expect("retry");
        b.settle(&t, 1);
        assert_eq!(b.get(9), Some((10, 0)));
        // Replayed, lower, or not covering the price.
        for amount in [10, 5, 19] {
            let e = b
                .admit(9, &c, amount, [0; 64], &terms(10, 2))
                .expect_err("low");
            assert_eq!(e.code, "voucher_too_low", "{amount}");
        }
        let t = b
            .admit(9, &c, 25, [0; 64], &terms(10, 2))
            .expect("more is fine");
        assert_eq!(t.charge, 15);
    }

    #[test]
    fn vouchers_for_another_gateway_subnet_or_a_spent_closed_or_expiring_channel_are_refused() {
        let b = &mut Books::default();
        let mut other = channel();
        other.gateway = Address([8; 20]);
        let code = |b: &mut Books, c: &Channel, amount, height| {
            b.admit(9, c, amount, [0; 64], &terms(10, height))
                .expect_err("refused")
                .code
        };
        assert_eq!(code(b, &other, 10, 1), "channel_wrong_gateway");
        let mut other = channel();
        other.netuid = 3;
        assert_eq!(code(b, &other, 10, 1), "channel_wrong_subnet");
        let mut other = channel();
        other.subnet_contract = Address([4; 20]);
        assert_eq!(code(b, &other, 10, 1), "channel_wrong_subnet");
        let mut other = channel();
        other.closed = true;
        assert_eq!(code(b, &other, 10, 1), "channel_closed");
        assert_eq!(code(b, &channel(), 1_001, 1), "voucher_above_deposit");
        assert_eq!(code(b, &channel(), 10, 95), "channel_expiring");
        assert!(b.admit(9, &channel(), 10, [0; 64], &terms(10, 94)).is_ok());
    }

    #[test]
    fn a_signature_binds_channel_amount_chain_and_subnet() {
        let c = channel();
        let ok = sign(9, 10, "tao-test", 2);
        assert!(check_signature(&c, 9, 10, &ok, "tao-test").is_ok());
        for (sig, id, amount, chain) in [
            (ok, 8, 10, "tao-test"),
            (ok, 9, 11, "tao-test"),
            (ok, 9, 10, "tao-other"),
            (sign(9, 10, "tao-test", 3), 9, 10, "tao-test"),
            (
                SigningKey::from_bytes(&[4; 32]).sign(b"x").to_bytes(),
                9,
                10,
                "tao-test",
            ),
        ] {
            let e = check_signature(&c, id, amount, &sig, chain).expect_err("forged");
            assert_eq!(e.code, "voucher_bad_signature");
        }
    }

    #[test]
    fn redemption_takes_the_last_earned_voucher_when_old_enough_or_near_expiry() {
        let (mut b, c) = (Books::default(), channel());
        let t = b
            .admit(9, &c, 10, sign(9, 10, "t", 2), &terms(10, 10))
            .expect("ok");
        b.settle(&t, 10);
        let t = b
            .admit(9, &c, 20, sign(9, 20, "t", 2), &terms(10, 11))
            .expect("ok");
        b.settle(&t, 11);
        // Admitted but not answered: not redeemable.
        let pending = b.admit(9, &c, 30, [0; 64], &terms(10, 12)).expect("ok");
        assert!(b.due(12, 5, 5).is_empty(), "too recent");
        let due = b.due(15, 5, 5);
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].channel, due[0].cumulative), (9, 20));
        assert_eq!(
            b.due(95, 500, 5).len(),
            1,
            "near the channel's expiry (100)"
        );
        assert!(b.due(94, 500, 5).is_empty());
        // The pending request is answered while 20 is being redeemed: 30 waits a period from
        // the redemption, not from the first earning.
        b.settle(&pending, 16);
        b.redeemed(9, 20, 17);
        assert!(b.due(21, 5, 5).is_empty(), "redeemed 4 blocks ago");
        assert_eq!(b.due(22, 5, 5).len(), 1);
        b.redeemed(9, 30, 22);
        assert!(b.due(1_000, 5, 5).is_empty());
        assert!(b.all_unredeemed().is_empty());
        // Closed before redemption: the loss is counted once, and never retried.
        let t = b
            .admit(9, &c, 40, sign(9, 40, "t", 2), &terms(10, 20))
            .expect("ok");
        b.settle(&t, 20);
        assert_eq!(b.give_up(9, 30), 10);
        assert!(b.all_unredeemed().is_empty());
        // A closed channel is forgotten; an expired one once all it earned is redeemed.
        let mut other = channel();
        other.expires_at = 50;
        let t = b
            .admit(8, &other, 10, sign(8, 10, "t", 2), &terms(10, 20))
            .expect("ok");
        b.settle(&t, 20);
        b.prune(60);
        assert_eq!(b.get(9), None, "closed");
        assert_eq!(b.get(8), Some((10, 0)), "expired but not redeemed");
        b.redeemed(8, 10, 60);
        b.prune(50);
        assert_eq!(b.get(8), Some((10, 10)), "not expired yet");
        b.prune(51);
        assert_eq!(b.get(8), None);
    }

    #[test]
    fn a_crowd_of_channels_expiring_together_is_redeemed_in_time_and_no_voucher_is_taken_too_late()
    {
        // 129 channels expiring at 100 with earnings to redeem: three transactions, the
        // last (channel 129, after 128 nearer in the queue) from block 93 (5 + 2 blocks).
        let (mut b, c) = (Books::default(), channel());
        for id in 1..=129u64 {
            let t = b
                .admit(id, &c, 10, sign(id, 10, "t", 2), &terms(10, 50))
                .expect("ok");
            b.settle(&t, 50);
        }
        // From block 93 channel 129 is due (128 are queued before it): a transaction takes
        // the 64 nearest their expiry.
        assert!(b.due(92, 500, 5).is_empty());
        let ids = |due: &[Redemption]| due.iter().map(|r| r.channel).collect::<Vec<_>>();
        assert_eq!(ids(&b.due(93, 500, 5)), (1..=64).collect::<Vec<_>>());
        // A new voucher is refused once its redemption could come too late: channel 200
        // has 129 ahead of it (2 blocks on top of the margin); channel 1 has none.
        let refused = b
            .admit(200, &c, 10, sign(200, 10, "t", 2), &terms(10, 93))
            .expect_err("too late to redeem");
        assert_eq!(refused.code, "channel_expiring");
        assert!(
            refused.message.contains("129 channels"),
            "{}",
            refused.message
        );
        let t = b
            .admit(200, &c, 10, sign(200, 10, "t", 2), &terms(10, 92))
            .expect("in time");
        b.release(&t);
        let t = b
            .admit(1, &c, 20, sign(1, 20, "t", 2), &terms(10, 94))
            .expect("first in the queue");
        b.release(&t);
        // A newcomer redeemed before the crowd is refused once it would push the crowd's
        // last redemption too late: channel 0 expires at 99, so it would go first.
        let mut early = channel();
        early.expires_at = 99;
        let refused = b
            .admit(0, &early, 10, sign(0, 10, "t", 2), &terms(10, 93))
            .expect_err("it would delay channel 129");
        assert_eq!(refused.code, "channel_expiring");
        assert!(
            refused.message.contains("130 channels by block 100"),
            "{}",
            refused.message
        );
        let t = b
            .admit(0, &early, 10, sign(0, 10, "t", 2), &terms(10, 92))
            .expect("the crowd still makes it");
        b.release(&t);
        // One transaction a block, nearest first: all redeemed by block 96.
        for (h, want) in [(93, 1..=64), (94, 65..=128), (95, 129..=129)] {
            let batch = b.due(h, 500, 5);
            assert_eq!(ids(&batch), want.collect::<Vec<u64>>(), "at {h}");
            for r in batch {
                b.redeemed(r.channel, r.cumulative, h + 1);
            }
        }
        assert!(b.all_unredeemed().is_empty());
        // Once the queue is redeemed, channel 200 has the plain margin again.
        b.admit(200, &c, 10, sign(200, 10, "t", 2), &terms(10, 94))
            .expect("nothing queued ahead");
    }

    #[test]
    fn channels_used_last_in_first_cannot_crowd_each_other_out_of_their_redemption() {
        // Channels sharing expiry 100, used at block 94 from the highest id down: each is
        // the first to redeem, but each one admitted pushes the others back. 64 fit in the
        // one transaction left before the margin; the 65th is refused.
        let (mut b, c) = (Books::default(), channel());
        let mut admitted = 0;
        for id in (1..=100u64).rev() {
            match b.admit(id, &c, 10, sign(id, 10, "t", 2), &terms(10, 94)) {
                Ok(t) => {
                    b.settle(&t, 94);
                    admitted += 1;
                }
                Err(r) => assert_eq!(r.code, "channel_expiring"),
            }
        }
        assert_eq!(admitted, REDEEM_BATCH);
        assert_eq!(
            b.due(95, 500, 5).len(),
            REDEEM_BATCH,
            "one transaction, in time"
        );
    }

    #[test]
    fn nearest_deadline_first_one_transaction_a_block_keeps_every_admitted_voucher_in_time() {
        // Admitted at block 99, each level with one block to spare: 64 channels expiring
        // at 106 (ids 701-764), then 64 more at each of 106, 107, ..., 111 (ids 601-664,
        // 501-564, ...: the later the expiry, the lower the ids). At 100 the later levels
        // are due but the first 64 are not: a round that sent every due batch in a row
        // would land them after 106, and so would one that went by id.
        let mut b = Books::default();
        let mut expiry_of = BTreeMap::new();
        let levels = std::iter::once((700, 106)).chain((1..=6).map(|j| (700 - 100 * j, 105 + j)));
        for (base, expires_at) in levels {
            let mut c = channel();
            c.expires_at = expires_at;
            for id in base + 1..=base + 64 {
                let t = b
                    .admit(id, &c, 10, sign(id, 10, "t", 2), &terms(10, 99))
                    .expect("admitted with a block to spare");
                b.settle(&t, 99);
                expiry_of.insert(id, expires_at);
            }
        }
        for h in 100..=120 {
            // Sent at h, in the chain at h + 1: before the user may close (at the expiry).
            for r in b.due(h, 500, 5) {
                assert!(
                    h + 1 < expiry_of[&r.channel],
                    "channel {} at {h}",
                    r.channel
                );
                b.redeemed(r.channel, r.cumulative, h + 1);
            }
        }
        assert!(b.all_unredeemed().is_empty());
    }

    #[test]
    fn a_refused_voucher_leaves_no_entry_and_an_answer_too_late_is_not_charged() {
        let (mut b, c) = (Books::default(), channel());
        b.admit(900, &c, 0, sign(900, 0, "t", 2), &terms(10, 10))
            .expect_err("below the price");
        assert_eq!(b.get(900), None, "nothing kept for a refused voucher");
        b.admit(900, &c, 10, sign(900, 10, "t", 2), &terms(10, 10))
            .expect("ok");
        // Expiry 100, margin 5: an answer ready at 94 is charged, at 95 it is not.
        assert!(b.in_time(900, 94, 5));
        assert!(!b.in_time(900, 95, 5));
        assert!(!b.in_time(8, 10, 5), "no such request");
        // With 64 channels to redeem before it, one block earlier.
        for id in 1..=64 {
            let t = b
                .admit(id, &c, 10, sign(id, 10, "t", 2), &terms(10, 10))
                .expect("ok");
            b.settle(&t, 10);
        }
        assert!(b.in_time(900, 93, 5));
        assert!(!b.in_time(900, 94, 5));
    }

    #[test]
    fn books_survive_a_restart() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("books.json");
        let (mut b, c) = (Books::default(), channel());
        let t = b
            .admit(9, &c, 10, sign(9, 10, "t", 2), &terms(10, 1))
            .expect("ok");
        b.settle(&t, 1);
        b.save(&path).expect("save");
        let back = Books::load(&path, "t").expect("load");
        assert_eq!(back.get(9), Some((10, 0)));
        assert_eq!(
            back.due(95, 500, 5).len(),
            1,
            "the expiry survives the restart"
        );
        assert_eq!(back.all_unredeemed(), b.all_unredeemed());
        assert!(
            Books::load(&dir.path().join("none"), "t")
                .expect("empty")
                .get(9)
                .is_none()
        );
        // Saved under its chain id: another chain refuses the file and leaves it as it was.
        back.save(&path).expect("save");
        let before = std::fs::read(&path).expect("read");
        let e = Books::load(&path, "tao-other").expect_err("another chain's books");
        assert!(e.contains("are chain t's"), "{e}");
        assert_eq!(std::fs::read(&path).expect("read"), before);
    }
}
