//! A validator's loop: each round draws a fresh challenge with known ground truth (the
//! task's generator in `taochain-tasks`), sends it to every serving miner through the
//! [`Dendrite`], scores each answer with the task's metric (0 for a timeout, an error or a
//! bad signature), and folds the score into a per-UID moving average ([`Scoreboard`]).
//! Once per tempo it sets weights from the averages (commit, then reveal in the window,
//! when the subnet has commit-reveal on).

use std::collections::BTreeMap;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use taochain_arena_msg::TaskSpec;
use taochain_primitives::subnet::{SubnetInfo, weights_commit_hash};
use taochain_primitives::{Address, Msg};
use taochain_tasks::SCORE_SCALE;

use crate::NeuronError;
use crate::chain::{Chain, serving};
use crate::dendrite::{Dendrite, Reply};

/// Per-UID moving averages of scores (ppm), reset when a UID changes hands.
#[derive(Debug, Clone, Default)]
pub struct Scoreboard {
    smoothing_ppm: u64,
    avg: BTreeMap<u16, (Address, u64)>,
}

impl Scoreboard {
    /// A board where a new score weighs `smoothing_ppm` in the average.
    pub fn new(smoothing_ppm: u32) -> Self {
        Scoreboard {
            smoothing_ppm: u64::from(smoothing_ppm.min(SCORE_SCALE)),
            avg: BTreeMap::new(),
        }
    }

    /// Folds `score` (ppm) into `uid`'s average; a new hotkey on the UID starts over.
    pub fn record(&mut self, uid: u16, hotkey: Address, score: u32) {
        let s = u64::from(score.min(SCORE_SCALE));
        let a = self.smoothing_ppm;
        let scale = u64::from(SCORE_SCALE);
        let entry = self.avg.entry(uid).or_insert((hotkey, s));
        if entry.0 != hotkey {
            *entry = (hotkey, s);
        } else {
            entry.1 = (entry.1 * (scale - a) + s * a) / scale;
        }
    }

    /// `uid`'s average, ppm.
    pub fn average(&self, uid: u16) -> Option<u64> {
        self.avg.get(&uid).map(|e| e.1)
    }

    /// Forgets every UID not held by the same hotkey in `current` (replaced or gone), so a
    /// new hotkey never inherits the old one's average.
    pub fn retain_current(&mut self, current: &BTreeMap<u16, Address>) {
        self.avg.retain(|uid, e| current.get(uid) == Some(&e.0));
    }

    /// Weights from the averages: UIDs with a positive average, values scaled so the
    /// best is `u16::MAX`. Empty when nobody scored.
    pub fn weights(&self) -> (Vec<u16>, Vec<u16>) {
        let best = self.avg.values().map(|e| e.1).max().unwrap_or(0);
        if best == 0 {
            return (vec![], vec![]);
        }
        self.avg
            .iter()
            .filter(|(_, e)| e.1 > 0)
            .map(|(uid, e)| (*uid, (e.1 * u64::from(u16::MAX) / best) as u16))
            .unzip()
    }
}

/// One miner's line in a round.
#[derive(Debug, Clone)]
pub struct RoundRow {
    /// UID.
    pub uid: u16,
    /// This round's score, ppm.
    pub score: u32,
    /// Latency.
    pub latency: Duration,
    /// Its moving average after this round, ppm.
    pub average: u64,
    /// Why it scored 0, if it failed.
    pub error: Option<String>,
}

/// Scores replies against the truth and records them.
pub fn score_round(
    spec: &TaskSpec,
    truth: &str,
    replies: &[Reply],
    hotkeys: &BTreeMap<u16, Address>,
    board: &mut Scoreboard,
) -> Vec<RoundRow> {
    replies
        .iter()
        .map(|r| {
            let (score, error) = match &r.answer {
                Ok(a) => (taochain_tasks::score(spec.kind, truth, a), None),
                Err(e) => (0, Some(e.clone())),
            };
            if let Some(h) = hotkeys.get(&r.uid) {
                board.record(r.uid, *h, score);
            }
            RoundRow {
                uid: r.uid,
                score,
                latency: r.latency,
                average: board.average(r.uid).unwrap_or(0),
                error,
            }
        })
        .collect()
}

/// Sets weights once per tempo: `SetWeights`, or on a commit-reveal subnet a
/// `CommitWeights` and, as soon as its reveal window opens, the `RevealWeights`.
#[derive(Debug, Default)]
pub struct WeightSetter {
    last_set: Option<u64>,
    /// Weight transactions sent (set, commit or reveal).
    pub sent: u64,
}

impl WeightSetter {
    /// Sends what is due at `height` for `board`; returns a line saying what it did.
    pub fn tick(
        &mut self,
        chain: &Chain,
        key: &SigningKey,
        netuid: u16,
        s: &SubnetInfo,
        height: u64,
        board: &Scoreboard,
    ) -> Result<Option<String>, NeuronError> {
        let hp = &s.hyperparams;
        let tempo = hp.tempo.max(1);
        let due = match self.last_set {
            None => true,
            Some(last) => height / tempo > last / tempo && height >= last + hp.weights_rate_limit,
        };
        let (uids, values) = board.weights();
        if !due || uids.is_empty() {
            return Ok(None);
        }
        let n = uids.len();
        if !hp.commit_reveal {
            let at = chain.send(
                key,
                vec![Msg::SetWeights {
                    netuid,
                    uids,
                    values,
                    version_key: 0,
                }],
            )?;
            self.last_set = Some(at);
            self.sent += 1;
            return Ok(Some(format!("set weights on {n} UIDs (block {at})")));
        }
        let me = Address::from_public_key(&key.verifying_key().to_bytes());
        let salt: [u8; 16] = rand::random();
        let hash = weights_commit_hash(&me, netuid, &uids, &values, &salt, 0);
        let at = chain.send(key, vec![Msg::CommitWeights { netuid, hash }])?;
        self.last_set = Some(at);
        self.sent += 1;
        // The window is [at + period, at + 2 * period): wait for the block before it.
        let opens = at + hp.reveal_period;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while chain.height()? + 1 < opens {
            if std::time::Instant::now() > deadline {
                return Err(NeuronError::Chain(format!(
                    "the reveal window (block {opens}) did not open in 120 s"
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let revealed = chain.send(
            key,
            vec![Msg::RevealWeights {
                netuid,
                uids,
                values,
                salt: salt.to_vec(),
                version_key: 0,
            }],
        )?;
        self.sent += 1;
        Ok(Some(format!(
            "committed weights on {n} UIDs (block {at}), revealed them (block {revealed})"
        )))
    }
}

/// What one round did.
#[derive(Debug, Clone)]
pub struct Round {
    /// Per miner.
    pub rows: Vec<RoundRow>,
    /// How long generating the challenge took.
    pub challenge_time: Duration,
    /// What the weight setter did.
    pub weights: Option<String>,
}

/// A validator on one subnet.
pub struct Validator {
    chain: Chain,
    key: SigningKey,
    netuid: u16,
    spec: TaskSpec,
    dendrite: Dendrite,
    /// The moving averages.
    pub board: Scoreboard,
    /// The weight setter.
    pub weights: WeightSetter,
}

impl Validator {
    /// Reads the subnet's task and the chain id from the node.
    pub async fn connect(chain: Chain, key: SigningKey, netuid: u16) -> Result<Self, NeuronError> {
        let c = chain.clone();
        let (spec, chain_id) = blocking(move || Ok((c.task(netuid)?, c.chain_id()?))).await?;
        let dendrite = Dendrite::new(key.clone(), &chain_id, netuid).map_err(NeuronError::Http)?;
        Ok(Validator {
            chain,
            key,
            netuid,
            board: Scoreboard::new(spec.score_smoothing_ppm),
            spec,
            dendrite,
            weights: WeightSetter::default(),
        })
    }

    /// The subnet's task.
    pub fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    /// One round: challenge, query, score, and the weights due.
    pub async fn round(&mut self) -> Result<Round, NeuronError> {
        let (c, netuid, me) = (self.chain.clone(), self.netuid, self.dendrite.hotkey());
        let rows = blocking(move || c.metagraph(netuid)).await?;
        let targets = serving(&rows, &me);
        let hotkeys: BTreeMap<u16, Address> = rows.iter().map(|r| (r.uid, r.hotkey)).collect();
        self.board.retain_current(&hotkeys);
        let kind = self.spec.kind;
        let started = std::time::Instant::now();
        let challenge = blocking(move || {
            taochain_tasks::challenge(kind, &mut rand::rngs::OsRng)
                .map_err(|e| NeuronError::Task(e.to_string()))
        })
        .await?;
        let challenge_time = started.elapsed();
        let timeout = Duration::from_millis(u64::from(self.spec.challenge_timeout_ms));
        let replies = self
            .dendrite
            .query_all(kind, &challenge.input, &targets, timeout)
            .await;
        let rows = score_round(
            &self.spec,
            &challenge.truth,
            &replies,
            &hotkeys,
            &mut self.board,
        );
        let c = self.chain.clone();
        let (s, height) = blocking(move || Ok((c.subnet(netuid)?, c.height()?))).await?;
        let (chain, key, board) = (self.chain.clone(), self.key.clone(), self.board.clone());
        let mut setter = std::mem::take(&mut self.weights);
        let (setter, weights) = blocking(move || {
            let line = setter.tick(&chain, &key, netuid, &s, height, &board);
            Ok((setter, line))
        })
        .await?;
        self.weights = setter;
        // A refused weights transaction (rate limit, a node hiccup) is reported, not fatal:
        // the next tempo tries again.
        let weights = weights.unwrap_or_else(|e| Some(format!("weights not set: {e}")));
        Ok(Round {
            rows,
            challenge_time,
            weights,
        })
    }
}

/// Runs blocking chain work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NeuronError> + Send + 'static,
) -> Result<T, NeuronError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NeuronError::Chain(format!("blocking task: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_smooth_reset_on_a_new_hotkey_and_weigh_the_best_highest() {
        let (a, b) = (Address([1; 20]), Address([2; 20]));
        let mut board = Scoreboard::new(500_000);
        board.record(1, a, 1_000_000);
        board.record(2, b, 200_000);
        board.record(1, a, 0);
        assert_eq!(board.average(1), Some(500_000));
        assert_eq!(board.average(2), Some(200_000));
        let (uids, values) = board.weights();
        assert_eq!(uids, vec![1, 2]);
        assert_eq!(
            values,
            vec![u16::MAX, (200_000u64 * 65_535 / 500_000) as u16]
        );
        board.record(2, a, 0);
        assert_eq!(board.average(2), Some(0), "a new hotkey starts over");
        assert_eq!(board.weights().0, vec![1]);
        assert_eq!(Scoreboard::new(1).weights(), (vec![], vec![]));
        // UID 1 changed hands: its average goes with it.
        board.retain_current(&BTreeMap::from([(1, b), (2, a)]));
        assert_eq!(board.average(1), None);
        assert_eq!(board.average(2), Some(0));
    }
}
