//! The keep-alive policy a node runs, chosen by name in config and in the simulator, so every
//! baseline runs through the same code (round2-design §1.3 item 7, §2.4).

use super::break_even::{BreakEvenRule, ColdStartWorth};
use super::pattern::Pattern;
use super::windows::{HistogramRule, Windows};
use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which function leaves first when the byte budget is exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// FaaSCache's Greedy-Dual (Fuerst & Sharma, ASPLOS 2021, §4): lowest
    /// `clock + frequency × cost / bytes` first.
    GreedyDual,
    /// Least recently used first.
    Lru,
}

/// How a [`Residency`](super::Residency) evicts under its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvictionRule {
    /// Who goes first.
    pub order: Order,
    /// Whether a function leaves layer by layer, cheapest to restore first (RainbowCake, Yu et
    /// al., ASPLOS 2024), or whole.
    pub layered: bool,
}

/// A keep-alive policy: the windows it gives a function and how it evicts under the budget.
///
/// Text forms (`FromStr` and `Display`; durations in humantime form, `10m`, `90s`, `1h 30m`):
///
/// | text | windows | under the budget |
/// |---|---|---|
/// | `fixed` | keep alive for each function's `idle_timeout` (today's behaviour) | LRU |
/// | `fixed:DURATION` | keep alive for `DURATION` (AWS 10 min, Azure 20 min) | LRU |
/// | `adaptive[:DURATION]` | break-even on the idle-time histogram ([`BreakEvenRule`]) | Greedy-Dual, layered |
/// | `hybrid[:DURATION]` | hybrid histogram ([`HistogramRule`]) | Greedy-Dual, layered |
/// | `histogram[:DURATION]` | hybrid histogram | LRU |
/// | `greedy-dual[:DURATION]` | keep alive for the fallback | Greedy-Dual |
/// | `lru` | never unloaded for idleness | LRU |
/// | `none` | unloaded at the end of every call | LRU |
///
/// The optional `DURATION` replaces `idle_timeout` as the fallback keep-alive (`hybrid:4h` is
/// SitW's own fallback). `gd-hist`, `hist` and `gd` (round2-design's names) are read as
/// `hybrid`, `histogram` and `greedy-dual`. `adaptive` prices idle memory against cold starts
/// at [`ColdStartWorth::DEFAULT`] (64 MiB held 10 minutes per cold start); `adaptive@WORTH`
/// (e.g. `adaptive@16MiB*10m`, or `adaptive:5m@1GiB*1h`) at another price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlivePolicy {
    /// A fixed keep-alive: `Some(ttl)`, or each function's `idle_timeout` when `None`.
    Fixed(Option<Duration>),
    /// The proposed policy: break-even windows from the idle-time histogram and the
    /// function's bytes, Greedy-Dual eviction by layer.
    Adaptive(Option<Duration>, ColdStartWorth),
    /// SitW's hybrid histogram windows, Greedy-Dual eviction by layer.
    Hybrid(Option<Duration>),
    /// Hybrid histogram windows, LRU eviction.
    Histogram(Option<Duration>),
    /// Greedy-Dual eviction, a fixed keep-alive of the fallback.
    GreedyDual(Option<Duration>),
    /// No keep-alive limit, LRU eviction.
    Lru,
    /// Unload at the end of every call.
    None,
}

impl Default for KeepAlivePolicy {
    /// `fixed`: each function's `idle_timeout`, today's behaviour.
    fn default() -> Self {
        KeepAlivePolicy::Fixed(None)
    }
}

impl KeepAlivePolicy {
    /// The windows this policy gives a function with `pattern` whose fallback keep-alive (its
    /// manifest's `idle_timeout`) is `fallback` and which holds `bytes` when fully resident
    /// ([`Footprint::bytes`](super::Footprint::bytes)).
    pub fn windows(&self, pattern: &Pattern, fallback: Duration, bytes: u64) -> Windows {
        match *self {
            KeepAlivePolicy::Fixed(ttl) => Windows::keep(ttl.unwrap_or(fallback)),
            KeepAlivePolicy::Adaptive(own, worth) => BreakEvenRule {
                worth,
                ..BreakEvenRule::default()
            }
            .windows(pattern, own.unwrap_or(fallback), bytes),
            KeepAlivePolicy::Hybrid(own) | KeepAlivePolicy::Histogram(own) => {
                HistogramRule::default().windows(pattern, own.unwrap_or(fallback))
            }
            KeepAlivePolicy::GreedyDual(own) => Windows::keep(own.unwrap_or(fallback)),
            KeepAlivePolicy::Lru => Windows::FOREVER,
            KeepAlivePolicy::None => Windows::keep(Duration::ZERO),
        }
    }

    /// Whether its windows may pre-warm (unload at a call's end and load again later), so a
    /// node must review a function right after its calls end, not only at its keep-alive
    /// deadline, to unload it when the simulator does.
    pub fn may_prewarm(&self) -> bool {
        matches!(
            self,
            KeepAlivePolicy::Adaptive(..)
                | KeepAlivePolicy::Hybrid(_)
                | KeepAlivePolicy::Histogram(_)
        )
    }

    /// The price of a cold start `adaptive` keeps functions by; `None` for other policies.
    pub fn worth(&self) -> Option<ColdStartWorth> {
        match self {
            KeepAlivePolicy::Adaptive(_, worth) => Some(*worth),
            _ => None,
        }
    }

    /// How this policy evicts under the byte budget.
    pub fn eviction(&self) -> EvictionRule {
        match self {
            KeepAlivePolicy::Adaptive(..) | KeepAlivePolicy::Hybrid(_) => EvictionRule {
                order: Order::GreedyDual,
                layered: true,
            },
            KeepAlivePolicy::GreedyDual(_) => EvictionRule {
                order: Order::GreedyDual,
                layered: false,
            },
            _ => EvictionRule {
                order: Order::Lru,
                layered: false,
            },
        }
    }
}

impl FromStr for KeepAlivePolicy {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidPolicy {
            text: text.to_owned(),
            reason,
        };
        let (policy, worth) = match text.trim().split_once('@') {
            Some((policy, worth)) => (policy, Some(worth.trim())),
            None => (text.trim(), None),
        };
        let (name, argument) = match policy.split_once(':') {
            Some((name, argument)) => (name.trim(), Some(argument.trim())),
            None => (policy.trim(), None),
        };
        let worth = match worth {
            None => ColdStartWorth::DEFAULT,
            Some(_) if name != "adaptive" => {
                return Err(invalid(format!(
                    "only `adaptive` prices cold starts (`adaptive@64MiB*10m`); `{name}` takes no `@`"
                )));
            }
            Some(worth) => worth
                .parse::<ColdStartWorth>()
                .map_err(|e| invalid(e.to_string()))?,
        };
        let duration = match argument {
            None => None,
            Some(argument) => Some(humantime::parse_duration(argument).map_err(|e| {
                invalid(format!(
                    "`{argument}` is not a duration ({e}); write it like `10m`, `90s` or `1h 30m`"
                ))
            })?),
        };
        let no_duration = |policy: KeepAlivePolicy| match argument {
            None => Ok(policy),
            Some(_) => Err(invalid(format!("`{name}` takes no duration"))),
        };
        match name {
            "fixed" => Ok(KeepAlivePolicy::Fixed(duration)),
            "adaptive" => Ok(KeepAlivePolicy::Adaptive(duration, worth)),
            "hybrid" | "gd-hist" => Ok(KeepAlivePolicy::Hybrid(duration)),
            "histogram" | "hist" => Ok(KeepAlivePolicy::Histogram(duration)),
            "greedy-dual" | "gd" => Ok(KeepAlivePolicy::GreedyDual(duration)),
            "lru" => no_duration(KeepAlivePolicy::Lru),
            "none" => no_duration(KeepAlivePolicy::None),
            "" => Err(invalid("the name is empty".to_owned())),
            other => Err(invalid(format!("unknown policy `{other}`"))),
        }
    }
}

impl fmt::Display for KeepAlivePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, duration) = match *self {
            KeepAlivePolicy::Fixed(ttl) => ("fixed", ttl),
            KeepAlivePolicy::Adaptive(d, _) => ("adaptive", d),
            KeepAlivePolicy::Hybrid(d) => ("hybrid", d),
            KeepAlivePolicy::Histogram(d) => ("histogram", d),
            KeepAlivePolicy::GreedyDual(d) => ("greedy-dual", d),
            KeepAlivePolicy::Lru => ("lru", None),
            KeepAlivePolicy::None => ("none", None),
        };
        match duration {
            Some(d) => write!(f, "{name}:{}", humantime::format_duration(d))?,
            None => f.write_str(name)?,
        }
        match self.worth() {
            Some(worth) if worth != ColdStartWorth::DEFAULT => write!(f, "@{worth}"),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
