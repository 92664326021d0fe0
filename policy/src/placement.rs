//! Which node serves a function: its *home*, so each function is warm on one node and the
//! cluster holds about one copy of its code.
//!
//! The rule, for function `f` and the members a node currently sees:
//!
//! 1. **Active set** (consolidation): the ready members in *node order* (by the number an id ends
//!    in, then by text: `wasmgate-2` before `wasmgate-10`, StatefulSet ordinals first), cut to the
//!    first `k = clamp(max(ceil(total load / node_capacity), ceil(total memory demand / node
//!    budget)), 1, ready)`. At low load every function is homed on the first node; the rest stay
//!    idle and can be scaled in (a StatefulSet removes the highest ordinals first). `k` is also
//!    the autoscaling signal ([`Placement::nodes_needed`]).
//! 2. **Rendezvous order** (Thaler & Ravishankar's highest-random-weight hashing): rank the active
//!    members by `xxh3(node id ‖ 0 ‖ f)`, highest first. Only a removed node's functions move.
//! 3. **Bounded loads** (Mirrokni, Thorup & Zadimoghaddam, "Consistent Hashing with Bounded
//!    Loads", SODA 2018): the home is the first member in that order whose load is below
//!    `cap = balance_factor × (active load + 1) / k` (the `+ 1` is the call being placed), so no
//!    node takes more than `balance_factor` times the mean; when every active member is at its
//!    cap, the rest of the ready members are tried in the same order; when all are, there is no
//!    home and the caller serves locally.
//!
//! Draining members are never a home. Loads are what members last reported (calls in flight,
//! averaged over a heartbeat); views may differ between nodes for a heartbeat, which costs at most
//! one extra hop or cold start, never an error.

use std::cmp::Ordering;
use xxhash_rust::xxh3::xxh3_64;

/// Whether a member takes new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    /// Serving and taking work.
    Ready,
    /// Leaving: finishes what it has, takes nothing new.
    Draining,
}

/// One node as the placement sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The node id (unique in the cluster).
    pub id: String,
    /// Calls in flight, averaged over the last heartbeat interval (≥ 0).
    pub load: f64,
    /// Whether it takes work.
    pub state: MemberState,
    /// What its keep-alive policy wants resident, against its memory budget.
    pub memory: Memory,
}

/// A node's memory as its keep-alive policy sees it, in bytes: what the policy wants resident
/// ([`Residency::demand`](crate::keepalive::Residency::demand): held, plus what the budget
/// evicted before its keep-alive ended) and the budget it holds it in. Zero budget: not reported
/// (a node of an older version), left out of the memory side of [`Placement::nodes_needed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Bytes the keep-alive policy wants resident.
    pub demand: u64,
    /// The node's byte budget for resident functions (`[pool] code_budget`).
    pub budget: u64,
}

/// The placement rule's parameters (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// `1 + ε`: no node is home above this times the mean load (≥ 1).
    pub balance_factor: f64,
    /// Calls in flight one node is sized for (> 0): sizes the active set.
    pub node_capacity: f64,
}

impl Placement {
    /// How many nodes the reported load needs, at least 1 (the signal an autoscaler scales the
    /// cluster to): the larger of [`nodes_for_calls`](Placement::nodes_for_calls) and
    /// [`nodes_for_memory`](Placement::nodes_for_memory).
    pub fn nodes_needed(&self, members: &[Member]) -> usize {
        self.nodes_for_calls(members)
            .max(Self::nodes_for_memory(members))
    }

    /// Nodes the calls in flight need: `ceil(total load / node_capacity)`, at least 1.
    pub fn nodes_for_calls(&self, members: &[Member]) -> usize {
        let total: f64 = members.iter().map(|m| m.load.max(0.0)).sum();
        let capacity = self.node_capacity.max(f64::MIN_POSITIVE);
        at_least_one((total / capacity).ceil())
    }

    /// Nodes the keep-alive policy's memory demand needs: `ceil(total demand / budget)` with
    /// the smallest budget a member reports (conservative for mixed node sizes), at least 1;
    /// 1 when no member reports a budget. Memory rather than calls decides when many functions
    /// are each rarely busy but worth keeping warm (FaaSCache's view: keep-alive is caching, and
    /// a cache that evicts what it would keep is too small).
    pub fn nodes_for_memory(members: &[Member]) -> usize {
        let demand: u64 = members.iter().map(|m| m.memory.demand).sum();
        let budget = members
            .iter()
            .map(|m| m.memory.budget)
            .filter(|&b| b > 0)
            .min();
        match budget {
            Some(budget) => at_least_one((demand as f64 / budget as f64).ceil()),
            None => 1,
        }
    }

    /// The ready members in node order (see [`node_order`]).
    fn ready(members: &[Member]) -> Vec<&Member> {
        let mut ready: Vec<&Member> = members
            .iter()
            .filter(|m| m.state == MemberState::Ready)
            .collect();
        ready.sort_by(|a, b| node_order(&a.id, &b.id));
        ready
    }

    /// The active set: the first `nodes_needed` ready members in node order.
    pub fn active<'a>(&self, members: &'a [Member]) -> Vec<&'a Member> {
        let mut ready = Self::ready(members);
        let k = self.nodes_needed(members).clamp(1, ready.len().max(1));
        ready.truncate(k);
        ready
    }

    /// The home of `function` among `members`, or `None` when no member is ready and under its
    /// cap (the caller then serves the call itself).
    pub fn home<'a>(&self, function: &str, members: &'a [Member]) -> Option<&'a Member> {
        let ready = Self::ready(members);
        if ready.is_empty() {
            return None;
        }
        let k = self.nodes_needed(members).clamp(1, ready.len());
        let (active, rest) = ready.split_at(k);
        let active_load: f64 = active.iter().map(|m| m.load.max(0.0)).sum();
        let cap = self.balance_factor.max(1.0) * (active_load + 1.0) / k as f64;
        let first_under_cap = |set: &[&'a Member]| {
            rendezvous(function, set)
                .into_iter()
                .find(|m| m.load < cap)
                .copied()
        };
        first_under_cap(active).or_else(|| first_under_cap(rest))
    }
}

/// `needed` as a count, at least 1; saturates, so an absurd load still yields a number, not a
/// wrap-around.
fn at_least_one(needed: f64) -> usize {
    if needed.is_finite() && needed >= 1.0 {
        needed.min(u32::MAX as f64) as usize
    } else {
        1
    }
}

/// `members` ranked for `function` by highest random weight, best first; ties (equal hashes)
/// broken by node order so every node ranks alike.
fn rendezvous<'a, 'b>(function: &str, members: &'b [&'a Member]) -> Vec<&'b &'a Member> {
    let mut ranked: Vec<(u64, &&Member)> = members
        .iter()
        .map(|m| (weight(&m.id, function), m))
        .collect();
    ranked.sort_by(|(wa, a), (wb, b)| wb.cmp(wa).then_with(|| node_order(&a.id, &b.id)));
    ranked.into_iter().map(|(_, m)| m).collect()
}

/// The rendezvous weight of `node` for `function`: xxh3-64 (a fixed, documented hash, so every
/// node and version computes the same) of the node id, a zero byte and the function name.
pub fn weight(node: &str, function: &str) -> u64 {
    let mut key = Vec::with_capacity(node.len() + 1 + function.len());
    key.extend_from_slice(node.as_bytes());
    key.push(0);
    key.extend_from_slice(function.as_bytes());
    xxh3_64(&key)
}

/// Node order: by the decimal number an id ends in (ids without one come after those with one),
/// then by the whole id, so `wasmgate-2` < `wasmgate-10` < `other`.
pub fn node_order(a: &str, b: &str) -> Ordering {
    match (ordinal(a), ordinal(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// The number `id` ends in, if it ends in digits (at most 18 of them are read).
fn ordinal(id: &str) -> Option<u64> {
    let digits = id.len() - id.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 18 {
        return None;
    }
    id[id.len() - digits..].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RULE: Placement = Placement {
        balance_factor: 1.25,
        node_capacity: 64.0,
    };

    fn members(loads: &[f64]) -> Vec<Member> {
        loads
            .iter()
            .enumerate()
            .map(|(i, &load)| Member {
                id: format!("wasmgate-{i}"),
                load,
                state: MemberState::Ready,
                memory: Memory::default(),
            })
            .collect()
    }

    #[test]
    fn at_low_load_every_function_is_homed_on_the_first_node() {
        let view = members(&[0.0, 3.0, 0.5]);
        for f in ["a", "b", "hello", "resize-image", "x1"] {
            assert_eq!(
                RULE.home(f, &view).map(|m| m.id.as_str()),
                Some("wasmgate-0")
            );
        }
        assert_eq!(RULE.nodes_needed(&view), 1);
    }

    #[test]
    fn memory_demand_past_one_budget_grows_the_active_set_at_low_load() {
        const GIB: u64 = 1 << 30;
        let mut view = members(&[1.0, 0.0, 0.0]);
        // Node 0 wants 10 GiB resident in its 4 GiB, the others nothing: 3 nodes' worth.
        let budgets = [(10 * GIB, 4 * GIB), (0, 4 * GIB), (0, 4 * GIB)];
        for (member, (demand, budget)) in view.iter_mut().zip(budgets) {
            member.memory = Memory { demand, budget };
        }
        assert_eq!(RULE.nodes_for_calls(&view), 1);
        assert_eq!(Placement::nodes_for_memory(&view), 3);
        assert_eq!(RULE.nodes_needed(&view), 3);
        assert_eq!(RULE.active(&view).len(), 3);
        // The smallest budget counts; members that report none are left out.
        view[2].memory.budget = 2 * GIB;
        assert_eq!(Placement::nodes_for_memory(&view), 5);
        view[2].memory.budget = 0;
        assert_eq!(Placement::nodes_for_memory(&view), 3);
        // Calls decide when they need more.
        view[0].load = 500.0;
        assert_eq!(RULE.nodes_needed(&view), 8);
    }

    #[test]
    fn without_reported_budgets_memory_asks_for_one_node() {
        let mut view = members(&[0.0, 0.0]);
        view[0].memory.demand = u64::MAX;
        assert_eq!(Placement::nodes_for_memory(&view), 1);
        assert_eq!(RULE.nodes_needed(&view), 1);
    }

    #[test]
    fn node_order_puts_statefulset_ordinals_first_numerically() {
        let mut ids = vec!["b", "wasmgate-10", "a", "wasmgate-2", "wasmgate-0"];
        ids.sort_by(|a, b| node_order(a, b));
        assert_eq!(ids, ["wasmgate-0", "wasmgate-2", "wasmgate-10", "a", "b"]);
    }

    #[test]
    fn as_load_grows_the_active_set_grows_and_spreads_functions() {
        // 150 calls in flight over 64 per node: three nodes needed.
        let view = members(&[50.0, 50.0, 50.0, 0.0]);
        assert_eq!(RULE.nodes_needed(&view), 3);
        let mut homes = std::collections::BTreeSet::new();
        for i in 0..200 {
            let home = RULE.home(&format!("f{i}"), &view).unwrap();
            homes.insert(home.id.clone());
        }
        assert_eq!(
            homes.into_iter().collect::<Vec<_>>(),
            ["wasmgate-0", "wasmgate-1", "wasmgate-2"],
            "the fourth node is outside the active set"
        );
    }

    #[test]
    fn a_member_over_the_cap_is_skipped_and_draining_members_are_never_home() {
        // Active set of 2; wasmgate-0 carries far more than 1.25 × the mean.
        let mut view = members(&[120.0, 1.0]);
        assert_eq!(RULE.nodes_needed(&view), 2);
        for i in 0..50 {
            let f = format!("f{i}");
            assert_eq!(RULE.home(&f, &view).unwrap().id, "wasmgate-1", "{f}");
        }
        view[1].state = MemberState::Draining;
        view[0].load = 0.0;
        assert_eq!(RULE.home("f", &view).unwrap().id, "wasmgate-0");
        view[0].state = MemberState::Draining;
        assert_eq!(RULE.home("f", &view), None, "nobody ready: serve locally");
    }

    #[test]
    fn removing_a_node_moves_only_its_own_functions() {
        let rule = Placement {
            node_capacity: 1.0,
            ..RULE
        };
        let view = members(&[1.0, 1.0, 1.0, 1.0]);
        let before: Vec<String> = (0..300)
            .map(|i| rule.home(&format!("f{i}"), &view).unwrap().id.clone())
            .collect();
        let mut smaller = view.clone();
        smaller.remove(2);
        smaller[2].load = 2.0; // keep the total, so the active set still holds every member
        for (i, old) in before.iter().enumerate() {
            let new = &rule.home(&format!("f{i}"), &smaller).unwrap().id;
            if old != "wasmgate-2" {
                assert_eq!(new, old, "f{i} moved though its home stayed");
            }
        }
    }

    proptest! {
        #[test]
        fn every_node_computes_the_same_home_whatever_order_it_lists_members_in(
            loads in proptest::collection::vec(0.0f64..100.0, 1..8),
            function in "[a-z][a-z0-9-]{0,20}",
            seed in any::<u64>(),
        ) {
            let view = members(&loads);
            let mut shuffled = view.clone();
            let n = shuffled.len();
            shuffled.rotate_left((seed as usize) % n);
            let a = RULE.home(&function, &view).map(|m| m.id.clone());
            let b = RULE.home(&function, &shuffled).map(|m| m.id.clone());
            prop_assert_eq!(a, b);
        }

        #[test]
        fn the_home_is_never_above_the_bounded_load_cap_of_its_set(
            loads in proptest::collection::vec(0.0f64..200.0, 1..8),
            function in "[a-z]{1,12}",
        ) {
            let view = members(&loads);
            if let Some(home) = RULE.home(&function, &view) {
                let k = RULE.active(&view).len();
                let active_load: f64 = RULE.active(&view).iter().map(|m| m.load).sum();
                let active_cap = RULE.balance_factor * (active_load + 1.0) / k as f64;
                prop_assert!(home.load < active_cap);
            }
        }
    }
}
