//! The node's wasmtime engines (WASI 0.2 and 0.3) and the thread that drives their epoch clocks.

use crate::cpu_share::CpuShare;
use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmgate_config::{PoolSettings, WasiVersion};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Core instances one component may create; Rust wasip2 guests need one or two, adapters a few more.
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 20;

/// Linear memories one component may use (one per core instance that defines memory).
const MAX_MEMORIES_PER_COMPONENT: u32 = 20;

/// Core instances and tables pooled per instance slot, on average. A Rust wasip2 guest has one or
/// two; a WASI 0.3 one built with spin-sdk 7 has three (its std still reaches WASI 0.2 through
/// shim instances), so two per slot let only two thirds of the slots run 0.3 guests. A core
/// instance or table slot costs little next to a memory slot (`max_memory` plus its guard of
/// address space), which stays at two.
const CORE_INSTANCES_PER_SLOT: u32 = 4;

/// Linear memories pooled per instance slot: the guest's own, and one for an adapter or shim.
const MEMORIES_PER_SLOT: u32 = 2;

/// The node's two engines: one for WASI 0.2 components, one with the component model's async
/// ABI for WASI 0.3 ones.
///
/// The async ABI (`concurrency_support`) makes every call pay for the concurrent store, WASI 0.2
/// components included: warm throughput of a 0.2 hello fell to 0.72x with it on for everyone
/// (bench/BEFORE-AFTER.md). So a 0.2 component is compiled for, and runs in, the engine without
/// it; only 0.3 components pay. Each engine has its own pooling allocator of `pool.instances`
/// slots (address space is reserved, not memory committed).
#[derive(Clone)]
pub struct Engines {
    /// Without the async ABI: WASI 0.2 components.
    pub p2: Engine,
    /// With the async ABI: WASI 0.3 components.
    pub p3: Engine,
}

impl Engines {
    /// Builds both engines from the settings.
    pub fn build(settings: &PoolSettings) -> Result<Self> {
        Ok(Engines {
            p2: build_engine(settings, false)?,
            p3: build_engine(settings, true)?,
        })
    }

    /// The engine that runs components of `wasi`.
    pub fn of(&self, wasi: WasiVersion) -> &Engine {
        match wasi {
            WasiVersion::P2 => &self.p2,
            WasiVersion::P3 => &self.p3,
        }
    }

    /// [`fingerprint`] of both, as one: a change to either rebuilds stored artifacts.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(fingerprint(&self.p2));
        hasher.update(fingerprint(&self.p3));
        hex::encode(hasher.finalize())
    }
}

/// Builds an engine: pooling allocator sized from settings, copy-on-write memory images,
/// epoch interruption for deadlines and yielding, the configured wasm stack and memory guard,
/// and, with `async_abi`, the component model's async ABI (`stream`, `future`, async lifts and
/// lowers), which WASI 0.3 components (`wasi:http/handler@0.3`) are built on.
///
/// The async features change what compiled code expects of the runtime, so they are part of
/// [`fingerprint`]: turning them on or off rebuilds stored artifacts at the next start.
pub fn build_engine(settings: &PoolSettings, async_abi: bool) -> Result<Engine> {
    let slots = settings.instances;
    let mut pooling = PoolingAllocationConfig::new();
    pooling
        .total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_SLOT))
        .total_memories(slots.saturating_mul(MEMORIES_PER_SLOT))
        .total_tables(slots.saturating_mul(CORE_INSTANCES_PER_SLOT))
        .total_stacks(slots)
        .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
        .max_memory_size(usize::try_from(settings.max_memory.bytes()).unwrap_or(usize::MAX));

    let mut config = Config::new();
    config
        .epoch_interruption(true)
        // WASI 0.3: `stream<T>`, `future<T>`, `async func` lifts and lowers, and the
        // concurrent store that runs them. wasmtime 48 needs nothing more for wasi:http@0.3.0
        // (what `wasmtime serve -Wcomponent-model-async` turns on).
        .concurrency_support(async_abi)
        .wasm_component_model_async(async_abi)
        .memory_init_cow(true)
        .max_wasm_stack(usize::try_from(settings.wasm_stack.bytes()).unwrap_or(usize::MAX))
        .memory_guard_size(settings.memory_guard.bytes())
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).map_err(Error::engine)
}

/// Names what `engine`'s compiled code depends on: wasmtime's version, the target CPU's features,
/// compiler flags and tunables (wasmtime's `Engine::precompile_compatibility_hash`), as the hex
/// sha256 of what that hash feeds its hasher.
///
/// Two engines with the same fingerprint load each other's artifacts; a different one means an
/// artifact must be rebuilt. The bytes follow `std::hash::Hash`, which may change with the Rust
/// toolchain: then every artifact is rebuilt once, which is slow but always safe.
pub fn fingerprint(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(hasher.0.finalize())
}

/// A `Hasher` that keeps every byte it is fed in a sha256, for a fingerprint that is stable
/// across processes (`DefaultHasher` promises no such thing).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }
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
    /// Starts ticking both engines every `tick`.
    pub fn start(engines: Engines, tick: Duration, share: Arc<CpuShare>) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasmgate-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engines.p2.increment_epoch();
                    engines.p3.increment_epoch();
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
