//! The eviction priority of a resident function (lowest leaves first): Greedy-Dual's
//! `base + frequency × cost / bytes` (FaaSCache, Fuerst & Sharma, ASPLOS 2021, §4), per layer when
//! eviction is layered, or its last use under LRU.

use super::layer::Layer;
use super::policy::{EvictionRule, Order};
use super::residency::Resident;
use std::cmp::Ordering;
use std::time::Duration;

/// An eviction candidate, ordered so a max-heap yields the lowest priority first.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    pub(super) priority: f64,
    pub(super) slot: usize,
    pub(super) frequency: f64,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .priority
            .total_cmp(&self.priority)
            .then_with(|| other.slot.cmp(&self.slot))
    }
}

/// The topmost held layer of `resident` that holds bytes.
pub(super) fn top_layer_with_bytes<K>(resident: &Resident<K>) -> Option<Layer> {
    Layer::ALL[..usize::from(resident.held)]
        .iter()
        .rev()
        .copied()
        .find(|&l| resident.footprint.layer(l).bytes > 0)
}

/// The eviction priority of `resident` (lowest leaves first). Under LRU `weight` is its last use
/// in seconds; under Greedy-Dual its decayed frequency.
pub(super) fn priority<K>(rule: EvictionRule, resident: &Resident<K>, weight: f64) -> f64 {
    match rule.order {
        Order::Lru => weight,
        Order::GreedyDual => {
            let (cost, bytes) = if rule.layered {
                match top_layer_with_bytes(resident) {
                    Some(top) => {
                        let layer = resident.footprint.layer(top);
                        (layer.restore, layer.bytes)
                    }
                    None => (Duration::ZERO, 0),
                }
            } else {
                let cost = Layer::ALL[..usize::from(resident.held)]
                    .iter()
                    .map(|&l| resident.footprint.layer(l).restore)
                    .sum::<Duration>();
                (cost, resident.held_bytes())
            };
            resident.base + weight * cost.as_secs_f64() / (bytes.max(1) as f64)
        }
    }
}
