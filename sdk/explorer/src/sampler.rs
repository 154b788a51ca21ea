//! What the explorer remembers as the chain runs (the chain keeps no such history): block
//! arrival times (the block interval), total issuance per observed height, and each
//! subnet's incentive per UID at each epoch. Bounded: [`KEEP`] samples of each.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::views::Source;

/// Samples kept of each series (and epochs per subnet).
pub const KEEP: usize = 600;

/// Epochs of incentive history kept per subnet.
pub const EPOCHS: usize = 50;

/// One subnet's incentive history.
#[derive(Default)]
struct Subnet {
    registered_at: u64,
    last_epoch: u64,
    epochs: VecDeque<u64>,
    /// uid -> incentive at each epoch in `epochs` (None: no such UID then).
    incentive: BTreeMap<u16, VecDeque<Option<u16>>>,
}

#[derive(Default)]
struct Samples {
    arrivals: VecDeque<(u64, Instant)>,
    issuance: VecDeque<(u64, u64)>,
    subnets: BTreeMap<u16, Subnet>,
}

/// The sampler's memory.
#[derive(Default)]
pub struct Sampler {
    samples: Mutex<Samples>,
}

impl Sampler {
    /// Polls `source` every `every`; on each new height records its arrival and issuance,
    /// and each subnet's incentives when it had an epoch.
    pub async fn run(self: Arc<Self>, source: Arc<Source>, every: Duration) {
        let mut last = 0u64;
        loop {
            let (me, s) = (Arc::clone(&self), Arc::clone(&source));
            let seen = tokio::task::spawn_blocking(move || me.sample(&s, last)).await;
            if let Ok(Some(h)) = seen {
                last = h;
            }
            tokio::time::sleep(every).await;
        }
    }

    /// One poll; the height if it was new.
    fn sample(&self, source: &Source, last: u64) -> Option<u64> {
        let h = source.height().ok()?;
        if h == last {
            return None;
        }
        let issuance = source.issuance().ok()?;
        let views = source.subnet_views().ok().unwrap_or_default();
        let mut fresh = vec![];
        if let Ok(s) = self.samples.lock() {
            for v in &views {
                let known = s.subnets.get(&v.netuid);
                if known.is_none_or(|k| {
                    k.last_epoch != v.info.last_epoch || k.registered_at != v.info.registered_at
                }) {
                    fresh.push((v.netuid, v.info.registered_at, v.info.last_epoch));
                }
            }
        }
        let rows: Vec<_> = fresh
            .into_iter()
            .filter_map(|(n, reg, epoch)| Some((n, reg, epoch, source.metagraph_rows(n).ok()?)))
            .collect();
        let mut s = self.samples.lock().ok()?;
        push(&mut s.arrivals, (h, Instant::now()), KEEP);
        push(&mut s.issuance, (h, issuance), KEEP);
        s.subnets
            .retain(|n, _| views.iter().any(|v| v.netuid == *n));
        for (n, reg, epoch, rows) in rows {
            let sub = s.subnets.entry(n).or_default();
            if sub.registered_at != reg {
                *sub = Subnet {
                    registered_at: reg,
                    ..Subnet::default()
                };
            }
            sub.last_epoch = epoch;
            record_epoch(sub, epoch, rows.iter().map(|r| (r.uid, r.incentive)));
        }
        Some(h)
    }

    /// Milliseconds per block over the samples of the last minute (0 before two).
    pub fn block_interval_ms(&self) -> u64 {
        let Ok(s) = self.samples.lock() else {
            return 0;
        };
        let recent: Vec<&(u64, Instant)> = s
            .arrivals
            .iter()
            .filter(|(_, t)| t.elapsed() < Duration::from_secs(60))
            .collect();
        match (recent.first(), recent.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => {
                (b.1.duration_since(a.1).as_millis() as u64) / (b.0 - a.0)
            }
            _ => 0,
        }
    }

    /// `[[height, issuance_rao], ...]`.
    pub fn issuance_json(&self) -> Value {
        let s = self.samples.lock().ok();
        let points: Vec<Value> = s
            .map(|s| {
                s.issuance
                    .iter()
                    .map(|(h, i)| json!([h, i.to_string()]))
                    .collect()
            })
            .unwrap_or_default();
        Value::Array(points)
    }

    /// `{epochs: [block...], incentive: {uid: [u16 or null...]}}` of `netuid`.
    pub fn history_json(&self, netuid: u16) -> Value {
        let s = self.samples.lock().ok();
        let Some(sub) = s.as_ref().and_then(|s| s.subnets.get(&netuid)) else {
            return json!({"epochs": [], "incentive": {}});
        };
        let incentive: BTreeMap<String, Vec<Option<u16>>> = sub
            .incentive
            .iter()
            .map(|(u, v)| (u.to_string(), v.iter().copied().collect()))
            .collect();
        json!({"epochs": sub.epochs, "incentive": incentive})
    }
}

fn push<T>(q: &mut VecDeque<T>, v: T, keep: usize) {
    q.push_back(v);
    while q.len() > keep {
        q.pop_front();
    }
}

/// Appends an epoch: every known UID gets a value (None if absent), new UIDs are padded.
fn record_epoch(sub: &mut Subnet, epoch: u64, rows: impl Iterator<Item = (u16, u16)>) {
    let now: BTreeMap<u16, u16> = rows.collect();
    let before = sub.epochs.len();
    for uid in now.keys() {
        sub.incentive
            .entry(*uid)
            .or_insert_with(|| VecDeque::from(vec![None; before]));
    }
    for (uid, series) in sub.incentive.iter_mut() {
        series.push_back(now.get(uid).copied());
    }
    sub.epochs.push_back(epoch);
    if sub.epochs.len() > EPOCHS {
        sub.epochs.pop_front();
        for series in sub.incentive.values_mut() {
            series.pop_front();
        }
    }
    sub.incentive.retain(|_, s| s.iter().any(Option::is_some));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_pad_new_and_gone_uids_and_stay_bounded() {
        let mut sub = Subnet::default();
        record_epoch(&mut sub, 10, [(0, 5)].into_iter());
        record_epoch(&mut sub, 20, [(0, 6), (1, 7)].into_iter());
        record_epoch(&mut sub, 30, [(1, 8)].into_iter());
        assert_eq!(sub.epochs, [10, 20, 30]);
        assert_eq!(sub.incentive[&0], [Some(5), Some(6), None]);
        assert_eq!(sub.incentive[&1], [None, Some(7), Some(8)]);
        for e in 0..(EPOCHS as u64 + 5) {
            record_epoch(&mut sub, 100 + e, [(1, 1)].into_iter());
        }
        assert_eq!(sub.epochs.len(), EPOCHS);
        assert!(sub.incentive.values().all(|s| s.len() == EPOCHS));
        assert!(
            !sub.incentive.contains_key(&0),
            "a UID gone for the whole window"
        );
    }
}
