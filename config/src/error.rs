//! Everything that can be wrong with a name, a manifest or the server settings.

use std::path::PathBuf;

/// Result of every fallible operation in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a value, a manifest or the settings were refused; each message says how to fix the input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A function name is not a DNS-1035 label.
    #[error("function name `{}` is invalid: {reason}", shown(name))]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A byte size such as `64MiB` does not parse.
    #[error("size `{}` is invalid: {reason}", shown(input))]
    InvalidByteSize {
        /// The size as given.
        input: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A duration such as `30s` does not parse.
    #[error("duration `{}` is invalid: {reason}", shown(input))]
    InvalidDuration {
        /// The duration as given.
        input: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A manifest route is malformed or claims a path the gateway reserves.
    #[error("route `{}` is invalid: {reason}", shown(route))]
    InvalidRoute {
        /// The route as given.
        route: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A trigger subject is not a NATS subject.
    #[error("subject `{}` is invalid: {reason}", shown(subject))]
    InvalidSubject {
        /// The subject as given.
        subject: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A log format other than `human` or `json`.
    #[error("log format `{}` is invalid: use `human` or `json`", shown(input))]
    InvalidLogFormat {
        /// The format as given.
        input: String,
    },
    /// A capability name that wasmgate does not know.
    #[error("unknown capability {:?}; known: {}", shown(input), crate::Capability::ALL.map(|c| c.as_str()).join(", "))]
    InvalidCapability {
        /// The name as given.
        input: String,
    },
    /// A host pattern of a grant's host list does not parse.
    #[error("host pattern `{}` is invalid: {reason}", shown(input))]
    InvalidHostPattern {
        /// The pattern as given.
        input: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An IP range (CIDR) does not parse.
    #[error("IP range `{}` is invalid: {reason}", shown(input))]
    InvalidIpRange {
        /// The range as given.
        input: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A grant's host list does not fit its capability.
    #[error("grant of `{capability}`: {reason}")]
    InvalidGrant {
        /// The capability's name.
        capability: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A function manifest does not parse, or asks for something the node cannot do.
    #[error("invalid manifest: {reason}")]
    InvalidManifest {
        /// What is wrong, with the line and column when the TOML itself is at fault.
        reason: String,
    },
    /// One `[[schedules]]` entry cannot run: bad pattern, unknown time zone, no or two targets,
    /// or fires too often.
    #[error("invalid manifest: schedules[{index}]: {problem}: {fix}")]
    InvalidSchedule {
        /// Its position in the manifest's `[[schedules]]`, from 0.
        index: usize,
        /// What is wrong.
        problem: String,
        /// How to fix it.
        fix: String,
    },
    /// The server settings are inconsistent.
    #[error("invalid settings: {reason}")]
    InvalidSettings {
        /// Which key is wrong and what to set it to.
        reason: String,
    },
    /// The settings file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile {
        /// The file as given.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The settings file is not valid TOML or has unknown or malformed keys.
    #[error("config file {}: {reason}", path.display())]
    ParseFile {
        /// The file as given.
        path: PathBuf,
        /// What is wrong, with its line and column.
        reason: String,
    },
    /// An entry of `[secrets] env` is not a variable name or prefix, or allows too much.
    #[error("secrets.env entry `{}` is invalid: {reason}", shown(pattern))]
    InvalidEnvPattern {
        /// The entry as given.
        pattern: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A `WASMGATE_*` environment variable holds a value that does not parse.
    #[error("environment variable {var}: {reason}")]
    InvalidEnv {
        /// The variable's name.
        var: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl Error {
    /// A stable snake_case code for API responses and metrics labels; never changes with wording.
    ///
    /// `invalid_name` for names, `invalid_manifest` for anything a deploy sent (the manifest and
    /// the values inside it), `invalid_config` for the server's own settings.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidName { .. } => "invalid_name",
            Error::InvalidByteSize { .. }
            | Error::InvalidDuration { .. }
            | Error::InvalidRoute { .. }
            | Error::InvalidSubject { .. }
            | Error::InvalidManifest { .. } => "invalid_manifest",
            Error::InvalidSchedule { .. } => "invalid_schedule",
            Error::InvalidCapability { .. }
            | Error::InvalidHostPattern { .. }
            | Error::InvalidGrant { .. } => "invalid_capability",
            Error::InvalidIpRange { .. } => "invalid_config",
            Error::InvalidLogFormat { .. }
            | Error::InvalidSettings { .. }
            | Error::ReadFile { .. }
            | Error::ParseFile { .. }
            | Error::InvalidEnv { .. }
            | Error::InvalidEnvPattern { .. } => "invalid_config",
        }
    }
}

/// Longest piece of user input quoted back in a message, so a huge value cannot flood a log line
/// or an error body (a request line may carry 64 KiB of path).
const MAX_SHOWN_CHARS: usize = 80;

/// User input as it appears in a message: control characters escaped, long values cut short.
pub fn shown(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(MAX_SHOWN_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if input.chars().nth(MAX_SHOWN_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A TOML error on one line, `line L, column C: message`, for one-line CLI output and JSON bodies.
pub(crate) fn describe_toml(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_or_odd_input_is_shortened_and_escaped_in_messages() {
        let e = Error::InvalidName {
            name: format!("a\n{}", "b".repeat(200)),
            reason: "x".into(),
        };
        let message = e.to_string();
        assert!(message.contains("a\\nbbb"), "{message}");
        assert!(message.contains('…'), "{message}");
        assert!(message.len() < 150, "{message}");
    }

    #[test]
    fn toml_errors_name_their_line_and_column() {
        let text = "a = 1\nb = = 2\n";
        let error = toml::from_str::<toml::Table>(text).unwrap_err();
        let line = describe_toml(text, &error);
        assert!(line.starts_with("line 2, column 5: "), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}
