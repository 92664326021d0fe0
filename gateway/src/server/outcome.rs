//! How a client connection ended: every end counted in `wasmgate_connections_closed_total`, and
//! the ones the client caused logged at warn at a bounded rate, so an attack costs the log a
//! few lines per second whatever its size.

use super::h1_framing::Violation;
use super::h2_frames::Flood;
use crate::log_budget::LogBudget;
use prometheus::IntCounterVec;
use std::net::SocketAddr;

/// Why a connection ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The client closed it, or went away.
    ClientClosed,
    /// No request (HTTP/1.1) or no open stream (HTTP/2) for `http.header_read_timeout`.
    Idle,
    /// Older than `http.max_connection_age`.
    MaxAge,
    /// The gateway is shutting down.
    Drained,
    /// A write made no progress for `http.write_timeout`.
    WriteTimeout,
    /// An HTTP/2 control-frame flood: closed with GOAWAY `ENHANCE_YOUR_CALM`.
    Flood(Flood),
    /// A request whose framing a strict RFC 9112 parser reads differently.
    Framing(Violation),
    /// The protocol stack refused what the client sent (h2's Rapid Reset and CONTINUATION
    /// bounds, malformed frames or requests).
    ProtocolError(String),
}

impl Outcome {
    /// The `reason` label of `wasmgate_connections_closed_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::ClientClosed => "client_closed",
            Outcome::Idle => "idle",
            Outcome::MaxAge => "max_age",
            Outcome::Drained => "drained",
            Outcome::WriteTimeout => "write_timeout",
            Outcome::Flood(_) => "control_frame_flood",
            Outcome::Framing(_) => "request_framing",
            Outcome::ProtocolError(_) => "protocol_error",
        }
    }

    /// What the log says about an end the client caused; `None` for ordinary ends.
    fn fault(&self) -> Option<String> {
        match self {
            Outcome::WriteTimeout => Some("the client read nothing for http.write_timeout".into()),
            Outcome::Flood(flood) => Some(format!(
                "HTTP/2 control-frame flood ({} frames, last {}): GOAWAY ENHANCE_YOUR_CALM",
                flood.frames, flood.frame_type
            )),
            Outcome::Framing(violation) => Some(format!(
                "request framing refused in the {:?}: {}",
                violation.part, violation.reason
            )),
            Outcome::ProtocolError(e) => Some(format!("protocol error: {e}")),
            _ => None,
        }
    }
}

/// Counts connection ends and logs the client-caused ones at a bounded rate.
pub struct Reports {
    counter: IntCounterVec,
    /// Log lines at a bounded rate: 16,000 Rapid Reset reconnects in 20 s write a few dozen
    /// lines, not 16,000.
    log: LogBudget,
}

impl Reports {
    /// Counts into `counter` (`wasmgate_connections_closed_total{reason}`).
    pub fn new(counter: IntCounterVec) -> Self {
        Reports {
            counter,
            log: LogBudget::default(),
        }
    }

    /// Records that `client`'s connection ended with `outcome`.
    pub fn record(&self, outcome: &Outcome, client: SocketAddr) {
        self.counter.with_label_values(&[outcome.label()]).inc();
        let Some(fault) = outcome.fault() else {
            return;
        };
        let Some(unlogged) = self.log.admit() else {
            return;
        };
        tracing::warn!(
            %client,
            reason = outcome.label(),
            unlogged_since_last = unlogged,
            "connection closed: {fault}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_is_counted_and_a_flood_of_faults_logs_a_bounded_number_of_lines() {
        let counter =
            IntCounterVec::new(prometheus::Opts::new("closed", "test"), &["reason"]).unwrap();
        let reports = Reports::new(counter.clone());
        let client: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        for _ in 0..1_000 {
            reports.record(&Outcome::ProtocolError("too_many_resets".into()), client);
        }
        reports.record(&Outcome::Idle, client);
        assert_eq!(counter.with_label_values(&["protocol_error"]).get(), 1_000);
        assert_eq!(counter.with_label_values(&["idle"]).get(), 1);
        // At most the burst (plus what refilled during the loop) was logged; the rest waits in
        // the next line's `unlogged_since_last`.
        assert!(reports.log.skipped() >= 1_000 - 40);
    }
}
