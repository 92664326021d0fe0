//! A progress line on stderr while a test runs: rewritten in place a few times a second on a
//! terminal, a plain line once a second otherwise, so CI logs stay readable.

use std::io::{IsTerminal, Write};
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often a terminal line is redrawn: fast enough to look live, slow enough to cost nothing.
const TERMINAL_INTERVAL: Duration = Duration::from_millis(250);

/// How often a line is printed when stderr is a file or pipe: one line per second of a test.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Whether and how to show progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// Nothing.
    Off,
    /// A `\r` line on a terminal, a plain line per second otherwise.
    Auto,
}

/// A running progress line; stops (and clears the line) when dropped.
#[derive(Debug)]
pub struct Progress {
    task: Option<JoinHandle<()>>,
    terminal: bool,
}

impl Progress {
    /// Shows `line()` periodically until the returned value is dropped.
    pub fn start(mode: ProgressMode, line: impl Fn() -> String + Send + 'static) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        if mode == ProgressMode::Off {
            return Progress {
                task: None,
                terminal,
            };
        }
        let interval = if terminal {
            TERMINAL_INTERVAL
        } else {
            LOG_INTERVAL
        };
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            // The first tick fires at once; skip it so short steps print nothing.
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let mut err = std::io::stderr().lock();
                // A failed write to stderr has nowhere better to be reported.
                let _ = if terminal {
                    write!(err, "\r\x1b[K{}", line()).and_then(|()| err.flush())
                } else {
                    writeln!(err, "{}", line())
                };
            }
        });
        Progress {
            task: Some(task),
            terminal,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            if self.terminal {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        }
    }
}
