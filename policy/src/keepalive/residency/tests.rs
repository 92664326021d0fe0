use super::*;
use crate::keepalive::KeepAlivePolicy;
use crate::keepalive::{LayerCost, Pattern};
use proptest::prelude::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const GD: EvictionRule = EvictionRule {
    order: Order::GreedyDual,
    layered: false,
};
const LAYERED: EvictionRule = EvictionRule {
    order: Order::GreedyDual,
    layered: true,
};
const LRU: EvictionRule = EvictionRule {
    order: Order::Lru,
    layered: false,
};

/// Layers of `code`, `linked`, `instances` bytes restored in 600, 100, 100 µs.
fn footprint(code: u64, linked: u64, instances: u64) -> Footprint {
    let layer = |bytes, micros| LayerCost {
        bytes,
        restore: Duration::from_micros(micros),
    };
    Footprint {
        code: layer(code, 600),
        linked: layer(linked, 100),
        instances: layer(instances, 100),
    }
}

/// Functions 0, 1, 2, …: their patterns, and a residency driven like a node drives it.
struct Node {
    patterns: Vec<Pattern>,
    residency: Residency<usize>,
    policy: KeepAlivePolicy,
}

impl Node {
    fn new(budget: u64, rule: EvictionRule, policy: &str) -> Self {
        Node {
            patterns: (0..8).map(|_| Pattern::default()).collect(),
            residency: Residency::new(budget, rule),
            policy: policy.parse().unwrap(),
        }
    }

    /// A call of `f` from `start` to `end` seconds (cold starts admit `fp`); the admission's
    /// actions.
    fn call(&mut self, f: usize, fp: Footprint, start: u64, end: u64) -> Vec<Action<usize>> {
        let actions = self.start(f, fp, start);
        self.end(f, end);
        actions
    }

    fn start(&mut self, f: usize, fp: Footprint, at: u64) -> Vec<Action<usize>> {
        let now = secs(at);
        self.patterns[f].on_start(now);
        let patterns = &self.patterns;
        self.residency
            .admit(f, fp, false, now, |&k| Usage::of(&patterns[k], now))
    }

    fn end(&mut self, f: usize, at: u64) {
        let now = secs(at);
        self.patterns[f].on_end(now);
        let p = &self.patterns[f];
        let bytes = self.residency.footprint(&f).map_or(0, |fp| fp.bytes());
        let windows = self.policy.windows(p, secs(300), bytes);
        self.residency.refresh(&f, now, Usage::of(p, now), windows);
    }

    fn sweep(&mut self, at: u64) -> Vec<Action<usize>> {
        let now = secs(at);
        let (patterns, policy) = (&self.patterns, self.policy);
        self.residency.sweep(now, |&k, fp| {
            let p = &patterns[k];
            (Usage::of(p, now), policy.windows(p, secs(300), fp.bytes()))
        })
    }
}

fn dropped(key: usize, from: Layer) -> Action<usize> {
    Action::Drop { key, from }
}

#[test]
fn greedy_dual_evicts_the_lowest_frequency_times_cost_per_byte_first() {
    let mut node = Node::new(3_000, GD, "lru");
    let fp = footprint(1_000, 0, 0);
    // f0 called 3 times, f1 once, f2 twice: f1 has the lowest priority.
    for t in 0..3 {
        node.call(0, fp, t, t);
    }
    node.call(1, fp, 3, 3);
    node.call(2, fp, 4, 4);
    node.call(2, fp, 5, 5);
    assert_eq!(node.residency.bytes(), 3_000);
    let actions = node.call(3, fp, 6, 6);
    assert_eq!(actions, [dropped(1, Layer::Code)]);
    assert_eq!(node.residency.bytes(), 3_000);
    assert!(!node.residency.holds(&1, Layer::Code));
    // The clock became f1's priority: 0 + 1 call (decayed over 3 s) × 800 µs (its three
    // layers' restore) / 1,000 B.
    let expected = (-3.0f64 / 3600.0).exp2() * 800e-6 / 1_000.0;
    assert!((node.residency.clock() / expected - 1.0).abs() < 1e-9);
}

#[test]
fn the_clock_inflates_so_old_hits_lose_to_new_admissions() {
    let mut node = Node::new(2_000, GD, "lru");
    let fp = footprint(1_000, 0, 0);
    // f0 is called 3 times early; f1 once. Evicting f1 inflates the clock…
    for t in 0..3 {
        node.call(0, fp, t, t);
    }
    node.call(1, fp, 3, 3);
    node.call(2, fp, 4, 4);
    // …and every later one-call function enters at that clock, so repeatedly admitting new
    // functions eventually pushes out f0, which was not used since.
    let mut evicted_f0_at = None;
    for (i, f) in (3..8).enumerate() {
        let actions = node.call(f, fp, 5 + i as u64, 5 + i as u64);
        if actions.contains(&dropped(0, Layer::Code)) {
            evicted_f0_at = Some(f);
            break;
        }
    }
    assert!(evicted_f0_at.is_some(), "f0 was pinned by its old calls");
}

#[test]
fn lru_evicts_the_least_recently_used() {
    let mut node = Node::new(2_000, LRU, "lru");
    let fp = footprint(1_000, 0, 0);
    node.call(0, fp, 0, 1);
    node.call(1, fp, 2, 3);
    node.call(0, fp, 4, 5);
    assert_eq!(node.call(2, fp, 6, 7), [dropped(1, Layer::Code)]);
}

#[test]
fn a_function_with_a_call_in_flight_or_pinned_is_never_evicted() {
    let mut node = Node::new(1_000, GD, "lru");
    let fp = footprint(1_000, 0, 0);
    node.start(0, fp, 0); // in flight
    node.patterns[1].on_start(secs(1));
    node.patterns[1].on_end(secs(1));
    let patterns = &node.patterns;
    let actions = node
        .residency
        .admit(1, fp, true, secs(1), |&k| Usage::of(&patterns[k], secs(1)));
    assert!(actions.is_empty(), "{actions:?}");
    let actions = node.start(2, fp, 2);
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(
        node.residency.bytes(),
        3_000,
        "over budget: nothing may leave"
    );
    // Once f0's call ends it is the only candidate.
    node.end(0, 3);
    node.end(2, 3);
    let actions = node.start(3, fp, 4);
    assert_eq!(actions, [dropped(0, Layer::Code), dropped(2, Layer::Code)]);
    // The pinned function never expires either.
    assert!(node.sweep(100_000).iter().all(|a| match a {
        Action::Drop { key, .. } => *key != 1,
        Action::Prewarm { .. } => true,
    }));
    assert!(node.residency.holds(&1, Layer::Instances));
}

#[test]
fn layered_eviction_drops_the_cheapest_layer_to_restore_first() {
    // Instances: 100 µs for 1,000 B; linked: 100 µs for 500 B; code: 600 µs for 1,000 B.
    let fp = footprint(1_000, 500, 1_000);
    let mut node = Node::new(fp.bytes() + 1_000, LAYERED, "lru");
    node.call(0, fp, 0, 1);
    // A second function needs its 2,500 B: f0 gives its instances, then its linked layer.
    let actions = node.call(1, fp, 2, 3);
    assert_eq!(
        actions,
        [dropped(0, Layer::Instances), dropped(0, Layer::Linked)]
    );
    assert_eq!(node.residency.held(&0), Some(Layer::Code));
    assert_eq!(node.residency.held_bytes(&0), 1_000);
    // A warm call with its code resident restores only what is missing.
    assert!(node.residency.holds(&0, Layer::Code));
    let actions = node.call(0, fp, 4, 5);
    assert_eq!(
        actions,
        [dropped(1, Layer::Instances), dropped(1, Layer::Linked)]
    );
    assert_eq!(node.residency.bytes(), fp.bytes() + 1_000);
}

#[test]
fn whole_function_eviction_drops_every_layer_at_once() {
    let fp = footprint(1_000, 500, 1_000);
    let mut node = Node::new(fp.bytes() + 1_000, GD, "lru");
    node.call(0, fp, 0, 1);
    assert_eq!(node.call(1, fp, 2, 3), [dropped(0, Layer::Code)]);
    assert_eq!(node.residency.held(&0), None);
}

#[test]
fn a_fixed_keep_alive_unloads_at_the_end_plus_the_ttl() {
    let mut node = Node::new(u64::MAX, LRU, "fixed:10m");
    let fp = footprint(1_000, 10, 10);
    node.call(0, fp, 0, 60);
    assert_eq!(node.residency.next_deadline(), Some(secs(660)));
    assert!(node.sweep(659).is_empty());
    assert_eq!(node.sweep(660), [dropped(0, Layer::Code)]);
    assert_eq!(node.residency.bytes(), 0);
    assert!(node.residency.is_empty());
}

#[test]
fn nothing_expires_while_a_call_is_in_flight() {
    let mut node = Node::new(u64::MAX, LRU, "fixed:10m");
    let fp = footprint(1_000, 10, 10);
    node.start(0, fp, 0);
    assert!(node.sweep(10_000).is_empty());
    assert!(node.residency.holds(&0, Layer::Code));
    node.end(0, 10_000);
    assert!(node.sweep(10_599).is_empty());
    assert_eq!(node.sweep(10_600), [dropped(0, Layer::Code)]);
}

#[test]
fn none_unloads_at_the_end_of_every_call() {
    let mut node = Node::new(u64::MAX, LRU, "none");
    node.call(0, footprint(1_000, 10, 10), 0, 5);
    assert_eq!(node.residency.next_deadline(), Some(secs(5)));
    assert_eq!(node.sweep(5), [dropped(0, Layer::Code)]);
}

#[test]
fn a_periodic_function_leaves_at_its_end_and_is_prewarmed_before_its_next_call() {
    let mut node = Node::new(u64::MAX, LAYERED, "hybrid");
    let fp = footprint(1_000, 100, 500);
    // Every 10 minutes: after 11 calls the histogram is representative.
    for i in 0..12 {
        node.call(0, fp, i * 600, i * 600 + 1);
        node.sweep(i * 600 + 1);
        node.sweep(i * 600 + 599);
    }
    // The windows: pre-warm at 486 s, expire at 660 s after the end.
    assert_eq!(node.residency.held(&0), Some(Layer::Linked), "pre-warmed");
    node.call(0, fp, 12 * 600, 12 * 600 + 1);
    let end = 12 * 600 + 1;
    assert_eq!(node.sweep(end), [dropped(0, Layer::Code)]);
    assert_eq!(node.residency.bytes(), 0);
    assert_eq!(node.residency.len(), 1, "waiting to pre-warm");
    assert!(node.sweep(end + 485).is_empty());
    assert_eq!(node.sweep(end + 486), [Action::Prewarm { key: 0 }]);
    assert_eq!(
        node.residency.bytes(),
        1_100,
        "code and linked, not instances"
    );
    assert!(node.sweep(end + 659).is_empty());
    assert_eq!(node.sweep(end + 660), [dropped(0, Layer::Code)]);
    assert!(node.residency.is_empty());
}

#[test]
fn a_prewarm_evicts_nobody() {
    let fp = footprint(1_000, 100, 500);
    let mut node = Node::new(fp.bytes(), LAYERED, "hybrid");
    for i in 0..12 {
        node.call(0, fp, i * 600, i * 600 + 1);
        node.sweep(i * 600 + 1);
    }
    // Another function now takes the whole budget while f0 waits to be pre-warmed.
    node.start(1, fp, 11 * 600 + 2);
    assert_eq!(node.residency.bytes(), fp.bytes());
    assert!(node.sweep(11 * 600 + 1 + 486).is_empty());
    assert!(!node.residency.holds(&0, Layer::Code));
}

#[test]
fn refresh_makes_expiry_exact_when_the_windows_shrink() {
    let fp = footprint(1_000, 10, 10);
    for refresh in [true, false] {
        let mut node = Node::new(u64::MAX, LRU, "fixed");
        node.start(0, fp, 0);
        assert_eq!(node.residency.next_deadline(), Some(secs(0)), "admission");
        assert!(node.sweep(0).is_empty(), "in flight");
        assert_eq!(node.residency.next_deadline(), Some(secs(300)), "a recheck");
        // The windows shrink to nothing before the call ends.
        node.policy = KeepAlivePolicy::None;
        if refresh {
            node.end(0, 1);
            assert_eq!(node.residency.next_deadline(), Some(secs(1)));
            assert_eq!(node.sweep(1), [dropped(0, Layer::Code)]);
        } else {
            node.patterns[0].on_end(secs(1));
            assert!(node.sweep(299).is_empty(), "late without refresh");
            assert_eq!(node.sweep(300), [dropped(0, Layer::Code)]);
        }
    }
}

#[test]
fn a_removed_function_frees_its_bytes() {
    let mut node = Node::new(u64::MAX, LRU, "lru");
    node.call(0, footprint(1_000, 10, 10), 0, 1);
    assert!(node.residency.remove(&0));
    assert!(!node.residency.remove(&0));
    assert_eq!(node.residency.bytes(), 0);
    assert!(node.sweep(1_000_000).is_empty());
}

proptest! {
    /// After an admission the budget holds, unless every other function with bytes is in
    /// flight or pinned.
    #[test]
    fn the_budget_holds_after_admit_unless_nothing_is_evictable(
        ops in proptest::collection::vec((0usize..8, 0u8..3, 1u64..4_000, any::<bool>()), 1..60),
        budget in 1_000u64..20_000,
        layered in any::<bool>(),
        gd in any::<bool>(),
    ) {
        let rule = EvictionRule {
            order: if gd { Order::GreedyDual } else { Order::Lru },
            layered,
        };
        let mut node = Node::new(budget, rule, "fixed:1m");
        let mut pinned = [false; 8];
        for (t, &(f, op, bytes, pin)) in ops.iter().enumerate() {
            let now = secs(t as u64 * 10);
            match op {
                0 if node.patterns[f].in_flight() > 0 => node.end(f, t as u64 * 10),
                1 => { node.sweep(t as u64 * 10); }
                _ => {
                    node.patterns[f].on_start(now);
                    pinned[f] = pinned[f] || pin;
                    let patterns = &node.patterns;
                    node.residency.admit(
                        f,
                        footprint(bytes, bytes / 3, bytes / 2),
                        pinned[f],
                        now,
                        |&k| Usage::of(&patterns[k], now),
                    );
                    if node.residency.bytes() > budget {
                        for other in (0..8).filter(|&g| g != f) {
                            prop_assert!(
                                node.residency.held_bytes(&other) == 0
                                    || node.patterns[other].in_flight() > 0
                                    || pinned[other],
                                "f{other} could have been evicted"
                            );
                        }
                    }
                }
            }
            let held: u64 = (0..8).map(|g| node.residency.held_bytes(&g)).sum();
            prop_assert_eq!(held, node.residency.bytes());
        }
    }
}

#[test]
fn enforce_evicts_a_function_larger_than_the_budget_once_its_call_ended() {
    let mut node = Node::new(500, LRU, "fixed");
    let fp = footprint(1_000, 0, 0);
    // Alone and in flight: admitted over the budget, nobody to evict.
    assert!(node.start(0, fp, 0).is_empty());
    let patterns = &node.patterns;
    let busy = node
        .residency
        .enforce(secs(1), |&k| Usage::of(&patterns[k], secs(1)));
    assert!(busy.is_empty(), "in flight: {busy:?}");
    node.end(0, 2);
    let patterns = &node.patterns;
    let actions = node
        .residency
        .enforce(secs(3), |&k| Usage::of(&patterns[k], secs(3)));
    assert_eq!(actions, [dropped(0, Layer::Code)]);
    assert_eq!(node.residency.bytes(), 0);
    // Within the budget there is nothing to do.
    assert!(node.start(1, footprint(100, 0, 0), 4).is_empty());
    node.end(1, 5);
    let patterns = &node.patterns;
    assert!(
        node.residency
            .enforce(secs(6), |&k| Usage::of(&patterns[k], secs(6)))
            .is_empty()
    );
}

#[test]
fn demand_counts_what_the_budget_evicted_until_its_keep_alive_ends() {
    let fp = footprint(1_000, 0, 0);
    let mut node = Node::new(2_000, GD, "fixed");
    node.call(0, fp, 0, 1);
    node.call(1, fp, 2, 3);
    assert_eq!(node.residency.demand(), node.residency.bytes());
    // A third function evicts one: 2,000 B held, 3,000 B wanted (a node with room keeps all).
    node.call(2, fp, 4, 5);
    assert_eq!(node.residency.bytes(), 2_000);
    assert_eq!(node.residency.demand(), 3_000);
    // The evicted one's keep-alive (300 s after its end) ends: it is no longer wanted.
    node.sweep(302);
    assert_eq!(node.residency.demand(), 2_000);
    node.sweep(306);
    assert_eq!(node.residency.demand(), 0);
    assert_eq!(node.residency.bytes(), 0);
}

#[test]
fn demand_counts_a_prewarm_the_budget_had_no_room_for_and_not_a_function_waiting_for_one() {
    let fp = footprint(1_000, 100, 500);
    let mut node = Node::new(fp.bytes(), LAYERED, "hybrid");
    for i in 0..12 {
        node.call(0, fp, i * 600, i * 600 + 1);
        node.sweep(i * 600 + 1);
    }
    // f0 waits for its pre-warm window: unloaded on purpose, wanted by nobody.
    assert_eq!(node.residency.demand(), 0);
    node.start(1, fp, 11 * 600 + 2);
    assert!(node.sweep(11 * 600 + 1 + 486).is_empty(), "no room");
    assert_eq!(
        node.residency.demand(),
        fp.bytes() + 1_100,
        "f1 in full, and f0's code and linked layers it would pre-warm"
    );
}
