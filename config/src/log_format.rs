//! How the gateway writes its logs.

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The shape of log lines: for people at a terminal, or for a log collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum LogFormat {
    /// Coloured, aligned text for a terminal (`human`).
    #[default]
    Human,
    /// One JSON object per line, for log collectors (`json`).
    Json,
}

impl FromStr for LogFormat {
    type Err = Error;

    /// Parses `human` or `json`, ignoring ASCII case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err(Error::InvalidLogFormat {
                input: s.to_owned(),
            }),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Human => "human",
            LogFormat::Json => "json",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_parse_and_print_back() {
        for format in [LogFormat::Human, LogFormat::Json] {
            assert_eq!(format.to_string().parse::<LogFormat>().unwrap(), format);
        }
        assert_eq!(" JSON ".parse::<LogFormat>().unwrap(), LogFormat::Json);
    }

    #[test]
    fn other_formats_are_refused_with_the_choices() {
        let e = "xml".parse::<LogFormat>().unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert_eq!(
            e.to_string(),
            "log format `xml` is invalid: use `human` or `json`"
        );
    }
}
