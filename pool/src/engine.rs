//! The node's one wasmtime `Engine` and the thread that drives its epoch clock.

use crate::cpu_share::CpuShare;
use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmgate_config::PoolSettings;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Core instances one component may create; Rust wasip2 guests need one or two, adapters a few more.
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 20;

/// Linear memories one component may use (one per core instance that defines memory).
const MAX_MEMORIES_PER_COMPONENT: u32 = 20;

/// Builds the engine: pooling allocator sized from settings, copy-on-write memory images,
/// epoch interruption for deadlines and yielding, and the configured wasm stack.
pub fn build_engine(settings: &PoolSettings) -> Result<Engine> {
    let slots = settings.instances;
    let mut pooling = PoolingAllocationConfig::new();
    pooling
        .total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(2))
        .total_memories(slots.saturating_mul(2))
        .total_tables(slots.saturating_mul(2))
        .total_stacks(slots)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .max_memory_size(usize::try_from(settings.max_memory.bytes()).unwrap_or(usize::MAX));

    let mut config = Config::new();
    config
        .epoch_interruption(true)
        .memory_init_cow(true)
        .max_wasm_stack(usize::try_from(settings.wasm_stack.bytes()).unwrap_or(usize::MAX))
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).map_err(Error::engine)
}

/// Increments the engine's epoch every tick on a dedicated thread until dropped.
///
/// Every store yields to the async runtime at each tick, so a guest spinning in a loop never holds a
/// runtime thread for longer than one tick, and deadlines are checked at that granularity. Each
/// tick also hands out `share`'s slices to the long-running calls waiting for one.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine` every `tick`.
    pub fn start(engine: Engine, tick: Duration, share: Arc<CpuShare>) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasmgate-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                    share.tick(std::time::Instant::now());
                }
            })
            .map_err(Error::engine)?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
