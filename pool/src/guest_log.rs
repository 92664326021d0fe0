//! Guest stdout and stderr, captured line by line into the gateway's log with the function's name
//! and the request's id, under a per-function rate limit so a chatty guest cannot flood the log.
//! The lines logged are also kept in the function's [`LogRing`] for `wasmgate logs`.

use crate::log_ring::LogRing;
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::io;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The id of the request a call serves, put in the request's extensions by the caller; guest log
/// lines carry it.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Lines per second one function may log, sustained.
const LINES_PER_SECOND: u32 = 100;
/// Lines one function may log in a burst above the sustained rate.
const BURST_LINES: u32 = 200;
/// Longest line logged as one event; longer output is cut into pieces of this size.
const MAX_LINE: usize = 4096;

/// A function's share of the log: its name, its rate limit, what the limit dropped, and the ring
/// of its recent lines (shared by every version of the name).
pub(crate) struct FunctionLog {
    function: Arc<str>,
    limiter: DefaultDirectRateLimiter,
    dropped: AtomicU64,
    ring: Arc<LogRing>,
}

impl FunctionLog {
    pub(crate) fn new(function: Arc<str>, ring: Arc<LogRing>) -> Arc<Self> {
        let per_second = NonZeroU32::new(LINES_PER_SECOND).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(BURST_LINES).unwrap_or(NonZeroU32::MIN);
        Arc::new(FunctionLog {
            function,
            limiter: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            dropped: AtomicU64::new(0),
            ring,
        })
    }

    /// Lines refused by the rate limit so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One instance's log context: its function's share, the request it serves now, and the
/// unfinished last line of its stdout and of its stderr.
///
/// The unfinished lines live here, not in each stream handle: a guest may take a fresh
/// `get-stdout()` / `get-stderr()` for every write (some language runtimes do), and the pieces
/// of one line must still make one log record, as under `wasmtime serve`. What is left unfinished
/// is logged when the call ends ([`InstanceLog::end_call`]) or the instance goes.
pub(crate) struct InstanceLog {
    function: Arc<FunctionLog>,
    /// The request served now; a reused instance serves one after another.
    request_id: Mutex<Option<Arc<str>>>,
    partial: [Mutex<Vec<u8>>; 2],
}

/// What [`InstanceLog::request_id`] says before a request is known.
static NO_REQUEST: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("-"));

impl InstanceLog {
    pub(crate) fn new(function: &Arc<FunctionLog>) -> Arc<Self> {
        Arc::new(InstanceLog {
            function: function.clone(),
            request_id: Mutex::new(None),
            partial: [Mutex::new(Vec::new()), Mutex::new(Vec::new())],
        })
    }

    /// Ties later lines (and egress refusals) to `id`, until the call ends.
    pub(crate) fn set_request(&self, id: Arc<str>) {
        *self
            .request_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(id);
    }

    /// Ends the request this instance served, before it is kept for another: logs the
    /// unfinished lines under that request's id and forgets the id.
    pub(crate) fn end_call(&self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(
                &mut *self.partial[stream as usize]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            if !line.is_empty() {
                self.emit(stream.name(), &line);
            }
        }
        *self
            .request_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The function this instance belongs to, for host log lines about it.
    pub(crate) fn function(&self) -> &str {
        &self.function.function
    }

    /// The request it serves, or `-` when it serves none.
    pub(crate) fn request_id(&self) -> Arc<str> {
        self.request_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| NO_REQUEST.clone())
    }

    /// Logs the detail of a failure the guest was told only the kind of (see
    /// `wasmgate_capabilities::guest_error`): under the function's rate limit, since a guest can
    /// repeat it as often as it prints.
    pub(crate) fn host_detail(&self, what: &'static str, detail: &str) {
        let f = &self.function;
        if f.limiter.check().is_err() {
            f.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let request_id = self.request_id();
        tracing::info!(target: "wasmgate::guest_error", function = %f.function, request_id = &*request_id, error = detail, "{what}");
    }

    fn emit(&self, stream: &'static str, line: &[u8]) {
        let f = &self.function;
        if f.limiter.check().is_err() {
            f.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let request_id = self.request_id();
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        tracing::info!(target: "wasmgate::guest", function = %f.function, request_id = &*request_id, stream, "{}", text);
        f.ring.push(request_id, stream, text);
    }

    /// The guest's stdout or stderr as a WASI stream.
    pub(crate) fn stream(self: &Arc<Self>, stream: Stream) -> GuestStream {
        GuestStream {
            log: self.clone(),
            stream,
        }
    }

    /// Logs every whole line of `bytes` after the stream's unfinished line, keeping what follows
    /// the last newline as the new unfinished line; a line reaching [`MAX_LINE`] bytes is logged
    /// in pieces rather than held.
    fn push(&self, stream: Stream, mut bytes: &[u8]) {
        let mut partial = self.partial[stream as usize]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            partial.extend_from_slice(&bytes[..end]);
            self.emit(stream.name(), &partial);
            partial.clear();
            bytes = &bytes[end + 1..];
        }
        partial.extend_from_slice(bytes);
        while partial.len() >= MAX_LINE {
            let rest = partial.split_off(MAX_LINE);
            self.emit(stream.name(), &partial);
            *partial = rest;
        }
    }
}

impl Drop for InstanceLog {
    fn drop(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let partial = self.partial[stream as usize]
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            if !partial.is_empty() {
                let line = std::mem::take(partial);
                self.emit(stream.name(), &line);
            }
        }
    }
}

/// Which output of the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    /// Its name in log records (`stream="stdout"`).
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// What the WASI context holds for stdout or stderr; every handle the guest opens shares its lines.
pub(crate) struct GuestStream {
    log: Arc<InstanceLog>,
    stream: Stream,
}

impl IsTerminal for GuestStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.writer())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.writer())
    }
}

impl GuestStream {
    fn writer(&self) -> LineWriter {
        LineWriter {
            log: self.log.clone(),
            stream: self.stream,
        }
    }
}

/// One handle on a guest's stdout or stderr: its writes go to the instance's line buffer.
pub(crate) struct LineWriter {
    log: Arc<InstanceLog>,
    stream: Stream,
}

impl LineWriter {
    fn push(&mut self, bytes: &[u8]) {
        self.log.push(self.stream, bytes);
    }
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (LineWriter, Arc<InstanceLog>, Arc<FunctionLog>) {
        let function = FunctionLog::new("f".into(), LogRing::new());
        let log = InstanceLog::new(&function);
        (log.stream(Stream::Stdout).writer(), log, function)
    }

    fn partial(log: &InstanceLog, stream: Stream) -> Vec<u8> {
        log.partial[stream as usize].lock().unwrap().clone()
    }

    #[test]
    fn lines_past_the_burst_are_dropped_and_counted() {
        let (mut w, _, function) = writer();
        let text = "x\n".repeat(BURST_LINES as usize + 50);
        w.push(text.as_bytes());
        // The limiter refills while the loop runs, so at least the excess above the burst drops,
        // give or take what a few microseconds refill.
        assert!(function.dropped() >= 40, "{}", function.dropped());
    }

    #[test]
    fn logged_lines_reach_the_ring_and_dropped_ones_do_not() {
        let (mut w, log, function) = writer();
        log.set_request("r1".into());
        w.push(b"one\r\ntwo\nthree");
        let lines = function.ring.recent();
        let texts: Vec<(&str, &str, &str)> = lines
            .iter()
            .map(|l| (&*l.request_id, l.stream, &*l.text))
            .collect();
        assert_eq!(texts, [("r1", "stdout", "one"), ("r1", "stdout", "two")]);
        log.end_call();
        assert_eq!(&*function.ring.recent()[2].text, "three");

        let flood = "x\n".repeat(BURST_LINES as usize + 50);
        w.push(flood.as_bytes());
        let kept = function.ring.recent().len() as u64 - 3;
        assert_eq!(kept + function.dropped(), BURST_LINES as u64 + 50);
    }

    #[test]
    fn long_output_without_newlines_is_cut_not_buffered_forever() {
        let (mut w, log, _) = writer();
        w.push(&vec![b'a'; MAX_LINE * 3 + 10]);
        assert_eq!(partial(&log, Stream::Stdout).len(), 10);
        w.push(b"b\nc");
        assert_eq!(partial(&log, Stream::Stdout), b"c");
    }

    #[test]
    fn ending_a_call_logs_its_unfinished_line_and_forgets_its_request() {
        let (mut w, log, _) = writer();
        log.set_request("r1".into());
        w.push(b"no newline");
        log.end_call();
        assert!(partial(&log, Stream::Stdout).is_empty());
        assert_eq!(&*log.request_id(), "-");
        log.set_request("r2".into());
        assert_eq!(&*log.request_id(), "r2");
    }

    #[test]
    fn pieces_of_one_line_written_through_fresh_handles_stay_one_line() {
        let (mut first, log, _) = writer();
        first.push(b"hel");
        drop(first);
        let mut second = log.stream(Stream::Stdout).writer();
        second.push(b"lo");
        assert_eq!(partial(&log, Stream::Stdout), b"hello");
        let mut err = log.stream(Stream::Stderr).writer();
        err.push(b"apart");
        assert_eq!(partial(&log, Stream::Stderr), b"apart");
        second.push(b" world\n");
        assert!(partial(&log, Stream::Stdout).is_empty());
    }
}
