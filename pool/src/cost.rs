//! What one deployed version of a function costs the node: memory held over time (all of it, and
//! the part held while calls ran), guest CPU time, and where its cold starts spent their time.
//!
//! Charged where the cost arises: loaded code when it loads and leaves, instance memory when an
//! instance's linear memories and tables are created or grow and when the instance ends, a
//! call's begin and end, the time inside each poll of the guest's task. A warm call takes this
//! account's lock four times (instance made, call begins, call ends, instance dropped) and reads
//! the monotonic clock twice per poll of its guest; `cargo bench -p wasmgate-pool --bench
//! hot_path` measures what that adds.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmgate_policy::{Pattern, PatternParams};

/// Where one cold start's time went, phase by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ColdStartPhases {
    /// Mapping the precompiled artifact and checking its header (`Component::deserialize_file`).
    pub load: Duration,
    /// Resolving its imports against the host's linker (`Linker::instantiate_pre`).
    pub link: Duration,
    /// Creating the first instance: memory images mapped copy-on-write, tables, start functions.
    pub instantiate: Duration,
    /// From that instance to the guest's response head (or the end of its message handler): the
    /// guest's own start-up and first touch of its memory pages included.
    pub first_response: Duration,
}

impl ColdStartPhases {
    /// All four phases: the time a caller waited more than a warm call with a fresh instance
    /// would have taken, plus that call itself.
    pub fn total(&self) -> Duration {
        self.load + self.link + self.instantiate + self.first_response
    }
}

/// Totals of a deployed version's cost account, read for the admin API and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostTotals {
    /// Bytes held now: loaded code plus the linear memories and tables of live instances.
    pub bytes_held: u64,
    /// Byte-seconds held: ∫ bytes held dt since this version was deployed or the node started.
    pub memory_byte_seconds: f64,
    /// Byte-seconds held while at least one call ran: the part of the above that did work.
    pub busy_byte_seconds: f64,
    /// Time spent inside polls of its guests' tasks: wasm, instantiation and the host functions
    /// the guest called synchronously; waits on I/O excluded.
    pub guest_cpu: Duration,
    /// The largest linear memory plus table bytes one of its instances reached.
    pub instance_peak_bytes: u64,
    /// The phases of its last cold start, once one has been measured completely.
    pub last_cold_start: Option<ColdStartPhases>,
}

/// One version's account; shared by its loaded code, its instances and its calls.
#[derive(Debug)]
pub(crate) struct FunctionCost {
    /// The node's clock origin, which the call pattern counts from.
    origin: Instant,
    memory: Mutex<MemoryAccount>,
    guest_cpu_nanos: AtomicU64,
    instance_peak: AtomicU64,
    last_cold_start: Mutex<Option<ColdStartPhases>>,
    /// A call ended since the keep-alive housekeeping last looked ([`FunctionCost::take_ended`]).
    ended: AtomicBool,
}

#[derive(Debug)]
struct MemoryAccount {
    /// Its calls' starts and ends, for the keep-alive policy (on the node's clock).
    pattern: Pattern,
    held: u64,
    in_flight: u32,
    since: Instant,
    byte_seconds: f64,
    busy_byte_seconds: f64,
}

impl FunctionCost {
    /// An empty account whose call pattern counts from `origin` on `params`' time scale.
    pub(crate) fn new(origin: Instant, params: PatternParams) -> Self {
        FunctionCost {
            origin,
            memory: Mutex::new(MemoryAccount {
                pattern: Pattern::new(params),
                held: 0,
                in_flight: 0,
                since: Instant::now(),
                byte_seconds: 0.0,
                busy_byte_seconds: 0.0,
            }),
            guest_cpu_nanos: AtomicU64::new(0),
            instance_peak: AtomicU64::new(0),
            last_cold_start: Mutex::new(None),
            ended: AtomicBool::new(false),
        }
    }

    /// `bytes` more are held from now on (negative: released).
    pub(crate) fn change(&self, bytes: i64) {
        self.update(Instant::now(), |m| {
            m.held = m.held.saturating_add_signed(bytes)
        });
    }

    /// A call starts running.
    pub(crate) fn call_began(&self) {
        let now = Instant::now();
        let at = now.saturating_duration_since(self.origin);
        self.update(now, |m| {
            m.in_flight = m.in_flight.saturating_add(1);
            m.pattern.on_start(at);
        });
    }

    /// A call stopped running.
    pub(crate) fn call_ended(&self) {
        let now = Instant::now();
        let at = now.saturating_duration_since(self.origin);
        self.update(now, |m| {
            m.in_flight = m.in_flight.saturating_sub(1);
            m.pattern.on_end(at);
        });
        self.ended.store(true, Ordering::Release);
    }

    /// Whether a call ended since the last time this was asked (and clears it): the keep-alive
    /// housekeeping re-reviews such a function at once when its windows may pre-warm.
    pub(crate) fn take_ended(&self) -> bool {
        self.ended.swap(false, Ordering::AcqRel)
    }

    /// Reads its call pattern (for the keep-alive policy).
    pub(crate) fn with_pattern<T>(&self, f: impl FnOnce(&Pattern) -> T) -> T {
        let m = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        f(&m.pattern)
    }

    /// One of its instances ended after reaching `bytes` of linear memory and tables.
    pub(crate) fn instance_reached(&self, bytes: u64) {
        self.instance_peak.fetch_max(bytes, Ordering::Relaxed);
    }

    /// Records a cold start whose phases are all known.
    pub(crate) fn cold_start(&self, phases: ColdStartPhases) {
        *self
            .last_cold_start
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(phases);
    }

    /// Runs `work` (a guest's task), adding the time spent inside its polls to the guest CPU time.
    pub(crate) async fn timed<F: Future>(&self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            let started = Instant::now();
            let poll = work.as_mut().poll(cx);
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.guest_cpu_nanos.fetch_add(nanos, Ordering::Relaxed);
            poll
        })
        .await
    }

    /// The totals now, the current holding included.
    pub(crate) fn totals(&self) -> CostTotals {
        let mut totals = CostTotals {
            guest_cpu: Duration::from_nanos(self.guest_cpu_nanos.load(Ordering::Relaxed)),
            instance_peak_bytes: self.instance_peak.load(Ordering::Relaxed),
            last_cold_start: *self
                .last_cold_start
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
            ..CostTotals::default()
        };
        self.update(Instant::now(), |m| {
            totals.bytes_held = m.held;
            totals.memory_byte_seconds = m.byte_seconds;
            totals.busy_byte_seconds = m.busy_byte_seconds;
        });
        totals
    }

    fn update(&self, now: Instant, f: impl FnOnce(&mut MemoryAccount)) {
        // A poisoned lock only means a panic elsewhere mid-update; the numbers are still usable.
        let mut m = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(m.since).as_secs_f64();
        let area = m.held as f64 * elapsed;
        m.byte_seconds += area;
        if m.in_flight > 0 {
            m.busy_byte_seconds += area;
        }
        m.since = now;
        f(&mut m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_seconds_grow_only_while_something_is_held_and_busy_only_while_calls_run() {
        let cost = FunctionCost::new(Instant::now(), PatternParams::default());
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(cost.totals().memory_byte_seconds, 0.0);
        cost.change(1000);
        std::thread::sleep(Duration::from_millis(50));
        let idle = cost.totals();
        assert!(
            (50.0..=1000.0).contains(&idle.memory_byte_seconds),
            "{idle:?}"
        );
        assert_eq!(idle.busy_byte_seconds, 0.0, "no call ran");
        cost.call_began();
        std::thread::sleep(Duration::from_millis(50));
        cost.call_ended();
        let busy = cost.totals();
        assert!(
            (50.0..=1000.0).contains(&busy.busy_byte_seconds),
            "{busy:?}"
        );
        assert!(busy.memory_byte_seconds >= idle.memory_byte_seconds + busy.busy_byte_seconds);
        cost.change(-1000);
        let released = cost.totals();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            cost.totals().memory_byte_seconds,
            released.memory_byte_seconds
        );
        assert_eq!(cost.totals().bytes_held, 0);
    }

    #[tokio::test]
    async fn guest_cpu_counts_time_inside_polls_not_time_waiting() {
        let cost = FunctionCost::new(Instant::now(), PatternParams::default());
        cost.timed(async {
            // Waiting: not counted.
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Working: counted.
            let started = Instant::now();
            while started.elapsed() < Duration::from_millis(30) {
                std::hint::spin_loop();
            }
        })
        .await;
        let cpu = cost.totals().guest_cpu;
        assert!(cpu >= Duration::from_millis(30), "{cpu:?}");
        assert!(
            cpu < Duration::from_millis(100),
            "the sleep was counted: {cpu:?}"
        );
    }

    #[test]
    fn the_instance_peak_keeps_the_largest() {
        let cost = FunctionCost::new(Instant::now(), PatternParams::default());
        cost.instance_reached(65536);
        cost.instance_reached(1024);
        assert_eq!(cost.totals().instance_peak_bytes, 65536);
    }
}
