//! One instance's memory limits, and the bytes its linear memories and tables really take,
//! charged to its function's [`FunctionCost`] while the instance lives.

use crate::cost::FunctionCost;
use std::sync::Arc;
use wasmtime::{ResourceLimiter, StoreLimits};

/// Bytes a table element takes in wasmtime (a pointer, per `ResourceLimiter::table_growing`).
const TABLE_ELEMENT_BYTES: u64 = size_of::<usize>() as u64;

/// wasmtime's [`StoreLimits`] (the manifest's memory limit) plus the account of what was granted.
///
/// wasmtime asks the limiter for every linear memory and table when it is created (growing from
/// zero) and whenever it grows, so `bytes` is exactly the instance's linear memory and table
/// size; pages of a copy-on-write memory image count once mapped, touched or not.
pub(crate) struct InstanceLimits {
    limits: StoreLimits,
    cost: Arc<FunctionCost>,
    bytes: u64,
    /// Granted by the last `*_growing` call but not yet known to have succeeded.
    pending: u64,
}

impl InstanceLimits {
    pub(crate) fn new(limits: StoreLimits, cost: &Arc<FunctionCost>) -> Self {
        InstanceLimits {
            limits,
            cost: cost.clone(),
            bytes: 0,
            pending: 0,
        }
    }

    fn grant(&mut self, bytes: u64) {
        self.bytes = self.bytes.saturating_add(bytes);
        self.pending = bytes;
        self.cost.change(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    fn take_back(&mut self) {
        let bytes = std::mem::take(&mut self.pending);
        self.bytes = self.bytes.saturating_sub(bytes);
        self.cost.change(-i64::try_from(bytes).unwrap_or(i64::MAX));
    }
}

impl ResourceLimiter for InstanceLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.grant(desired.saturating_sub(current) as u64);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.take_back();
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.table_growing(current, desired, maximum)?;
        if allowed {
            self.grant(desired.saturating_sub(current) as u64 * TABLE_ELEMENT_BYTES);
        }
        Ok(allowed)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.take_back();
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl Drop for InstanceLimits {
    fn drop(&mut self) {
        self.cost.instance_reached(self.bytes);
        self.cost
            .change(-i64::try_from(self.bytes).unwrap_or(i64::MAX));
    }
}
