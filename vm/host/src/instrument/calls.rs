//! Which calls the call-depth meter must wrap, and what each wrapped call charges.
//!
//! A function is *bounded* when everything it can call is known and finite: it makes no
//! `call_indirect`, it is in no cycle of the call graph, and every function it calls is
//! bounded (host imports are, with a frame cost of 1). The *total* of a bounded function is
//! the most frame cost its call tree can hold at once: its own frame plus the largest total
//! of its callees. A call to a bounded function whose total is at most [`MAX_FREE_COST`]
//! is *free*: it is not wrapped, because whoever charged for its caller charged for it too.
//! Every other call is wrapped and charges the callee's frame plus the largest total of the
//! callee's free callees; a `call_indirect` charges the largest such charge of any function.
//!
//! So the stack the counter does not see is at most the entry's frame plus
//! [`MAX_FREE_COST`], and everything else is counted, as before, on every build alike.
//! Rust code at `opt-level = "s"` calls many small helpers (borsh readers, `memcpy`, host
//! shims) that call nothing unbounded: their calls now cost nothing to meter.

/// The most frame cost a call tree may have and still be called unwrapped.
pub const MAX_FREE_COST: u32 = 1_024;

/// Per function (imports first): `None` for a free call, else what a call to it charges.
pub struct CallPlan {
    /// Indexed by function index.
    pub charge: Vec<Option<u32>>,
    /// What a `call_indirect` charges.
    pub indirect: u32,
}

/// The call graph of a module: every function's frame cost (imports first, cost 1), and
/// for each defined function the functions it calls directly and whether it calls
/// indirectly.
#[derive(Default)]
pub struct CallGraph {
    /// Frame cost per function index.
    pub frames: Vec<u32>,
    /// Imported functions (the first indices).
    pub imports: u32,
    /// Direct callees per defined function.
    pub callees: Vec<Vec<u32>>,
    /// Whether each defined function has a `call_indirect`.
    pub indirect: Vec<bool>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    Open,
    Done,
}

impl CallGraph {
    fn callees_of(&self, f: u32) -> &[u32] {
        f.checked_sub(self.imports)
            .and_then(|d| self.callees.get(d as usize))
            .map_or(&[], Vec::as_slice)
    }

    fn calls_indirectly(&self, f: u32) -> bool {
        f.checked_sub(self.imports)
            .and_then(|d| self.indirect.get(d as usize))
            .copied()
            .unwrap_or(false)
    }

    fn frame(&self, f: u32) -> u32 {
        self.frames.get(f as usize).copied().unwrap_or(u32::MAX)
    }

    /// Totals of the bounded functions (`None`: unbounded), by an iterative depth-first
    /// walk (a module may chain thousands of functions).
    fn totals(&self) -> Vec<Option<u32>> {
        let n = self.frames.len();
        let mut mark = vec![Mark::New; n];
        let mut total: Vec<Option<u32>> = vec![None; n];
        for root in 0..n as u32 {
            if mark[root as usize] != Mark::New {
                continue;
            }
            // (function, next callee to visit, bounded so far, largest callee total)
            let mut stack = vec![(root, 0usize, !self.calls_indirectly(root), 0u32)];
            mark[root as usize] = Mark::Open;
            while let Some(top) = stack.last_mut() {
                let (f, next) = (top.0, top.1);
                match self.callees_of(f).get(next).copied() {
                    Some(g) => {
                        top.1 += 1;
                        match mark.get(g as usize).copied() {
                            // A call back into the open path: a cycle.
                            Some(Mark::Open) | None => top.2 = false,
                            Some(Mark::Done) => match total[g as usize] {
                                Some(t) => top.3 = top.3.max(t),
                                None => top.2 = false,
                            },
                            Some(Mark::New) => {
                                mark[g as usize] = Mark::Open;
                                stack.push((g, 0, !self.calls_indirectly(g), 0));
                            }
                        }
                    }
                    None => {
                        let (f, _, bounded, deepest) = *top;
                        stack.pop();
                        mark[f as usize] = Mark::Done;
                        let t = bounded.then(|| self.frame(f).saturating_add(deepest));
                        total[f as usize] = t;
                        if let Some(parent) = stack.last_mut() {
                            match t {
                                Some(t) => parent.3 = parent.3.max(t),
                                None => parent.2 = false,
                            }
                        }
                    }
                }
            }
        }
        total
    }

    /// Which calls to wrap and what they charge.
    pub fn plan(&self) -> CallPlan {
        let total = self.totals();
        let free = |g: u32| {
            total
                .get(g as usize)
                .copied()
                .flatten()
                .filter(|t| *t <= MAX_FREE_COST)
        };
        let charge: Vec<Option<u32>> = (0..self.frames.len() as u32)
            .map(|f| match free(f) {
                Some(_) => None,
                None => {
                    let deepest_free = self
                        .callees_of(f)
                        .iter()
                        .filter_map(|g| free(*g))
                        .max()
                        .unwrap_or(0);
                    Some(self.frame(f).saturating_add(deepest_free))
                }
            })
            .collect();
        // An indirect call may reach any function, free or not: charge the most any
        // function's tree can hold unwrapped below a wrapped call to it.
        let indirect = (0..self.frames.len() as u32)
            .map(|f| match charge[f as usize] {
                Some(c) => c,
                None => free(f).unwrap_or(0),
            })
            .max()
            .unwrap_or(1);
        CallPlan { charge, indirect }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(frames: &[u32], imports: u32, callees: &[&[u32]], indirect: &[bool]) -> CallGraph {
        CallGraph {
            frames: frames.to_vec(),
            imports,
            callees: callees.iter().map(|c| c.to_vec()).collect(),
            indirect: indirect.to_vec(),
        }
    }

    #[test]
    fn leaves_and_acyclic_trees_are_free_cycles_and_indirect_callers_are_not() {
        // 0: import; 1 calls 2 and 0; 2 is a leaf; 3 calls itself; 4 calls 3; 5 calls
        // indirectly; 6 calls 1.
        let g = graph(
            &[1, 5, 7, 4, 3, 6, 2],
            1,
            &[&[2, 0], &[], &[3], &[3], &[], &[1]],
            &[false, false, false, false, true, false],
        );
        let plan = g.plan();
        assert_eq!(plan.charge[0], None, "host imports are free");
        assert_eq!(plan.charge[2], None, "a leaf is free");
        assert_eq!(plan.charge[1], None, "a tree of free calls is free");
        assert_eq!(plan.charge[6], None);
        assert_eq!(
            plan.charge[3],
            Some(4),
            "recursion is wrapped: its own frame"
        );
        assert_eq!(plan.charge[4], Some(3), "reaching a cycle is wrapped");
        assert_eq!(plan.charge[5], Some(6), "an indirect caller is wrapped");
        // The largest unwrapped tree: 6 -> 1 -> 2 = 2 + 5 + 7.
        assert_eq!(plan.indirect, 14);
    }

    #[test]
    fn a_free_tree_stops_at_the_cap_and_wrapped_calls_charge_their_free_callees() {
        // A chain 1 -> 2 -> ... -> 100 of frames of 20: totals grow by 20 per level.
        let n = 100u32;
        let frames = std::iter::once(1)
            .chain((1..=n).map(|_| 20))
            .collect::<Vec<_>>();
        let callees: Vec<Vec<u32>> = (1..=n)
            .map(|f| if f < n { vec![f + 1] } else { vec![] })
            .collect();
        let refs: Vec<&[u32]> = callees.iter().map(Vec::as_slice).collect();
        let g = graph(&frames, 1, &refs, &vec![false; n as usize]);
        let plan = g.plan();
        // Function f's total is 20 * (n - f + 1): free up to 1024, i.e. the last 51.
        let first_free = n - MAX_FREE_COST / 20 + 1;
        assert_eq!(plan.charge[first_free as usize], None);
        assert_eq!(
            plan.charge[first_free as usize - 1],
            Some(20 + 20 * (MAX_FREE_COST / 20)),
            "a wrapped call charges its frame plus its free callee's whole tree"
        );
        assert!(
            plan.charge[1..first_free as usize]
                .iter()
                .all(Option::is_some)
        );
    }

    #[test]
    fn deep_chains_do_not_recurse_natively() {
        let n = 10_000u32;
        let frames = vec![2; n as usize];
        let callees: Vec<Vec<u32>> = (0..n)
            .map(|f| if f + 1 < n { vec![f + 1] } else { vec![0] })
            .collect();
        let refs: Vec<&[u32]> = callees.iter().map(Vec::as_slice).collect();
        let plan = graph(&frames, 0, &refs, &vec![false; n as usize]).plan();
        assert!(plan.charge.iter().all(|c| *c == Some(2)), "one big cycle");
    }
}
