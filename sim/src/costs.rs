//! What each simulated function costs: bytes per layer, cold-start and warm time, by *kind*
//! (e.g. `rust`, `js`, `python`), read from a JSON costs file.
//!
//! Format (unknown fields are an error):
//!
//! ```json
//! {
//!   "note": "where the numbers come from (printed with every report)",
//!   "kinds": [
//!     {
//!       "name": "rust",
//!       "weight": 70,
//!       "code_bytes": 1153434,
//!       "linked_bytes": 65536,
//!       "instance_bytes": 1258291,
//!       "cold_start_ms": 0.8,
//!       "warm_ms": 0.05,
//!       "restore_ms": { "code": 0.525, "linked": 0.075, "instances": 0.15 }
//!     }
//!   ]
//! }
//! ```
//!
//! - `weight`: the kind's share of functions is `weight / Σ weights`; a function's kind is
//!   `xxh3_64(name) mod Σ weights` located in the cumulative weights, so it is stable across
//!   runs, traces and machines.
//! - `*_bytes`: what each [`Layer`](wasmgate_policy::Layer) holds while resident.
//! - `cold_start_ms`: a cold call's latency (nothing resident); `warm_ms`: a warm call's.
//! - `restore_ms` (optional): the time to restore each layer; the three should add up to
//!   `cold_start_ms − warm_ms`. When absent, that difference is split 70 % code, 10 % linked,
//!   20 % instances.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::time::Duration;
use wasmgate_policy::{Footprint, LayerCost};
use xxhash_rust::xxh3::xxh3_64;

/// The split of `cold_start_ms − warm_ms` over code, linked and instances when a kind gives no
/// `restore_ms`: deserializing dominates a Wasm cold start (round2-design §1.3 item 5).
pub const DEFAULT_RESTORE_SPLIT: [f64; 3] = [0.70, 0.10, 0.20];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CostsFile {
    #[serde(default)]
    note: String,
    kinds: Vec<KindFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindFile {
    name: String,
    weight: u32,
    code_bytes: u64,
    linked_bytes: u64,
    instance_bytes: u64,
    cold_start_ms: f64,
    warm_ms: f64,
    #[serde(default)]
    restore_ms: Option<RestoreFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreFile {
    code: f64,
    linked: f64,
    instances: f64,
}

/// One kind of function: what it holds and what its calls take.
#[derive(Debug, Clone, PartialEq)]
pub struct Kind {
    /// Its name (`rust`, `js`, ...).
    pub name: String,
    /// Its relative share of functions.
    pub weight: u32,
    /// Bytes and restore time per layer.
    pub footprint: Footprint,
    /// A cold call's latency.
    pub cold_start: Duration,
    /// A warm call's latency.
    pub warm: Duration,
}

/// The kinds of a costs file and the rule that gives each function its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Costs {
    note: String,
    kinds: Vec<Kind>,
    total_weight: u64,
}

impl Costs {
    /// Parses a costs file (see the module docs for the format).
    ///
    /// # Errors
    /// [`Error::Costs`] naming the field and the fix when the JSON does not parse, a field is
    /// missing or unknown, there is no kind or all weights are 0, two kinds share a name, or a
    /// time is negative or not a number, or a cold start is faster than a warm call.
    pub fn from_json(text: &str) -> Result<Costs> {
        let file: CostsFile = serde_json::from_str(text).map_err(|e| Error::Costs {
            reason: format!(
                "{e}; expected {{\"note\": \"...\", \"kinds\": [{{\"name\", \"weight\", \
                 \"code_bytes\", \"linked_bytes\", \"instance_bytes\", \"cold_start_ms\", \
                 \"warm_ms\"}}, ...]}}"
            ),
        })?;
        let invalid = |reason: String| Error::Costs { reason };
        if file.kinds.is_empty() {
            return Err(invalid("`kinds` is empty: give at least one kind".into()));
        }
        let mut kinds = Vec::with_capacity(file.kinds.len());
        for kind in file.kinds {
            if kinds.iter().any(|k: &Kind| k.name == kind.name) {
                return Err(invalid(format!(
                    "kind `{}` appears twice: give each kind once",
                    kind.name
                )));
            }
            let ms = |field: &str, value: f64| -> Result<Duration> {
                if value.is_finite() && value >= 0.0 {
                    Ok(Duration::from_secs_f64(value / 1e3))
                } else {
                    Err(invalid(format!(
                        "kind `{}`: `{field}` is {value}; give milliseconds >= 0",
                        kind.name
                    )))
                }
            };
            let cold_start = ms("cold_start_ms", kind.cold_start_ms)?;
            let warm = ms("warm_ms", kind.warm_ms)?;
            if cold_start < warm {
                return Err(invalid(format!(
                    "kind `{}`: cold_start_ms {} is below warm_ms {}; a cold call includes a \
                     warm call's work",
                    kind.name, kind.cold_start_ms, kind.warm_ms
                )));
            }
            let [code, linked, instances] = match &kind.restore_ms {
                Some(r) => [
                    ms("restore_ms.code", r.code)?,
                    ms("restore_ms.linked", r.linked)?,
                    ms("restore_ms.instances", r.instances)?,
                ],
                None => DEFAULT_RESTORE_SPLIT.map(|share| (cold_start - warm).mul_f64(share)),
            };
            let layer = |bytes, restore| LayerCost { bytes, restore };
            kinds.push(Kind {
                footprint: Footprint {
                    code: layer(kind.code_bytes, code),
                    linked: layer(kind.linked_bytes, linked),
                    instances: layer(kind.instance_bytes, instances),
                },
                name: kind.name,
                weight: kind.weight,
                cold_start,
                warm,
            });
        }
        let total_weight = kinds.iter().map(|k| u64::from(k.weight)).sum();
        if total_weight == 0 {
            return Err(invalid(
                "every weight is 0: give at least one kind a positive weight".into(),
            ));
        }
        Ok(Costs {
            note: file.note,
            kinds,
            total_weight,
        })
    }

    /// The file's `note` (where its numbers come from).
    pub fn note(&self) -> &str {
        &self.note
    }

    /// The kinds, in file order.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// The index (in [`Costs::kinds`]) of the kind of the function named `name`.
    pub fn kind_index(&self, name: &str) -> usize {
        let mut point = xxh3_64(name.as_bytes()) % self.total_weight;
        for (i, kind) in self.kinds.iter().enumerate() {
            let weight = u64::from(kind.weight);
            if point < weight {
                return i;
            }
            point -= weight;
        }
        // Unreachable: the weights add up to `total_weight` > `point`.
        self.kinds.len() - 1
    }

    /// The kind of the function named `name`.
    pub fn kind_of(&self, name: &str) -> &Kind {
        &self.kinds[self.kind_index(name)]
    }
}

#[cfg(test)]
mod tests;
