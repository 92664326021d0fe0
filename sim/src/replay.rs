//! The discrete-event replay: every call of a [`Workload`] starts and ends on a virtual clock,
//! is routed to a node by the cluster's placement rule, and cold-starts when its function's code
//! is not resident there; each node runs the policy's own [`Residency`] and [`Pattern`]s.
//!
//! Events at the same instant run ends first, then starts, then the residencies' reviews (so a
//! call that starts exactly when its function's keep-alive ends is warm).

use crate::costs::Costs;
use crate::error::{Error, Result};
use crate::report::{Distribution, NodesNeeded, PerFunction, Report};
use crate::workload::Workload;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;
use wasmgate_policy::{
    Action, Footprint, KeepAlivePolicy, Layer, Member, MemberState, Memory, Pattern, PatternParams,
    Placement, Residency, Usage,
};

/// The keep-alive fallback when none is given: the gateway's default manifest `idle_timeout`,
/// 5 minutes (`wasmgate-config`'s `DEFAULT_IDLE_TIMEOUT`, mirrored: the simulator depends on the
/// policy crate only).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Calls in flight one node is sized for: the gateway's `[cluster] node_capacity` default (64).
pub const DEFAULT_NODE_CAPACITY: f64 = 64.0;

/// `1 + ε` of bounded-load placement: the gateway's `[cluster] balance_factor` default.
pub const DEFAULT_BALANCE_FACTOR: f64 = 1.25;

/// Length of one sample of the per-minute series (nodes needed, resident bytes).
const MINUTE: Duration = Duration::from_secs(60);

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The keep-alive policy every node runs.
    pub policy: KeepAlivePolicy,
    /// Nodes in the cluster (≥ 1), named `wasmgate-0`, `wasmgate-1`, ...
    pub nodes: usize,
    /// Each node's byte budget for all layers.
    pub memory: u64,
    /// Every function's manifest `idle_timeout` (the policies' fallback keep-alive).
    pub idle_timeout: Duration,
    /// Replayed but not measured: the policies learn during it (round2-design §2.5 discards the
    /// first 24 h).
    pub warmup: Duration,
    /// How calls are routed to nodes (and how many nodes the load needs).
    pub placement: Placement,
    /// The time scale of the patterns (bin width, frequency half-life).
    pub params: PatternParams,
}

impl Config {
    /// One node with `memory` bytes running `policy`, and the defaults above.
    pub fn new(policy: KeepAlivePolicy, memory: u64) -> Self {
        Config {
            policy,
            nodes: 1,
            memory,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            warmup: Duration::ZERO,
            placement: Placement {
                balance_factor: DEFAULT_BALANCE_FACTOR,
                node_capacity: DEFAULT_NODE_CAPACITY,
            },
            params: PatternParams::default(),
        }
    }
}

/// One function's memory on one node, integrated over time.
#[derive(Debug, Clone, Copy, Default)]
struct Account {
    held: u64,
    in_flight: u32,
    since: Duration,
    prewarmed: bool,
}

struct Node {
    residency: Residency<u32>,
    patterns: Vec<Pattern>,
    accounts: Vec<Account>,
    in_flight: u32,
    load_area: f64,
    load_since: Duration,
}

/// Counters over the measured period.
#[derive(Default)]
struct Totals {
    calls: Vec<u64>,
    cold: Vec<u64>,
    cold_start_time: Duration,
    restore_time: Duration,
    byte_seconds: f64,
    wasted_byte_seconds: f64,
    prewarms: u64,
    prewarms_used: u64,
    evictions: u64,
    expiries: u64,
    peak_node: u64,
    peak_cluster: u64,
    nodes_needed: Vec<usize>,
    nodes_for_calls: Vec<f64>,
    nodes_for_memory: Vec<f64>,
    resident: Vec<u64>,
}

struct Replay<'a> {
    config: &'a Config,
    footprints: Vec<Footprint>,
    cold_start: Vec<Duration>,
    nodes: Vec<Node>,
    members: Vec<Member>,
    totals: Totals,
}

/// Replays `workload` with `costs` under `config`.
///
/// # Errors
/// [`Error::InvalidOptions`] when `config.nodes` is 0.
pub fn simulate(workload: &Workload, costs: &Costs, config: &Config) -> Result<Report> {
    if config.nodes == 0 {
        return Err(Error::InvalidOptions(
            "--nodes is 0: simulate at least one node".into(),
        ));
    }
    let functions = workload.functions().len();
    let kinds: Vec<usize> = workload
        .functions()
        .iter()
        .map(|name| costs.kind_index(name))
        .collect();
    let mut replay = Replay {
        config,
        footprints: kinds.iter().map(|&k| costs.kinds()[k].footprint).collect(),
        cold_start: kinds.iter().map(|&k| costs.kinds()[k].cold_start).collect(),
        nodes: (0..config.nodes)
            .map(|_| Node {
                residency: Residency::new(config.memory, config.policy.eviction()),
                patterns: vec![Pattern::new(config.params); functions],
                accounts: vec![Account::default(); functions],
                in_flight: 0,
                load_area: 0.0,
                load_since: Duration::ZERO,
            })
            .collect(),
        members: (0..config.nodes)
            .map(|n| Member {
                id: format!("wasmgate-{n}"),
                load: 0.0,
                state: MemberState::Ready,
                memory: Memory {
                    demand: 0,
                    budget: config.memory,
                },
            })
            .collect(),
        totals: Totals {
            calls: vec![0; functions],
            cold: vec![0; functions],
            ..Totals::default()
        },
    };
    let horizon = workload.span();
    let calls = workload.calls();
    let mut next_call = 0;
    let mut ends: BinaryHeap<Reverse<(Duration, usize, u32)>> = BinaryHeap::new();
    let mut next_sample = MINUTE;
    loop {
        let call_at = calls.get(next_call).map(|c| c.start());
        let end_at = ends.peek().map(|Reverse((at, _, _))| *at);
        let due_at = replay
            .nodes
            .iter()
            .filter_map(|n| n.residency.next_deadline())
            .min()
            .filter(|&at| at <= horizon);
        let Some(now) = [end_at, call_at, due_at].into_iter().flatten().min() else {
            break;
        };
        while next_sample <= now {
            replay.sample(workload.functions(), next_sample, MINUTE);
            next_sample += MINUTE;
        }
        if end_at == Some(now) {
            if let Some(Reverse((_, node, function))) = ends.pop() {
                replay.end(node, function, now);
            }
        } else if call_at == Some(now) {
            let call = calls[next_call];
            next_call += 1;
            let node = replay.route(workload.functions(), call.function(), next_call);
            replay.start(node, call.function(), now);
            ends.push(Reverse((call.end(), node, call.function())));
        } else {
            replay.sweep(now);
        }
    }
    while next_sample <= horizon {
        replay.sample(workload.functions(), next_sample, MINUTE);
        next_sample += MINUTE;
    }
    let partial = horizon.saturating_sub(next_sample - MINUTE);
    if !partial.is_zero() {
        replay.sample(workload.functions(), horizon, partial);
    }
    replay.finish(horizon);
    Ok(replay.report(workload, costs))
}

impl Replay<'_> {
    fn measured(&self, now: Duration) -> bool {
        now >= self.config.warmup
    }

    /// The node serving a call of `function`: its home by the placement rule, or the ingress
    /// (round-robin over the nodes, `sequence` being the call's number) when there is none.
    fn route(&mut self, names: &[String], function: u32, sequence: usize) -> usize {
        if self.nodes.len() == 1 {
            return 0;
        }
        for (member, node) in self.members.iter_mut().zip(&self.nodes) {
            member.load = f64::from(node.in_flight);
        }
        let ingress = sequence % self.nodes.len();
        self.config
            .placement
            .home(&names[function as usize], &self.members)
            .and_then(|home| self.members.iter().position(|m| std::ptr::eq(m, home)))
            .unwrap_or(ingress)
    }

    /// Adds `account`'s byte-seconds up to `now` (the measured part only).
    fn settle(account: &mut Account, now: Duration, warmup: Duration, totals: &mut Totals) {
        let from = account.since.max(warmup);
        if now > from {
            let byte_seconds = account.held as f64 * (now - from).as_secs_f64();
            totals.byte_seconds += byte_seconds;
            if account.in_flight == 0 {
                totals.wasted_byte_seconds += byte_seconds;
            }
        }
        account.since = account.since.max(now);
    }

    fn settle_load(node: &mut Node, now: Duration) {
        if now > node.load_since {
            node.load_area += f64::from(node.in_flight) * (now - node.load_since).as_secs_f64();
            node.load_since = now;
        }
    }

    fn start(&mut self, n: usize, function: u32, now: Duration) {
        let f = function as usize;
        let warmup = self.config.warmup;
        let measured = self.measured(now);
        let footprint = self.footprints[f];
        let node = &mut self.nodes[n];
        Self::settle(&mut node.accounts[f], now, warmup, &mut self.totals);
        node.patterns[f].on_start(now);
        let cold = !node.residency.holds(&function, Layer::Code);
        if !node.residency.holds(&function, Layer::Instances) {
            let restore: Duration = Layer::ALL
                .iter()
                .filter(|&&l| !node.residency.holds(&function, l))
                .map(|&l| footprint.layer(l).restore)
                .sum();
            let patterns = &node.patterns;
            let actions = node.residency.admit(function, footprint, false, now, |&k| {
                Usage::of(&patterns[k as usize], now)
            });
            if measured {
                self.totals.restore_time += restore;
            }
            self.apply(n, actions, now, true);
        }
        let node = &mut self.nodes[n];
        let account = &mut node.accounts[f];
        account.held = node.residency.held_bytes(&function);
        account.in_flight += 1;
        if account.prewarmed {
            account.prewarmed = false;
            if measured && !cold {
                self.totals.prewarms_used += 1;
            }
        }
        Self::settle_load(node, now);
        node.in_flight += 1;
        if measured {
            self.totals.calls[f] += 1;
            if cold {
                self.totals.cold[f] += 1;
                self.totals.cold_start_time += self.cold_start[f];
            }
        }
        self.peaks(now);
    }

    fn end(&mut self, n: usize, function: u32, now: Duration) {
        let f = function as usize;
        let (policy, idle_timeout) = (self.config.policy, self.config.idle_timeout);
        let node = &mut self.nodes[n];
        Self::settle(
            &mut node.accounts[f],
            now,
            self.config.warmup,
            &mut self.totals,
        );
        node.accounts[f].in_flight = node.accounts[f].in_flight.saturating_sub(1);
        node.patterns[f].on_end(now);
        let pattern = &node.patterns[f];
        let bytes = self.footprints[f].bytes();
        node.residency.refresh(
            &function,
            now,
            Usage::of(pattern, now),
            policy.windows(pattern, idle_timeout, bytes),
        );
        Self::settle_load(node, now);
        node.in_flight = node.in_flight.saturating_sub(1);
    }

    fn sweep(&mut self, now: Duration) {
        let (policy, idle_timeout) = (self.config.policy, self.config.idle_timeout);
        for n in 0..self.nodes.len() {
            let node = &mut self.nodes[n];
            if node.residency.next_deadline().is_none_or(|at| at > now) {
                continue;
            }
            let patterns = &node.patterns;
            let actions = node.residency.sweep(now, |&k, footprint| {
                let pattern = &patterns[k as usize];
                (
                    Usage::of(pattern, now),
                    policy.windows(pattern, idle_timeout, footprint.bytes()),
                )
            });
            self.apply(n, actions, now, false);
        }
        self.peaks(now);
    }

    /// Books what the residency of node `n` did at `now` (it already counts the bytes).
    fn apply(&mut self, n: usize, actions: Vec<Action<u32>>, now: Duration, admission: bool) {
        let measured = self.measured(now);
        let warmup = self.config.warmup;
        let node = &mut self.nodes[n];
        for action in actions {
            let (key, prewarm) = match action {
                Action::Drop { key, from } => {
                    if measured && from == Layer::Code {
                        if admission {
                            self.totals.evictions += 1;
                        } else {
                            self.totals.expiries += 1;
                        }
                    }
                    (key, false)
                }
                Action::Prewarm { key } => (key, true),
            };
            let account = &mut node.accounts[key as usize];
            Self::settle(account, now, warmup, &mut self.totals);
            account.held = node.residency.held_bytes(&key);
            if prewarm {
                account.prewarmed = true;
                if measured {
                    self.totals.prewarms += 1;
                }
            } else if account.held == 0 {
                account.prewarmed = false;
            }
        }
    }

    fn peaks(&mut self, now: Duration) {
        if !self.measured(now) {
            return;
        }
        let mut cluster = 0;
        for node in &self.nodes {
            let bytes = node.residency.bytes();
            self.totals.peak_node = self.totals.peak_node.max(bytes);
            cluster += bytes;
        }
        self.totals.peak_cluster = self.totals.peak_cluster.max(cluster);
    }

    /// Closes the sample of `length` (a minute, or the trace's last part of one) ending at
    /// `at`: its average load per node and each node's memory demand at `at` give the nodes
    /// needed (and what routing sees of memory until the next sample, as a heartbeat would).
    fn sample(&mut self, names: &[String], at: Duration, length: Duration) {
        let mut resident = 0;
        for (member, node) in self.members.iter_mut().zip(&mut self.nodes) {
            Self::settle_load(node, at);
            member.load = node.load_area / length.as_secs_f64();
            node.load_area = 0.0;
            resident += node.residency.bytes();
        }
        // Each node counts the demand of the functions it is home for (as the gateway does at a
        // heartbeat), so copies left behind when homes move are not counted twice.
        let placement = self.config.placement;
        let members = self.members.clone();
        for (n, (member, node)) in self.members.iter_mut().zip(&self.nodes).enumerate() {
            member.memory.demand = if members.len() == 1 {
                node.residency.demand()
            } else {
                node.residency.demand_of(|&f| {
                    placement
                        .home(&names[f as usize], &members)
                        .is_none_or(|home| home.id == members[n].id)
                })
            };
        }
        if at > self.config.warmup {
            let placement = &self.config.placement;
            let needed = placement.nodes_needed(&self.members);
            self.totals.nodes_needed.push(needed);
            let for_calls = placement.nodes_for_calls(&self.members);
            self.totals.nodes_for_calls.push(for_calls as f64);
            let for_memory = Placement::nodes_for_memory(&self.members);
            self.totals.nodes_for_memory.push(for_memory as f64);
            self.totals.resident.push(resident);
        }
    }

    fn finish(&mut self, horizon: Duration) {
        let warmup = self.config.warmup;
        for node in &mut self.nodes {
            for account in &mut node.accounts {
                Self::settle(account, horizon, warmup, &mut self.totals);
            }
        }
    }

    fn report(&self, workload: &Workload, costs: &Costs) -> Report {
        let t = &self.totals;
        let mut ratios: Vec<f64> = t
            .calls
            .iter()
            .zip(&t.cold)
            .filter(|(calls, _)| **calls > 0)
            .map(|(&calls, &cold)| cold as f64 / calls as f64)
            .collect();
        ratios.sort_by(f64::total_cmp);
        let invocations: u64 = t.calls.iter().sum();
        let cold_starts: u64 = t.cold.iter().sum();
        let needed: Vec<f64> = t.nodes_needed.iter().map(|&n| n as f64).collect();
        let resident: Vec<f64> = t.resident.iter().map(|&b| b as f64).collect();
        const GIB: f64 = (1u64 << 30) as f64;
        Report {
            policy: self.config.policy.to_string(),
            nodes: self.config.nodes,
            memory_budget_bytes: self.config.memory,
            idle_timeout_s: self.config.idle_timeout.as_secs_f64(),
            warmup_s: self.config.warmup.as_secs_f64(),
            span_s: workload.span().as_secs_f64(),
            trace_functions: workload.functions().len(),
            functions_called: ratios.len(),
            invocations,
            cold_starts,
            cold_start_ratio: if invocations == 0 {
                0.0
            } else {
                cold_starts as f64 / invocations as f64
            },
            cold_start_ratio_per_function: PerFunction {
                p50: percentile(&ratios, 0.50),
                p75: percentile(&ratios, 0.75),
                p99: percentile(&ratios, 0.99),
            },
            cold_start_time_s: t.cold_start_time.as_secs_f64(),
            restore_time_s: t.restore_time.as_secs_f64(),
            memory_seconds: t.byte_seconds / GIB,
            wasted_memory_seconds: t.wasted_byte_seconds / GIB,
            peak_resident_bytes: t.peak_cluster,
            peak_node_resident_bytes: t.peak_node,
            resident_bytes: Distribution::of(resident),
            prewarms: t.prewarms,
            prewarms_used: t.prewarms_used,
            evictions: t.evictions,
            expiries: t.expiries,
            nodes_needed: NodesNeeded {
                summary: Distribution::of(needed),
                for_calls: Distribution::of(t.nodes_for_calls.clone()),
                for_memory: Distribution::of(t.nodes_for_memory.clone()),
                hourly_max: t
                    .nodes_needed
                    .chunks(60)
                    .map(|hour| hour.iter().copied().max().unwrap_or(0))
                    .collect(),
            },
            costs_note: costs.note().to_owned(),
        }
    }
}

/// The nearest-rank `p` percentile of `sorted` (0 when empty).
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests;
