//! Which functions hold memory on one node, in which layers, and who leaves first when a new
//! one needs room: Greedy-Dual under a byte budget (Fuerst & Sharma, "FaaSCache: Keeping
//! Serverless Computing Alive with Greedy-Dual Caching", ASPLOS 2021, §4), evicting layer by
//! layer, cheapest to restore first (Yu et al., "RainbowCake", ASPLOS 2024; round2-design §1.3
//! items 4–5), and expiring or pre-warming functions by their [`Windows`].
//!
//! The node calls a [`Residency`] only at a cold start ([`Residency::admit`]: "I need these
//! bytes, who leaves?") and at housekeeping ([`Residency::sweep`]: "it is now T, what expires,
//! what pre-warms?"), optionally at a call's end ([`Residency::refresh`], which makes expiry
//! exact); a warm call touches only its function's [`Pattern`](super::Pattern). The residency reads patterns
//! through a closure the caller passes, so it never holds them: do not hold a pattern's lock
//! while calling it.

use super::layer::{Footprint, Layer};
use super::policy::{EvictionRule, Order};
use super::priority::{Candidate, priority, top_layer_with_bytes};
use super::usage::Usage;
use super::windows::Windows;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Duration;

/// How long a review that finds calls in flight waits before looking again, when the caller
/// does not [`refresh`](Residency::refresh) at the call's end (or its keep-alive if longer).
pub const IN_FLIGHT_RECHECK: Duration = Duration::from_secs(1);

/// What the node must do to a function's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<K> {
    /// Drop layer `from` of `key` and every layer above it (`Layer::Code`: unload it all).
    Drop {
        /// The function.
        key: K,
        /// The lowest layer to drop.
        from: Layer,
    },
    /// Load and link `key` again (not instantiate): its pre-warm window opened. The residency
    /// already counts those bytes; if the load fails, call [`Residency::remove`].
    Prewarm {
        /// The function.
        key: K,
    },
}

/// One function with memory on the node (or waiting to be pre-warmed).
#[derive(Debug, Clone)]
pub(super) struct Resident<K> {
    key: K,
    pub(super) footprint: Footprint,
    /// Layers held, counted from the bottom: 0 none (waiting to pre-warm) … 3 all.
    pub(super) held: u8,
    /// Layers the keep-alive windows want held (same count): `held` plus what the budget took.
    wanted: u8,
    pinned: bool,
    /// The Greedy-Dual clock when it was last seen used.
    pub(super) base: f64,
    /// Its call count when `base` was set.
    seen_calls: u64,
    /// Its last admission: the end of idleness when it has never ended a call.
    admitted_at: Duration,
    /// When it must next be reviewed, and the stamp of that heap entry.
    deadline: Option<(Duration, u64)>,
}

impl<K> Resident<K> {
    pub(super) fn held_bytes(&self) -> u64 {
        self.footprint.bytes_below(self.held)
    }
}

/// The functions holding memory on one node under a byte budget, keyed by `K` (a function
/// name, a `(name, version)`, an index).
///
/// Rules:
/// - **Admission** ([`admit`](Residency::admit)) restores every layer of the function being
///   called, then, while the budget is exceeded, evicts the lowest-priority candidate. A
///   candidate is a resident function with no call in flight, not pinned and not the one being
///   admitted. Greedy-Dual priority = `base + frequency × cost / bytes`, `base` = the clock when
///   the function was last used, `cost` in seconds; the clock becomes the victim's priority
///   (never lower: decayed frequencies could otherwise wind it back). LRU priority = last use.
/// - **Layers**: with a layered rule a candidate's priority is that of its topmost held layer
///   (its cheapest to restore, cost and bytes of that layer alone), and an eviction drops only
///   that layer; else a function leaves whole, weighed by all its held layers.
/// - **Expiry** ([`sweep`](Residency::sweep)): `keep_alive` after its last end a function is
///   unloaded; with `prewarm > 0` it is unloaded at its end and loaded and linked again
///   `prewarm` after it, if that fits in the budget without evicting anyone (speculative loads
///   evict nobody). Nothing expires with a call in flight; pinned functions never expire.
///
/// If everything left is in flight or pinned, the budget may stay exceeded: calls are served.
#[derive(Debug, Clone)]
pub struct Residency<K> {
    budget: u64,
    rule: EvictionRule,
    clock: f64,
    bytes: u64,
    slots: Vec<Option<Resident<K>>>,
    free: Vec<usize>,
    index: HashMap<K, usize>,
    /// Review times, `(deadline, slot, stamp)`; stale entries are skipped when popped.
    due: BinaryHeap<Reverse<(Duration, usize, u64)>>,
    next_stamp: u64,
}

impl<K: Clone + Eq + Hash> Residency<K> {
    /// An empty residency holding at most `budget` bytes (all layers), evicting by `rule`.
    pub fn new(budget: u64, rule: EvictionRule) -> Self {
        Residency {
            budget,
            rule,
            clock: 0.0,
            bytes: 0,
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            due: BinaryHeap::new(),
            next_stamp: 0,
        }
    }

    /// The byte budget.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Changes the byte budget; it is enforced at the next admission.
    pub fn set_budget(&mut self, budget: u64) {
        self.budget = budget;
    }

    /// Bytes held by every resident function's held layers.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes the keep-alive windows want resident: what is held plus every layer the budget
    /// evicted from a function whose keep-alive has not ended (it would still be warm on a node
    /// with room). `demand / budget` is the memory side of how many nodes the load needs; equal
    /// to [`bytes`](Residency::bytes) while the budget evicts nothing. O(n) in tracked functions.
    pub fn demand(&self) -> u64 {
        self.demand_of(|_| true)
    }

    /// [`demand`](Residency::demand) of the functions `counted` selects: in a cluster, those
    /// this node is home for, so a copy left behind on a node a function moved away from is
    /// not counted twice (it would make a growing active set look short of memory again).
    pub fn demand_of(&self, mut counted: impl FnMut(&K) -> bool) -> u64 {
        self.slots
            .iter()
            .flatten()
            .filter(|r| counted(&r.key))
            .map(|r| r.footprint.bytes_below(r.held.max(r.wanted)))
            .sum()
    }

    /// The Greedy-Dual clock (0 under LRU).
    pub fn clock(&self) -> f64 {
        self.clock
    }

    /// Functions the residency tracks: holding layers, or unloaded and waiting to pre-warm.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether it tracks no function.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The topmost layer `key` holds, `None` when it holds none.
    pub fn held(&self, key: &K) -> Option<Layer> {
        let resident = self.resident(key)?;
        resident
            .held
            .checked_sub(1)
            .map(|top| Layer::ALL[usize::from(top)])
    }

    /// Whether `key` holds `layer` (and so every layer below it).
    pub fn holds(&self, key: &K, layer: Layer) -> bool {
        self.resident(key).is_some_and(|r| r.held >= layer.depth())
    }

    /// `key`'s footprint when fully resident, as admitted; `None` when it is not tracked.
    pub fn footprint(&self, key: &K) -> Option<Footprint> {
        self.resident(key).map(|r| r.footprint)
    }

    /// Bytes `key` holds.
    pub fn held_bytes(&self, key: &K) -> u64 {
        self.resident(key).map_or(0, Resident::held_bytes)
    }

    fn resident(&self, key: &K) -> Option<&Resident<K>> {
        let &slot = self.index.get(key)?;
        self.slots[slot].as_ref()
    }

    /// The earliest time [`sweep`](Residency::sweep) has a function to look at, if any (it
    /// may find nothing to do then: a function used since is only rescheduled).
    pub fn next_deadline(&self) -> Option<Duration> {
        self.due.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Admits `key` for a call starting at `now` (call its pattern's `on_start` first): restores
    /// all its layers with `footprint`'s bytes, then evicts until the budget holds (see the type's
    /// rules). `usage` reads any function's usage at `now`. Returns what the node must drop,
    /// lowest priority first; each `Drop` is already accounted for.
    pub fn admit(
        &mut self,
        key: K,
        footprint: Footprint,
        pinned: bool,
        now: Duration,
        mut usage: impl FnMut(&K) -> Usage,
    ) -> Vec<Action<K>> {
        let used = usage(&key);
        let slot = match self.index.get(&key) {
            Some(&slot) => slot,
            None => self.insert(key, footprint, now),
        };
        let clock = self.clock;
        let Some(resident) = self.slots[slot].as_mut() else {
            return Vec::new();
        };
        self.bytes -= resident.held_bytes();
        resident.footprint = footprint;
        resident.held = 3;
        resident.wanted = 3;
        resident.pinned = pinned;
        resident.base = clock;
        resident.seen_calls = used.calls;
        resident.admitted_at = now;
        self.bytes += resident.held_bytes();
        if resident.deadline.is_none() && !pinned {
            self.schedule(slot, now);
        }
        let mut actions = Vec::new();
        self.make_room(Some(slot), now, &mut usage, &mut actions);
        actions
    }

    /// Recomputes when `key` next needs a look, from the usage and windows it has at `now`
    /// (typically at a call's end; O(log n)). Optional: without it a function is reviewed at the
    /// time computed before, which is early (harmless) when it was used since, and late when
    /// its windows shrank.
    pub fn refresh(&mut self, key: &K, now: Duration, usage: Usage, windows: Windows) {
        let Some(&slot) = self.index.get(key) else {
            return;
        };
        let Some(resident) = self.slots[slot].as_ref() else {
            return;
        };
        if resident.pinned || usage.in_flight > 0 {
            return;
        }
        let end = usage.last_end.unwrap_or_default().max(resident.admitted_at);
        let expire = end.checked_add(windows.keep_alive);
        let next = if windows.prewarm.is_zero() {
            expire
        } else {
            let prewarm_at = end.saturating_add(windows.prewarm);
            if resident.held > 0 && now < prewarm_at {
                Some(now)
            } else if now < prewarm_at {
                Some(prewarm_at)
            } else {
                expire
            }
        };
        match next {
            Some(next) if resident.deadline.is_none_or(|(at, _)| at != next) => {
                self.schedule(slot, next);
            }
            Some(_) => {}
            None => {
                if let Some(resident) = self.slots[slot].as_mut() {
                    resident.deadline = None;
                }
                self.pop_stale();
            }
        }
    }

    /// Evicts, by the same rule as [`admit`](Residency::admit), until the budget holds again
    /// (or only functions in flight or pinned are left): for a budget exceeded while every
    /// candidate was busy, or by a function that alone is larger than the budget, once its
    /// calls have ended. A node calls it at housekeeping; O(n) only when over the budget.
    pub fn enforce(&mut self, now: Duration, mut usage: impl FnMut(&K) -> Usage) -> Vec<Action<K>> {
        let mut actions = Vec::new();
        self.make_room(None, now, &mut usage, &mut actions);
        actions
    }

    /// Expires and pre-warms what is due at `now`. `usage` gives a function's usage and
    /// windows at `now`, from its key and its footprint (whose [`Footprint::bytes`] the
    /// `adaptive` policy prices). Returns the actions in order; bytes are already accounted for.
    pub fn sweep(
        &mut self,
        now: Duration,
        mut usage: impl FnMut(&K, &Footprint) -> (Usage, Windows),
    ) -> Vec<Action<K>> {
        let mut due = Vec::new();
        while let Some(&Reverse((at, slot, stamp))) = self.due.peek() {
            if at > now {
                break;
            }
            self.due.pop();
            let current = self.slots[slot]
                .as_ref()
                .is_some_and(|r| r.deadline == Some((at, stamp)));
            if current {
                due.push(slot);
            }
        }
        let mut actions = Vec::new();
        for slot in due {
            let Some(resident) = self.slots[slot].as_mut() else {
                continue;
            };
            resident.deadline = None;
            let (used, windows) = usage(&resident.key, &resident.footprint);
            self.review(slot, now, used, windows, &mut actions);
        }
        if self.due.len() > 2 * self.index.len() + 64 {
            self.compact();
        }
        self.pop_stale();
        actions
    }

    /// Forgets `key` (deleted, replaced, or its pre-warm failed); whether it was tracked.
    pub fn remove(&mut self, key: &K) -> bool {
        let Some(slot) = self.index.remove(key) else {
            return false;
        };
        if let Some(resident) = self.slots[slot].take() {
            self.bytes -= resident.held_bytes();
        }
        self.free.push(slot);
        self.pop_stale();
        true
    }

    fn insert(&mut self, key: K, footprint: Footprint, now: Duration) -> usize {
        let resident = Resident {
            key: key.clone(),
            footprint,
            held: 0,
            wanted: 0,
            pinned: false,
            base: self.clock,
            seen_calls: 0,
            admitted_at: now,
            deadline: None,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(resident);
                slot
            }
            None => {
                self.slots.push(Some(resident));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, slot);
        slot
    }

    fn schedule(&mut self, slot: usize, at: Duration) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        if let Some(resident) = self.slots[slot].as_mut() {
            resident.deadline = Some((at, stamp));
            self.due.push(Reverse((at, slot, stamp)));
        }
        self.pop_stale();
    }

    /// Pops stale review entries off the top, so [`Residency::next_deadline`] is exact.
    fn pop_stale(&mut self) {
        while let Some(&Reverse((at, slot, stamp))) = self.due.peek() {
            let current = self.slots[slot]
                .as_ref()
                .is_some_and(|r| r.deadline == Some((at, stamp)));
            if current {
                break;
            }
            self.due.pop();
        }
    }

    /// Rebuilds the review heap without its stale entries.
    fn compact(&mut self) {
        self.due = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, r)| {
                let (at, stamp) = r.as_ref()?.deadline?;
                Some(Reverse((at, slot, stamp)))
            })
            .collect();
    }

    /// Drops the layers of `slot` from depth `keep` up; returns the action, if anything was held.
    fn drop_to(&mut self, slot: usize, keep: u8) -> Option<Action<K>> {
        let resident = self.slots[slot].as_mut()?;
        if resident.held <= keep {
            return None;
        }
        let before = resident.held_bytes();
        resident.held = keep;
        self.bytes -= before - resident.held_bytes();
        Some(Action::Drop {
            key: resident.key.clone(),
            from: Layer::ALL[usize::from(keep)],
        })
    }

    /// Looks at one resident whose review time came.
    fn review(
        &mut self,
        slot: usize,
        now: Duration,
        used: Usage,
        windows: Windows,
        actions: &mut Vec<Action<K>>,
    ) {
        let Some(resident) = self.slots[slot].as_ref() else {
            return;
        };
        if resident.pinned {
            return;
        }
        if used.in_flight > 0 {
            if let Some(at) = now.checked_add(windows.keep_alive.max(IN_FLIGHT_RECHECK)) {
                self.schedule(slot, at);
            }
            return;
        }
        let end = used.last_end.unwrap_or_default().max(resident.admitted_at);
        let expire = end.checked_add(windows.keep_alive);
        if expire.is_some_and(|at| now >= at) {
            let key = resident.key.clone();
            actions.extend(self.drop_to(slot, 0));
            self.remove(&key);
            return;
        }
        if !windows.prewarm.is_zero() {
            let prewarm_at = end.saturating_add(windows.prewarm);
            if now < prewarm_at {
                actions.extend(self.drop_to(slot, 0));
                if let Some(resident) = self.slots[slot].as_mut() {
                    resident.wanted = 0;
                }
                self.schedule(slot, prewarm_at);
                return;
            }
            let linked = Layer::Linked.depth();
            if resident.held < linked {
                let need = resident.footprint.bytes_below(linked) - resident.held_bytes();
                let fits = self.bytes + need <= self.budget;
                let key = resident.key.clone();
                if let Some(resident) = self.slots[slot].as_mut() {
                    // Wanted even when it does not fit: a node with room would pre-warm it.
                    resident.wanted = resident.wanted.max(linked);
                    if fits {
                        resident.held = linked;
                    }
                }
                if fits {
                    self.bytes += need;
                    actions.push(Action::Prewarm { key });
                }
            }
        }
        if let Some(at) = expire {
            self.schedule(slot, at);
        }
    }

    /// Evicts lowest priority first until the budget holds or no candidate is left.
    fn make_room(
        &mut self,
        exclude: Option<usize>,
        now: Duration,
        usage: &mut impl FnMut(&K) -> Usage,
        actions: &mut Vec<Action<K>>,
    ) {
        if self.bytes <= self.budget {
            return;
        }
        let mut candidates = BinaryHeap::new();
        let clock = self.clock;
        for (slot, resident) in self.slots.iter_mut().enumerate() {
            let Some(resident) = resident.as_mut() else {
                continue;
            };
            if Some(slot) == exclude || resident.pinned || resident.held_bytes() == 0 {
                continue;
            }
            let used = usage(&resident.key);
            if used.in_flight > 0 {
                continue;
            }
            if used.calls != resident.seen_calls {
                // Used since last seen: Greedy-Dual re-bases a function at each use, and the
                // clock moves only here, so its clock then was the current one.
                resident.base = clock;
                resident.seen_calls = used.calls;
            }
            let last_use = used
                .last_end
                .unwrap_or_default()
                .max(resident.admitted_at)
                .min(now);
            let frequency = match self.rule.order {
                Order::GreedyDual => used.frequency,
                Order::Lru => last_use.as_secs_f64(),
            };
            candidates.push(Candidate {
                priority: priority(self.rule, resident, frequency),
                slot,
                frequency,
            });
        }
        while self.bytes > self.budget {
            let Some(victim) = candidates.pop() else {
                break;
            };
            let Some(resident) = self.slots[victim.slot].as_ref() else {
                continue;
            };
            let keep = if self.rule.layered {
                top_layer_with_bytes(resident).map_or(0, |top| top.depth() - 1)
            } else {
                0
            };
            actions.extend(self.drop_to(victim.slot, keep));
            if self.rule.order == Order::GreedyDual {
                self.clock = self.clock.max(victim.priority);
            }
            if let Some(resident) = self.slots[victim.slot].as_ref()
                && resident.held_bytes() > 0
            {
                candidates.push(Candidate {
                    priority: priority(self.rule, resident, victim.frequency),
                    ..victim
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
