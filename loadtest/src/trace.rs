//! Recorded serverless traffic to replay: the two shapes of the Azure Functions public traces,
//! told apart by their header.
//!
//! - Azure 2019, per-minute counts: `HashOwner,HashApp,HashFunction,Trigger,1,2,...,1440`, one
//!   row per function, column `k` = invocations in minute `k`. Replayed minute by minute, each
//!   minute's invocations at seeded uniformly random instants within it.
//! - Azure 2021, one row per invocation: `app,func,end_timestamp,duration` in seconds from the
//!   start of the trace (the sample shipped with wasmgate). Replayed at start = end − duration.
//!
//! Each distinct function gets an index in order of first appearance; scenarios call function
//! `i` `lt-i`.

use crate::error::{Error, Result};
use crate::schedule::Arrival;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The leading columns of the Azure 2019 per-minute format; minute columns `1`, `2`, ... follow.
const PER_MINUTE_KEYS: [&str; 4] = ["HashOwner", "HashApp", "HashFunction", "Trigger"];

/// The columns of the Azure 2021 per-invocation format, in any order.
const INVOCATION_COLUMNS: [&str; 4] = ["app", "func", "end_timestamp", "duration"];

/// Seconds in a trace minute.
const MINUTE_SECS: f64 = 60.0;

/// Which of the two formats a trace was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceFormat {
    /// Azure 2019: invocation counts per function and minute.
    PerMinute,
    /// Azure 2021: one row per invocation with its end time and duration.
    Invocations,
}

/// A parsed trace.
#[derive(Clone, Debug)]
pub struct Trace {
    functions: Vec<String>,
    calls: Calls,
}

#[derive(Clone, Debug)]
enum Calls {
    /// `counts[function][minute]`, every row as long as the header says.
    PerMinute(Vec<Vec<u32>>),
    /// Sorted by start.
    Invocations(Vec<Invocation>),
}

/// One invocation of the per-invocation format, 16 bytes (a 14-day trace holds tens of millions).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Invocation {
    /// Seconds from the trace's start.
    pub(crate) start: f64,
    /// Seconds it ran.
    pub(crate) duration: f32,
    /// The function's index.
    pub(crate) function: u32,
}

impl Trace {
    /// Reads and parses the trace at `path`.
    pub fn from_path(path: &Path) -> Result<Trace> {
        let file = std::fs::File::open(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Trace::from_reader(file)
    }

    /// Parses a trace in either format, recognised by its header.
    pub fn from_reader(reader: impl Read) -> Result<Trace> {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(reader);
        let header = csv.headers().map_err(csv_error)?.clone();
        let columns: Vec<&str> = header.iter().collect();
        if columns.len() > PER_MINUTE_KEYS.len()
            && columns[..PER_MINUTE_KEYS.len()] == PER_MINUTE_KEYS
        {
            parse_per_minute(&mut csv, &columns)
        } else if let Some(index) = invocation_columns(&columns) {
            parse_invocations(&mut csv, index)
        } else {
            Err(Error::Trace {
                line: 1,
                reason: format!(
                    "unrecognised header `{}`; expected `{}` (Azure 2021, one row per \
                     invocation) or `{},1,2,...` (Azure 2019, invocations per minute)",
                    columns.join(","),
                    INVOCATION_COLUMNS.join(","),
                    PER_MINUTE_KEYS.join(","),
                ),
            })
        }
    }

    /// Which format the trace was read from.
    pub fn format(&self) -> TraceFormat {
        match self.calls {
            Calls::PerMinute(_) => TraceFormat::PerMinute,
            Calls::Invocations(_) => TraceFormat::Invocations,
        }
    }

    /// The trace's function ids (`app/func`, or `owner/app/func`), by function index.
    pub fn functions(&self) -> &[String] {
        &self.functions
    }

    /// How many invocations the whole trace holds.
    pub fn invocations(&self) -> u64 {
        match &self.calls {
            Calls::PerMinute(counts) => counts.iter().flatten().map(|&c| u64::from(c)).sum(),
            Calls::Invocations(calls) => calls.len() as u64,
        }
    }

    /// Every invocation of the per-invocation format, by start; `None` for the per-minute
    /// format, which has no durations.
    pub(crate) fn invocations_with_durations(&self) -> Option<&[Invocation]> {
        match &self.calls {
            Calls::Invocations(calls) => Some(calls),
            Calls::PerMinute(_) => None,
        }
    }

    /// The stretch of trace time the invocations fall in (from 0), before any speed-up.
    pub fn span(&self) -> Duration {
        match &self.calls {
            Calls::PerMinute(counts) => {
                let minutes = counts.first().map_or(0, Vec::len);
                Duration::from_secs_f64(minutes as f64 * MINUTE_SECS)
            }
            Calls::Invocations(calls) => {
                Duration::from_secs_f64(calls.last().map_or(0.0, |call| call.start))
            }
        }
    }

    /// The arrivals of a replay `speedup` times faster than recorded (60 replays a trace minute
    /// per second), in time order. `seed` places the per-minute format's invocations within
    /// their minute.
    pub fn arrivals(self: &Arc<Self>, speedup: f64, seed: u64) -> Arrivals {
        Arrivals {
            trace: Arc::clone(self),
            speedup,
            rng: StdRng::seed_from_u64(seed),
            next: 0,
            minute: Vec::new(),
        }
    }
}

/// The arrivals of a trace replay, produced lazily: the per-minute format expands one minute
/// at a time, since a busy day of a real trace holds hundreds of millions of invocations.
#[derive(Debug)]
pub struct Arrivals {
    trace: Arc<Trace>,
    speedup: f64,
    rng: StdRng,
    /// The next invocation (per-invocation format) or minute (per-minute format) to expand.
    next: usize,
    /// The rest of the current minute, latest first so `pop` yields the earliest.
    minute: Vec<Arrival>,
}

impl Iterator for Arrivals {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        let at = |secs: f64, speedup: f64| Duration::from_secs_f64((secs / speedup).max(0.0));
        match &self.trace.calls {
            Calls::Invocations(calls) => {
                let call = calls.get(self.next)?;
                self.next += 1;
                Some(Arrival {
                    at: at(call.start, self.speedup),
                    function: call.function as usize,
                })
            }
            Calls::PerMinute(counts) => loop {
                if let Some(arrival) = self.minute.pop() {
                    return Some(arrival);
                }
                let minute = self.next;
                if minute >= counts.first().map_or(0, Vec::len) {
                    return None;
                }
                self.next += 1;
                let begin = minute as f64 * MINUTE_SECS;
                for (function, row) in counts.iter().enumerate() {
                    for _ in 0..row[minute] {
                        let secs = begin + self.rng.random::<f64>() * MINUTE_SECS;
                        self.minute.push(Arrival {
                            at: at(secs, self.speedup),
                            function,
                        });
                    }
                }
                self.minute
                    .sort_unstable_by_key(|a| std::cmp::Reverse(a.at));
            },
        }
    }
}

/// Gives each distinct key an index in order of first appearance.
#[derive(Default)]
struct FunctionIds {
    ids: HashMap<String, usize>,
    names: Vec<String>,
}

impl FunctionIds {
    fn index(&mut self, key: String) -> usize {
        let next = self.names.len();
        *self.ids.entry(key.clone()).or_insert_with(|| {
            self.names.push(key);
            next
        })
    }
}

fn parse_per_minute(csv: &mut csv::Reader<impl Read>, columns: &[&str]) -> Result<Trace> {
    let minute_columns = &columns[PER_MINUTE_KEYS.len()..];
    for (k, column) in minute_columns.iter().enumerate() {
        if column.parse::<usize>() != Ok(k + 1) {
            return Err(Error::Trace {
                line: 1,
                reason: format!(
                    "minute column {} is named `{column}`, expected `{}`",
                    k + 1,
                    k + 1
                ),
            });
        }
    }
    let mut ids = FunctionIds::default();
    let mut counts: Vec<Vec<u32>> = Vec::new();
    for record in csv.records() {
        let record = record.map_err(csv_error)?;
        let line = line_of(&record);
        if record.len() != columns.len() {
            return Err(Error::Trace {
                line,
                reason: format!("{} fields, the header has {}", record.len(), columns.len()),
            });
        }
        let key = format!("{}/{}/{}", &record[0], &record[1], &record[2]);
        let function = ids.index(key);
        if function == counts.len() {
            counts.push(vec![0; minute_columns.len()]);
        }
        for (minute, field) in record.iter().skip(PER_MINUTE_KEYS.len()).enumerate() {
            let n: u32 = field.parse().map_err(|_| Error::Trace {
                line,
                reason: format!(
                    "minute {}: `{field}` is not a count of invocations",
                    minute + 1
                ),
            })?;
            counts[function][minute] = counts[function][minute].saturating_add(n);
        }
    }
    Ok(Trace {
        functions: ids.names,
        calls: Calls::PerMinute(counts),
    })
}

/// The positions of `app`, `func`, `end_timestamp` and `duration`, if all are present.
fn invocation_columns(columns: &[&str]) -> Option<[usize; 4]> {
    let find = |name| columns.iter().position(|c| *c == name);
    Some([
        find(INVOCATION_COLUMNS[0])?,
        find(INVOCATION_COLUMNS[1])?,
        find(INVOCATION_COLUMNS[2])?,
        find(INVOCATION_COLUMNS[3])?,
    ])
}

fn parse_invocations(csv: &mut csv::Reader<impl Read>, index: [usize; 4]) -> Result<Trace> {
    let [app, func, end, duration] = index;
    let mut ids = FunctionIds::default();
    let mut calls = Vec::new();
    for record in csv.records() {
        let record = record.map_err(csv_error)?;
        let line = line_of(&record);
        let field = |i: usize, name: &str| {
            record.get(i).ok_or_else(|| Error::Trace {
                line,
                reason: format!("no `{name}` field ({} fields)", record.len()),
            })
        };
        let seconds = |i: usize, name: &str| -> Result<f64> {
            let text = field(i, name)?;
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(Error::Trace {
                    line,
                    reason: format!("`{name}` is `{text}`, expected seconds (a number >= 0)"),
                }),
            }
        };
        let end = seconds(end, "end_timestamp")?;
        let took = seconds(duration, "duration")?;
        let key = format!("{}/{}", field(app, "app")?, field(func, "func")?);
        let function = u32::try_from(ids.index(key)).map_err(|_| Error::Trace {
            line,
            reason: "more than 4,294,967,295 distinct functions".to_owned(),
        })?;
        // An invocation that began before the trace window starts with it.
        calls.push(Invocation {
            start: (end - took).max(0.0),
            duration: took as f32,
            function,
        });
    }
    calls.sort_by(|a, b| a.start.total_cmp(&b.start));
    Ok(Trace {
        functions: ids.names,
        calls: Calls::Invocations(calls),
    })
}

fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

fn csv_error(e: csv::Error) -> Error {
    Error::Trace {
        line: e.position().map_or(0, csv::Position::line),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
