//! The calls a simulation replays: each function's name and every call's start and duration.

use crate::error::{Error, Result};
use std::time::Duration;

/// One call, 16 bytes, so a 14-day trace of tens of millions of calls fits in memory: times in
/// microseconds (a duration saturates at about 71 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    start_micros: u64,
    duration_micros: u32,
    function: u32,
}

impl Call {
    /// A call of function `function` (an index into the workload's names) from `start` (since
    /// the trace's origin) lasting `duration`.
    pub fn new(function: u32, start: Duration, duration: Duration) -> Self {
        Call {
            start_micros: u64::try_from(start.as_micros()).unwrap_or(u64::MAX),
            duration_micros: u32::try_from(duration.as_micros()).unwrap_or(u32::MAX),
            function,
        }
    }

    /// The function called.
    pub fn function(&self) -> u32 {
        self.function
    }

    /// When it starts, since the trace's origin.
    pub fn start(&self) -> Duration {
        Duration::from_micros(self.start_micros)
    }

    /// How long it runs.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(u64::from(self.duration_micros))
    }

    /// When it ends.
    pub fn end(&self) -> Duration {
        self.start().saturating_add(self.duration())
    }
}

/// The functions and calls of a trace, calls sorted by start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    functions: Vec<String>,
    calls: Vec<Call>,
}

impl Workload {
    /// A workload of `functions` (names, by index) and `calls` in any order.
    ///
    /// # Errors
    /// [`Error::UnknownFunction`] when a call names an index past `functions`.
    pub fn new(functions: Vec<String>, mut calls: Vec<Call>) -> Result<Workload> {
        if let Some((index, call)) = calls
            .iter()
            .enumerate()
            .find(|(_, c)| c.function as usize >= functions.len())
        {
            return Err(Error::UnknownFunction {
                index,
                function: call.function,
                functions: functions.len(),
            });
        }
        calls.sort_by_key(|c| (c.start_micros, c.function));
        Ok(Workload { functions, calls })
    }

    /// Function names by index.
    pub fn functions(&self) -> &[String] {
        &self.functions
    }

    /// The calls, by start.
    pub fn calls(&self) -> &[Call] {
        &self.calls
    }

    /// From the origin to the last call's end.
    pub fn span(&self) -> Duration {
        self.calls
            .iter()
            .map(Call::end)
            .max()
            .unwrap_or(Duration::ZERO)
    }
}
