//! Which miners a gateway asks and whose answer it returns. Miners serving an axon are
//! ranked by the weight the gateway's own validator hotkey last set for them on chain (its
//! scores; a weight set before the UID's holder registered was meant for the neuron it
//! replaced and counts for nothing), then by the metagraph's incentive (the fallback when
//! it has set none), then by UID; the top k are asked. Of their answers, the one most of them agree on (equal after
//! the metric's normalisation, at least two) wins, from its top-ranked miner; with no
//! agreement the top-ranked miner's answer is returned.

use std::collections::BTreeMap;

use taochain_primitives::Address;
use taochain_primitives::subnet::MetagraphRow;

use crate::dendrite::Target;

/// The serving miners of `rows` except `me`, best first by `my_weights` (`(uid, value)`,
/// set at my row's `last_update`: only for holders registered before it), then incentive,
/// then UID.
pub fn rank(rows: &[MetagraphRow], my_weights: &[(u16, u16)], me: &Address) -> Vec<Target> {
    let weight: BTreeMap<u16, u16> = my_weights.iter().copied().collect();
    let set_at = rows
        .iter()
        .find(|r| r.hotkey == *me)
        .map_or(0, |r| r.last_update);
    let mut ranked: Vec<(&MetagraphRow, u16)> = rows
        .iter()
        .filter(|r| r.hotkey != *me && r.axon.is_some())
        .map(|r| {
            let w = if r.registered_at < set_at {
                weight.get(&r.uid).copied().unwrap_or(0)
            } else {
                0
            };
            (r, w)
        })
        .collect();
    ranked.sort_by(|(a, wa), (b, wb)| {
        wb.cmp(wa)
            .then(b.incentive.cmp(&a.incentive))
            .then(a.uid.cmp(&b.uid))
    });
    ranked
        .into_iter()
        .filter_map(|(r, _)| {
            r.axon.as_ref().map(|a| Target {
                uid: r.uid,
                hotkey: r.hotkey,
                endpoint: a.endpoint.clone(),
            })
        })
        .collect()
}

/// The answer chosen among replies in rank order (`None`: that miner failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Index of the returned reply.
    pub index: usize,
    /// How many replies agree with it (1 when none do).
    pub agreed: u32,
    /// How many replies there were.
    pub answered: u32,
}

/// Chooses the answer: the largest group of at least two equal (normalised) answers, ties
/// to the group with the better-ranked member; else the best-ranked non-empty answer; else
/// the best-ranked answer. `None` when nobody answered. Two empty answers agree: miners
/// the validator ranks well saying "nothing here" outweigh one saying something else.
pub fn choose(replies: &[Option<&str>]) -> Option<Choice> {
    let answered = replies.iter().flatten().count() as u32;
    let mut groups: BTreeMap<Vec<String>, (usize, u32)> = BTreeMap::new();
    for (i, r) in replies.iter().enumerate() {
        let Some(text) = r else { continue };
        let key = taochain_tasks::normalize(text);
        let g = groups.entry(key).or_insert((i, 0));
        g.1 += 1;
    }
    let best = groups
        .values()
        .filter(|g| g.1 >= 2)
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
    if let Some(&(index, agreed)) = best {
        return Some(Choice {
            index,
            agreed,
            answered,
        });
    }
    let first_real = replies
        .iter()
        .position(|r| r.is_some_and(|t| !taochain_tasks::normalize(t).is_empty()));
    let index = first_real.or_else(|| replies.iter().position(Option::is_some))?;
    Some(Choice {
        index,
        agreed: 1,
        answered,
    })
}

#[cfg(test)]
mod tests {
    use taochain_primitives::axon::AxonInfo;

    use super::*;

    fn row(uid: u16, incentive: u16, serving: bool) -> MetagraphRow {
        MetagraphRow {
            uid,
            hotkey: Address([uid as u8 + 1; 20]),
            coldkey: Address::default(),
            stake: 0,
            permit: false,
            active: true,
            consensus: 0,
            incentive,
            dividends: 0,
            trust: 0,
            emission: 0,
            last_update: 0,
            registered_at: 0,
            axon: serving.then(|| AxonInfo {
                endpoint: format!("http://127.0.0.1:{}", 9000 + uid),
                protocol: 1,
                block: 1,
            }),
        }
    }

    #[test]
    fn miners_rank_by_my_weights_then_incentive_then_uid() {
        let mut rows = [
            row(0, 0, true),
            row(1, 500, true),
            row(2, 900, true),
            row(3, 100, false),
            row(4, 900, true),
        ];
        let uids = |t: Vec<Target>| t.iter().map(|t| t.uid).collect::<Vec<_>>();
        // No weights of mine: the metagraph's incentive decides, UID breaks ties.
        assert_eq!(uids(rank(&rows, &[], &Address([99; 20]))), [2, 4, 1, 0]);
        // My weights (set at block 10, UID 4's) first; the non-serving UID 3 is never
        // asked; I never ask myself.
        rows[4].last_update = 10;
        let mine = [(0, 100), (1, 65_535), (3, 65_535)];
        assert_eq!(uids(rank(&rows, &mine, &Address([5; 20]))), [1, 0, 2]);
        // UID 1's holder registered at block 10: my weight was for the one it replaced.
        rows[1].registered_at = 10;
        assert_eq!(uids(rank(&rows, &mine, &Address([5; 20]))), [0, 2, 1]);
    }

    #[test]
    fn the_answer_most_agree_on_wins_else_the_top_ranked() {
        let c = |r: &[Option<&str>]| choose(r).map(|c| (c.index, c.agreed, c.answered));
        assert_eq!(
            c(&[Some("a cat"), Some("A cat."), Some("a dog")]),
            Some((0, 2, 3))
        );
        assert_eq!(
            c(&[Some("a dog"), Some("a cat"), Some("a  cat")]),
            Some((1, 2, 3))
        );
        assert_eq!(c(&[Some("x"), Some("y"), Some("z")]), Some((0, 1, 3)));
        assert_eq!(c(&[None, Some("y"), Some("z")]), Some((1, 1, 2)));
        // Two empty answers agree; with no agreement a real answer beats an empty one.
        assert_eq!(c(&[Some(""), Some("..."), Some("hi")]), Some((0, 2, 3)));
        assert_eq!(c(&[Some(""), Some("hi"), Some("ho")]), Some((1, 1, 3)));
        assert_eq!(c(&[Some(""), None]), Some((0, 1, 1)));
        assert_eq!(c(&[None, None]), None);
        // Ties between groups go to the better-ranked one.
        assert_eq!(
            c(&[Some("b"), Some("a"), Some("a"), Some("b")]),
            Some((0, 2, 4))
        );
    }
}
