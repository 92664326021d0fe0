//! Traffic between the versions of one function: the weights an admin sets (`PUT
//! /functions/{name}/traffic`), the table a request is routed by, and the sticky key that keeps
//! a client on one version.
//!
//! Weights are whole percent. They become a table of [`BUCKETS`] slots, each naming the version
//! it sends to, built once when the weights change; a request draws a slot (at random, or by
//! hashing its sticky value) and reads the version there: no lock, no allocation.

use crate::catalog::Deployed;
use crate::error::ApiError;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmgate_config::StickyKey;

/// Slots of a weight table: weights are whole percent, so one slot is one percent.
pub const BUCKETS: usize = 100;

/// How to write a traffic body; the end of every refusal of one.
const TRAFFIC_RULE: &str = "send a JSON object from version number to whole-percent weight, the weights summing to 100, e.g. {\"7\": 90, \"8\": 10} (GET /functions/NAME/versions lists the kept versions)";

/// Live versions and their weights in percent (0 to 100, summing to 100, at least one version).
/// A version at weight 0 takes no share but can be called by tag (`/fn/NAME@K`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<u64, u8>", into = "BTreeMap<u64, u8>")]
pub struct Weights(BTreeMap<u64, u8>);

impl Weights {
    /// All traffic to `version` (what a deploy or a rollback sets).
    pub fn single(version: u64) -> Weights {
        Weights(BTreeMap::from([(version, 100)]))
    }

    /// Parses a `PUT .../traffic` body, refusing (`400 invalid_traffic`, naming the fix) anything
    /// but an object of kept versions (`is_kept`) to integer weights summing to 100.
    pub fn parse(body: &[u8], is_kept: impl Fn(u64) -> bool) -> Result<Weights, ApiError> {
        let refuse = |problem: String| ApiError::InvalidTraffic {
            reason: format!("{problem}; {TRAFFIC_RULE}"),
        };
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
            .map_err(|e| refuse(format!("the body is not a JSON object ({e})")))?;
        let mut weights = BTreeMap::new();
        for (key, value) in &object {
            let version: u64 = key
                .parse()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| refuse(format!("{key:?} is not a version number")))?;
            let weight = value
                .as_u64()
                .and_then(|w| u8::try_from(w).ok())
                .filter(|w| *w <= 100)
                .ok_or_else(|| {
                    refuse(format!(
                        "the weight of version {version} is {value}, not a whole number from 0 to 100"
                    ))
                })?;
            if !is_kept(version) {
                return Err(refuse(format!("version {version} is not kept")));
            }
            weights.insert(version, weight);
        }
        Weights::try_from(weights).map_err(|e| refuse(e.to_owned()))
    }

    /// The version taking the largest share (the newest among equals): its record stands for
    /// the function wherever one version must (manifest routes, triggers, the sticky key).
    pub fn primary(&self) -> u64 {
        self.0
            .iter()
            .max_by_key(|(version, weight)| (**weight, **version))
            .map(|(version, _)| *version)
            .expect("weights are never empty")
    }

    /// Whether `version` is live (at any weight, 0 included).
    pub fn contains(&self, version: u64) -> bool {
        self.0.contains_key(&version)
    }

    /// Whether every request goes to one version.
    pub fn is_single(&self) -> bool {
        self.0.len() == 1
    }

    /// Versions and weights, in version order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u8)> + '_ {
        self.0.iter().map(|(v, w)| (*v, *w))
    }
}

impl TryFrom<BTreeMap<u64, u8>> for Weights {
    type Error = &'static str;

    fn try_from(weights: BTreeMap<u64, u8>) -> Result<Self, Self::Error> {
        if weights.is_empty() {
            return Err("no version is named");
        }
        let sum: u32 = weights.values().map(|w| u32::from(*w)).sum();
        if sum != 100 {
            return Err("the weights do not sum to 100");
        }
        Ok(Weights(weights))
    }
}

impl From<Weights> for BTreeMap<u64, u8> {
    fn from(weights: Weights) -> Self {
        weights.0
    }
}

/// For each of the [`BUCKETS`] slots, the index (into the live versions, in version order) of
/// the version it sends to: weight `w` fills `w` consecutive slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightTable([u8; BUCKETS]);

impl WeightTable {
    /// The table of `weights`.
    pub fn new(weights: &Weights) -> WeightTable {
        let mut slots = [0u8; BUCKETS];
        let mut next = 0;
        for (index, (_, weight)) in weights.iter().enumerate() {
            let index = u8::try_from(index).unwrap_or(u8::MAX);
            for slot in slots.iter_mut().skip(next).take(usize::from(weight)) {
                *slot = index;
            }
            next += usize::from(weight);
        }
        WeightTable(slots)
    }

    /// The version index slot `bucket` (taken modulo [`BUCKETS`]) sends to.
    pub fn get(&self, bucket: usize) -> usize {
        usize::from(self.0[bucket % BUCKETS])
    }
}

/// The slot a sticky value lands in: FNV-1a (64-bit) of its bytes, modulo [`BUCKETS`]. Fixed
/// and unkeyed on purpose, so the same value lands in the same slot on every node and after a
/// restart; a client choosing its value can only choose its version, which it may call by tag
/// anyway.
pub fn sticky_bucket(value: &[u8]) -> usize {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = value
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME));
    (hash % BUCKETS as u64) as usize
}

/// The sticky value `key` names in `headers`, if the request carries one (no allocation).
pub fn sticky_value<'a>(key: &StickyKey, headers: &'a HeaderMap) -> Option<&'a [u8]> {
    match key {
        StickyKey::Header(name) => headers
            .get(name.as_str())
            .map(|v| v.as_bytes())
            .filter(|v| !v.is_empty()),
        StickyKey::Cookie(name) => headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.as_bytes())
            .filter(|v| !v.is_empty()),
    }
}

/// A function whose traffic is split between several live versions: built once per change of
/// weights, read by every request.
#[derive(Debug)]
pub struct Split {
    versions: Vec<Arc<Deployed>>,
    table: WeightTable,
    sticky: Option<StickyKey>,
}

impl Split {
    /// The split of `weights` over `versions` (the live versions' entries, in version order, one
    /// per weight); the sticky key is the primary version's.
    pub fn new(weights: &Weights, versions: Vec<Arc<Deployed>>, primary: &Deployed) -> Split {
        Split {
            table: WeightTable::new(weights),
            sticky: primary.record.manifest.traffic.sticky.clone(),
            versions,
        }
    }

    /// The version this request goes to: by its sticky value when it has one, else at random
    /// by weight.
    pub fn choose(&self, headers: &HeaderMap) -> &Arc<Deployed> {
        let bucket = match self.sticky.as_ref().and_then(|k| sticky_value(k, headers)) {
            Some(value) => sticky_bucket(value),
            None => rand::random_range(0..BUCKETS),
        };
        let index = self.table.get(bucket).min(self.versions.len() - 1);
        &self.versions[index]
    }

    /// The live version numbered `version`, for a call by tag.
    pub fn tagged(&self, version: u64) -> Option<&Arc<Deployed>> {
        self.versions.iter().find(|d| d.record.version == version)
    }

    /// Every live version, in version order.
    pub fn versions(&self) -> &[Arc<Deployed>] {
        &self.versions
    }
}

#[cfg(test)]
mod tests;
