//! A per-connection budget for HTTP/2 control frames: detects SETTINGS, PING, WINDOW_UPDATE,
//! PRIORITY, RST_STREAM, empty-frame and unknown-frame floods (RFC 9113).
//!
//! [`FrameScanner`] sits on a connection's read path and sees every byte the client sends, in
//! order, before `h2` does. It parses only the 9-byte frame headers (RFC 9113 §4.1) and skips
//! payloads by counting, so it costs O(frames + reads), never O(bytes). Frames that make the
//! server work without doing anything for the client cost a token from a token bucket
//! ([`ControlFrameBudget`]); useful work earns tokens back. When a frame finds the bucket empty,
//! [`FrameScanner::inspect`] returns a [`Flood`] and the gateway closes the connection with
//! GOAWAY(ENHANCE_YOUR_CALM) (RFC 9113 §5.4.1, §7). The scanner does no I/O and reads no clock:
//! the caller passes `now`.
//!
//! # Why
//!
//! `h2` ACKs every SETTINGS and PING, applies every WINDOW_UPDATE and every
//! SETTINGS_INITIAL_WINDOW_SIZE change (which walks all open streams), and ignores unknown and
//! empty frames after parsing them. Its only defence is backpressure: it reads no further frame
//! while a PING or SETTINGS ACK is still unsent, which does not slow a client that reads its ACKs.
//! We saw 22 million SETTINGS frames in 15 s on one connection (1.47 M/s), all ACKed, and
//! SETTINGS_INITIAL_WINDOW_SIZE flipping with 100 open streams cost 0.76 of a core. These are
//! CVE-2019-9515 (Settings flood), CVE-2019-9512 (Ping flood) and CVE-2019-9518 (empty frames
//! flood), from Netflix's advisory
//! <https://github.com/Netflix/security-bulletins/blob/master/advisories/third-party/2019-002.md>.
//!
//! # The rule
//!
//! A token bucket per connection: it starts full at `burst` tokens, never holds more than
//! `burst`, and refills continuously at `per_second` tokens per second of the `now` the caller
//! passes (time going backwards refills nothing). Useful work earns tokens, capped at `burst`:
//!
//! * a HEADERS frame on an odd stream id greater than any the client opened before (a new
//!   request, RFC 9113 §5.1.1) earns [`STREAM_CREDIT`];
//! * every [`WRITE_CREDIT_BYTES`] bytes the gateway wrote to the client earn [`WRITE_CREDIT`]
//!   (see [`FrameScanner::wrote`]).
//!
//! Each of these frames costs 1 token ([`Flood::frame_type`] names it):
//!
//! | frame (type) | when it costs | name |
//! |---|---|---|
//! | SETTINGS (0x4) | always; the ACK too | `SETTINGS`, `SETTINGS ACK` |
//! | PING (0x6) | always; the ACK too | `PING`, `PING ACK` |
//! | WINDOW_UPDATE (0x8), PRIORITY (0x2), RST_STREAM (0x3) | always | their names |
//! | DATA (0x0) | length 0 and END_STREAM clear | `empty DATA` |
//! | HEADERS (0x1), CONTINUATION (0x9) | length 0 (empty header block fragment) | `empty HEADERS`, `empty CONTINUATION` |
//! | PRIORITY_UPDATE (0x10, RFC 9218) | always | `PRIORITY_UPDATE` |
//! | any other type above 0x9 (ignored by the receiver, RFC 9113 §4.1, §5.5) | always | `unknown` |
//!
//! ACKs cost because a client only ACKs what the server sent, and the server sends few.
//! Non-empty DATA, HEADERS and CONTINUATION, END_STREAM DATA, GOAWAY and PUSH_PROMISE are free.
//! When a frame needs a token and the bucket holds less than one, that frame is the flood;
//! every later call returns the same [`Flood`].
//!
//! # Recommended configuration: `burst = 1000`, `per_second = 500`
//!
//! (`[http]` `control_frame_burst` and `control_frames_per_second`;
//! [`ControlFrameBudget::RECOMMENDED`].) Real clients spend little beyond what they earn: a
//! browser sends a few frames at connection start (SETTINGS, WINDOW_UPDATE, SETTINGS ACK, a
//! handful of PRIORITY for its dependency tree), then per request a few PRIORITY, WINDOW_UPDATE
//! or RST_STREAM, which [`STREAM_CREDIT`] pays for; a download's WINDOW_UPDATEs are paid by
//! [`WRITE_CREDIT`]. `burst` absorbs what arrives before its credit: up to `max_concurrent_streams`
//! (100 by default) streams' worth of frames at once, with room to spare; it is also Envoy's
//! `max_outbound_control_frames`. Against an attacker, 1000 free frames are 0.7 ms of the flood
//! above, so a fresh bucket costs a new connection (TCP and any TLS handshake) per 0.7 ms of flood.
//! `per_second` is the sustained rate of frames that earn nothing. The busiest real client we
//! know is grpc-go on a stream of small messages: its BDP estimator sends a PING and a
//! connection WINDOW_UPDATE per round trip while data arrives (until its estimate reaches
//! 16 MiB), so 500/s covers such clients down to a 4 ms RTT. Go clients send a connection and a
//! stream WINDOW_UPDATE per read of 4 KiB or more, which fits up to about 300 such reads per
//! second; keep-alive PINGs (1/s or rarer) are nothing. An attacker gets 500 frames/s per
//! connection, 1/3000 of the observed 1.47 M/s.
//! `per_second` should be at least 1 (a keep-alive PING per second); 0 means no refill, and
//! `burst` 0 closes on the first control frame.
//!
//! # What other servers do
//!
//! * `h2` (this gateway's HTTP/2): backpressure only, as above (`PingPong::send_pending_pong`,
//!   `Settings::poll_send` run before the next frame is read).
//! * Envoy (`Http2ProtocolOptions`,
//!   <https://www.envoyproxy.io/docs/envoy/latest/api-v3/config/core/v3/protocol.proto>):
//!   `max_outbound_control_frames` 1000 bounds *queued* PING/SETTINGS/RST_STREAM replies (like
//!   `h2`, no limit for a client that reads); `max_consecutive_inbound_frames_with_empty_payload`
//!   1 closes on two empty HEADERS/CONTINUATION/DATA frames in a row;
//!   `max_inbound_priority_frames_per_stream` 100 allows 100 × (1 + opened streams) PRIORITY
//!   frames; `max_inbound_window_update_frames_per_data_frame_sent` 10 allows about
//!   2 × (opened streams + 10 × DATA frames sent) WINDOW_UPDATEs. Per-connection counters with
//!   credit for streams and DATA, like ours, but no time-based allowance, and nothing for
//!   inbound PING or SETTINGS beyond the queue limit.
//! * nginx (`src/http/v2/ngx_http_v2.c`, <https://github.com/nginx/nginx>): closes with
//!   "http2 flood detected" once the bytes received exceed 8 × (payload bytes + 1 MiB), i.e. about
//!   900 000 empty SETTINGS frames for free and then 8 bytes of frames per byte of request payload;
//!   PRIORITY frames are limited to `max(http2_max_concurrent_streams, 100)` plus
//!   `http2_max_concurrent_streams` per opened stream (ENHANCE_YOUR_CALM); at most 10 000 output
//!   frames may be allocated at once.
//!
//! # Limits of this check
//!
//! * Padding-only DATA and HEADERS frames count as non-empty; their padding consumes flow-control
//!   window (RFC 9113 §6.1), which bounds them.
//! * Non-empty CONTINUATION floods are bounded by `h2`'s `max_header_list_size`, rapid resets
//!   (HEADERS then RST_STREAM, CVE-2023-44487) by `h2`'s reset-stream limits: a new stream earns
//!   more than its RST_STREAM costs here.
//! * Credit is per byte written, so a client that sends two WINDOW_UPDATEs per *small* DATA frame
//!   (grpc-go's BDP pings with tiny messages under a 4 ms RTT, Go clients reading a stream of
//!   small chunks faster than about 300 reads/s) lives on `per_second` and can be closed.
//! * The 24-byte connection preface is skipped, not checked: `h2` rejects a wrong one.

use std::fmt;
use std::time::Instant;

/// Tokens earned by a HEADERS frame that opens a new stream (a new request): a browser may send a
/// few PRIORITY, WINDOW_UPDATE and RST_STREAM frames per stream (RFC 9113 §5.1.1, §5.3, §6.9).
pub const STREAM_CREDIT: u32 = 8;

/// Tokens earned by every [`WRITE_CREDIT_BYTES`] bytes the gateway wrote: a client may send a
/// WINDOW_UPDATE for the connection and one for the stream per DATA frame of the default maximum
/// size (RFC 9113 §6.9).
pub const WRITE_CREDIT: u32 = 2;

/// Bytes the gateway must write to earn [`WRITE_CREDIT`]: the default SETTINGS_MAX_FRAME_SIZE,
/// 16,384 bytes (RFC 9113 §6.5.2).
pub const WRITE_CREDIT_BYTES: usize = 16_384;

/// The client connection preface, 24 bytes (RFC 9113 §3.4).
const PREFACE_LEN: usize = 24;

/// A frame header's length in bytes (RFC 9113 §4.1).
const FRAME_HEADER_LEN: usize = 9;

/// The bucket counts billionths of a token so refill at any rate is exact to the nanosecond.
const NANOS_PER_TOKEN: u64 = 1_000_000_000;

/// Frame types (RFC 9113 §6, RFC 9218 §7.1).
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const PRIORITY: u8 = 0x2;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PUSH_PROMISE: u8 = 0x5;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const PRIORITY_UPDATE: u8 = 0x10;

/// END_STREAM on DATA and HEADERS; ACK on SETTINGS and PING: the same bit (RFC 9113 §6).
const FLAG_END_STREAM_OR_ACK: u8 = 0x1;

/// The budget's settings for one connection, from the gateway's `[http]` config: a token bucket
/// of control frames (see the module documentation for which frames cost and what earns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlFrameBudget {
    /// Tokens the bucket starts with and never exceeds, in frames: how many control frames a
    /// client may send at once beyond what it earned.
    pub burst: u32,
    /// Tokens added per second, in frames per second: the sustained rate of control frames a
    /// client may send beyond what it earned. 0 disables refill.
    pub per_second: u32,
}

impl ControlFrameBudget {
    /// The recommended settings, `burst` 1000 frames and `per_second` 500 frames per second; the
    /// module documentation says why.
    pub const RECOMMENDED: Self = Self {
        burst: 1000,
        per_second: 500,
    };
}

impl Default for ControlFrameBudget {
    /// [`ControlFrameBudget::RECOMMENDED`].
    fn default() -> Self {
        Self::RECOMMENDED
    }
}

/// Why a connection is to be closed with GOAWAY(ENHANCE_YOUR_CALM) (RFC 9113 §5.4.1, §7): a
/// control frame found the budget empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flood {
    /// The frame that found the budget empty, by type: "SETTINGS", "SETTINGS ACK", "PING",
    /// "PING ACK", "WINDOW_UPDATE", "PRIORITY", "RST_STREAM", "empty DATA", "empty HEADERS",
    /// "empty CONTINUATION", "PRIORITY_UPDATE" or "unknown" (RFC 9113 §6).
    pub frame_type: &'static str,
    /// Control frames (frames that cost a token) the client sent on the connection, this one
    /// included.
    pub frames: u64,
}

impl fmt::Display for Flood {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP/2 control-frame flood: {} after {} control frames",
            self.frame_type, self.frames
        )
    }
}

impl std::error::Error for Flood {}

/// The token bucket, in billionths of a token.
#[derive(Debug)]
struct Bucket {
    nanos: u64,
    cap: u64,
    per_second: u64,
    last: Instant,
}

impl Bucket {
    fn new(budget: ControlFrameBudget, now: Instant) -> Self {
        let cap = u64::from(budget.burst).saturating_mul(NANOS_PER_TOKEN);
        Self {
            nanos: cap,
            cap,
            per_second: u64::from(budget.per_second),
            last: now,
        }
    }

    /// Adds the tokens earned since the last refill; a `now` before it adds nothing.
    fn refill(&mut self, now: Instant) {
        if let Some(elapsed) = now.checked_duration_since(self.last) {
            let added = elapsed
                .as_nanos()
                .saturating_mul(u128::from(self.per_second));
            self.add_nanos(u64::try_from(added).unwrap_or(u64::MAX));
            self.last = now;
        }
    }

    fn credit(&mut self, tokens: u64) {
        self.add_nanos(tokens.saturating_mul(NANOS_PER_TOKEN));
    }

    fn add_nanos(&mut self, nanos: u64) {
        self.nanos = self.nanos.saturating_add(nanos).min(self.cap);
    }

    /// Takes one token; false if the bucket holds less than one.
    fn take(&mut self) -> bool {
        match self.nanos.checked_sub(NANOS_PER_TOKEN) {
            Some(left) => {
                self.nanos = left;
                true
            }
            None => false,
        }
    }
}

/// A parsed frame header (RFC 9113 §4.1).
#[derive(Debug, Clone, Copy)]
struct FrameHeader {
    length: usize,
    kind: u8,
    flags: u8,
    stream_id: u32,
}

impl FrameHeader {
    fn parse(h: &[u8; FRAME_HEADER_LEN]) -> Self {
        let length = u32::from_be_bytes([0, h[0], h[1], h[2]]);
        Self {
            // 24 bits always fit a usize on the platforms the gateway builds for.
            length: usize::try_from(length).unwrap_or(usize::MAX),
            kind: h[3],
            flags: h[4],
            stream_id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        }
    }

    /// The frame's name if it costs a token, `None` if it is free.
    fn cost(&self) -> Option<&'static str> {
        let ack = self.flags & FLAG_END_STREAM_OR_ACK != 0;
        match self.kind {
            DATA if self.length == 0 && !ack => Some("empty DATA"),
            HEADERS if self.length == 0 => Some("empty HEADERS"),
            CONTINUATION if self.length == 0 => Some("empty CONTINUATION"),
            DATA | HEADERS | CONTINUATION | PUSH_PROMISE | GOAWAY => None,
            PRIORITY => Some("PRIORITY"),
            RST_STREAM => Some("RST_STREAM"),
            SETTINGS if ack => Some("SETTINGS ACK"),
            SETTINGS => Some("SETTINGS"),
            PING if ack => Some("PING ACK"),
            PING => Some("PING"),
            WINDOW_UPDATE => Some("WINDOW_UPDATE"),
            PRIORITY_UPDATE => Some("PRIORITY_UPDATE"),
            _ => Some("unknown"),
        }
    }
}

/// A passive HTTP/2 frame-header scanner for one client connection: feed it every byte the client
/// sends ([`FrameScanner::inspect`]) and the byte count of every write to the client
/// ([`FrameScanner::wrote`]); it charges control frames against a [`ControlFrameBudget`] and
/// reports a [`Flood`] when the budget runs out (RFC 9113 §4.1, §5.4.1).
#[derive(Debug)]
pub struct FrameScanner {
    bucket: Bucket,
    /// Preface bytes still to skip.
    preface_left: usize,
    /// The frame header being read, and how many of its bytes have arrived.
    header: [u8; FRAME_HEADER_LEN],
    header_len: usize,
    /// Payload bytes of the current frame still to skip.
    payload_left: usize,
    /// The highest stream id a HEADERS frame opened.
    max_stream_id: u32,
    streams_opened: u64,
    control_frames: u64,
    /// Bytes written that have not yet earned credit (less than `WRITE_CREDIT_BYTES`).
    unwritten_credit: u64,
    flood: Option<Flood>,
    /// Loop iterations, to test that payloads are skipped without per-byte work.
    #[cfg(test)]
    steps: u64,
}

impl FrameScanner {
    /// A scanner for a new connection whose budget starts full at `budget.burst` tokens at `now`.
    #[must_use]
    pub fn new(budget: ControlFrameBudget, now: Instant) -> Self {
        Self {
            bucket: Bucket::new(budget, now),
            preface_left: PREFACE_LEN,
            header: [0; FRAME_HEADER_LEN],
            header_len: 0,
            payload_left: 0,
            max_stream_id: 0,
            streams_opened: 0,
            control_frames: 0,
            unwritten_credit: 0,
            flood: None,
            #[cfg(test)]
            steps: 0,
        }
    }

    /// Inspects the next bytes the client sent, read at `now`: first the 24-byte connection
    /// preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (RFC 9113 §3.4, skipped), then frames (RFC 9113
    /// §4.1). `input` may end anywhere, inside the preface, a frame header or a payload; the next
    /// call continues there. Refills the budget for the time since the last call (none if `now`
    /// is earlier), then charges each complete frame header. Returns the [`Flood`] when a control
    /// frame finds the budget empty, and from then on returns it on every call. Costs O(frames)
    /// plus O(1) per call, whatever the payload sizes.
    ///
    /// # Errors
    ///
    /// The [`Flood`] the gateway answers with GOAWAY(ENHANCE_YOUR_CALM): the first control frame
    /// that found the budget empty, on this call or an earlier one.
    pub fn inspect(&mut self, input: &[u8], now: Instant) -> Result<(), Flood> {
        if let Some(flood) = &self.flood {
            return Err(flood.clone());
        }
        self.bucket.refill(now);
        let mut rest = input;
        while !rest.is_empty() {
            #[cfg(test)]
            {
                self.steps += 1;
            }
            if self.preface_left > 0 {
                let n = rest.len().min(self.preface_left);
                self.preface_left -= n;
                rest = &rest[n..];
                continue;
            }
            if self.payload_left > 0 {
                let n = rest.len().min(self.payload_left);
                self.payload_left -= n;
                rest = &rest[n..];
                continue;
            }
            let n = rest.len().min(FRAME_HEADER_LEN - self.header_len);
            self.header[self.header_len..self.header_len + n].copy_from_slice(&rest[..n]);
            self.header_len += n;
            rest = &rest[n..];
            if self.header_len == FRAME_HEADER_LEN {
                self.header_len = 0;
                let header = FrameHeader::parse(&self.header);
                self.payload_left = header.length;
                self.on_frame(header)?;
            }
        }
        Ok(())
    }

    /// Credits the budget for `bytes` bytes the gateway wrote to the client (DATA the client will
    /// acknowledge with WINDOW_UPDATE, RFC 9113 §6.9): [`WRITE_CREDIT`] tokens per
    /// [`WRITE_CREDIT_BYTES`] bytes, remainders carried over, the bucket capped at `burst`.
    /// Does nothing once a flood was reported.
    pub fn wrote(&mut self, bytes: usize) {
        if self.flood.is_some() {
            return;
        }
        let chunk = WRITE_CREDIT_BYTES as u64;
        let total = self
            .unwritten_credit
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        self.unwritten_credit = total % chunk;
        self.bucket
            .credit((total / chunk).saturating_mul(u64::from(WRITE_CREDIT)));
    }

    /// Streams the client has opened so far: HEADERS frames on odd stream ids greater than any
    /// before (RFC 9113 §5.1.1), for metrics and tests.
    #[must_use]
    pub fn streams_opened(&self) -> u64 {
        self.streams_opened
    }

    fn on_frame(&mut self, header: FrameHeader) -> Result<(), Flood> {
        if header.kind == HEADERS
            && header.stream_id % 2 == 1
            && header.stream_id > self.max_stream_id
        {
            self.max_stream_id = header.stream_id;
            self.streams_opened += 1;
            self.bucket.credit(u64::from(STREAM_CREDIT));
        }
        let Some(frame_type) = header.cost() else {
            return Ok(());
        };
        self.control_frames = self.control_frames.saturating_add(1);
        if self.bucket.take() {
            return Ok(());
        }
        let flood = Flood {
            frame_type,
            frames: self.control_frames,
        };
        self.flood = Some(flood.clone());
        Err(flood)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    const PREFACE: &[u8; PREFACE_LEN] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const REC: ControlFrameBudget = ControlFrameBudget::RECOMMENDED;
    const NO_BUDGET: ControlFrameBudget = ControlFrameBudget {
        burst: 0,
        per_second: 0,
    };

    /// The 9-byte header of a frame of `kind` with a `len`-byte payload.
    fn frame_header(kind: u8, flags: u8, stream: u32, len: usize) -> Vec<u8> {
        let wire_len = u32::try_from(len).expect("frame length fits 24 bits");
        assert!(wire_len < 1 << 24);
        let mut v = Vec::with_capacity(FRAME_HEADER_LEN + len);
        v.extend_from_slice(&wire_len.to_be_bytes()[1..]);
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&stream.to_be_bytes());
        v
    }

    /// A frame of `kind` with a zero-filled payload of `len` bytes.
    fn frame(kind: u8, flags: u8, stream: u32, len: usize) -> Vec<u8> {
        let mut v = frame_header(kind, flags, stream, len);
        v.resize(FRAME_HEADER_LEN + len, 0);
        v
    }

    fn settings() -> Vec<u8> {
        // One setting, as in the SETTINGS_INITIAL_WINDOW_SIZE flipping attack.
        let mut f = frame(SETTINGS, 0, 0, 6);
        f[FRAME_HEADER_LEN..].copy_from_slice(&[0, 4, 0, 0, 0xff, 0xff]);
        f
    }
    fn settings_ack() -> Vec<u8> {
        frame(SETTINGS, 1, 0, 0)
    }
    fn ping() -> Vec<u8> {
        frame(PING, 0, 0, 8)
    }
    fn ping_ack() -> Vec<u8> {
        frame(PING, 1, 0, 8)
    }
    fn window_update(stream: u32) -> Vec<u8> {
        frame(WINDOW_UPDATE, 0, stream, 4)
    }
    fn priority(stream: u32) -> Vec<u8> {
        frame(PRIORITY, 0, stream, 5)
    }
    fn rst_stream(stream: u32) -> Vec<u8> {
        frame(RST_STREAM, 0, stream, 4)
    }
    /// A request's HEADERS (END_HEADERS | END_STREAM) with a 40-byte header block.
    fn headers(stream: u32) -> Vec<u8> {
        frame(HEADERS, 0x5, stream, 40)
    }
    fn data(stream: u32, len: usize) -> Vec<u8> {
        frame(DATA, 0, stream, len)
    }

    fn cat(frames: &[Vec<u8>]) -> Vec<u8> {
        frames.concat()
    }

    fn repeat(one: &[u8], n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(one.len() * n);
        for _ in 0..n {
            v.extend_from_slice(one);
        }
        v
    }

    /// A scanner that has read the preface at the returned instant.
    fn after_preface(budget: ControlFrameBudget) -> (FrameScanner, Instant) {
        let t0 = Instant::now();
        let mut s = FrameScanner::new(budget, t0);
        s.inspect(PREFACE, t0).expect("the preface is free");
        (s, t0)
    }

    /// Whole tokens in the bucket.
    fn tokens(s: &FrameScanner) -> u64 {
        s.bucket.nanos / NANOS_PER_TOKEN
    }

    /// Everything but the step counter, to compare scanners fed differently.
    fn snapshot(s: &FrameScanner) -> impl PartialEq + fmt::Debug {
        (
            s.preface_left,
            s.header[..s.header_len].to_vec(),
            s.payload_left,
            s.max_stream_id,
            s.streams_opened,
            s.control_frames,
            s.unwritten_credit,
            s.bucket.nanos,
            s.flood.clone(),
        )
    }

    /// 1M frames `one` in one buffer and one by one, at a fixed time, with the recommended
    /// budget: the flood is frame `burst + 1`, named `name`, and sticks.
    fn assert_floods_after_burst(one: &[u8], name: &'static str) {
        const N: usize = 1_000_000;
        let expected = Flood {
            frame_type: name,
            frames: u64::from(REC.burst) + 1,
        };

        let t0 = Instant::now();
        let mut s = FrameScanner::new(REC, t0);
        let mut all = PREFACE.to_vec();
        all.extend_from_slice(&repeat(one, N));
        assert_eq!(s.inspect(&all, t0), Err(expected.clone()));
        assert_eq!(s.control_frames, u64::from(REC.burst) + 1);

        let (mut s, t0) = after_preface(REC);
        let mut sent = 0_usize;
        let flood = loop {
            assert!(sent < N, "{name}: no flood after {N} frames");
            sent += 1;
            if let Err(flood) = s.inspect(one, t0) {
                break flood;
            }
        };
        assert_eq!(flood, expected);
        assert_eq!(sent, REC.burst as usize + 1);
        assert_eq!(
            s.inspect(one, t0 + Duration::from_secs(3600)),
            Err(expected)
        );
    }

    #[test]
    fn settings_flood_is_stopped_after_burst() {
        assert_floods_after_burst(&settings(), "SETTINGS");
    }

    #[test]
    fn settings_ack_flood_is_stopped_after_burst() {
        assert_floods_after_burst(&settings_ack(), "SETTINGS ACK");
    }

    #[test]
    fn ping_flood_is_stopped_after_burst() {
        assert_floods_after_burst(&ping(), "PING");
    }

    #[test]
    fn ping_ack_flood_is_stopped_after_burst() {
        assert_floods_after_burst(&ping_ack(), "PING ACK");
    }

    #[test]
    fn window_update_flood_without_data_written_is_stopped_after_burst() {
        assert_floods_after_burst(&window_update(0), "WINDOW_UPDATE");
        assert_floods_after_burst(&window_update(1), "WINDOW_UPDATE");
    }

    #[test]
    fn priority_flood_is_stopped_after_burst() {
        assert_floods_after_burst(&priority(3), "PRIORITY");
    }

    #[test]
    fn rst_stream_flood_is_stopped_after_burst() {
        assert_floods_after_burst(&rst_stream(1), "RST_STREAM");
    }

    #[test]
    fn empty_data_flood_is_stopped_after_burst() {
        assert_floods_after_burst(&data(1, 0), "empty DATA");
    }

    #[test]
    fn empty_header_block_floods_are_stopped_after_burst() {
        // On an old stream id, so no stream credit.
        assert_floods_after_burst(&frame(HEADERS, 0, 0, 0), "empty HEADERS");
        assert_floods_after_burst(&frame(CONTINUATION, 0, 1, 0), "empty CONTINUATION");
    }

    #[test]
    fn unknown_frame_flood_is_stopped_after_burst() {
        assert_floods_after_burst(&frame(0xa, 0, 0, 0), "unknown");
        assert_floods_after_burst(&frame(0xff, 0xff, 7, 3), "unknown");
        assert_floods_after_burst(&frame(PRIORITY_UPDATE, 0, 0, 5), "PRIORITY_UPDATE");
    }

    #[test]
    fn observed_settings_flood_rate_is_stopped_within_a_millisecond() {
        // 22 million frames in 15 s, fed one at a time with the clock running.
        let (mut s, t0) = after_preface(REC);
        let gap = Duration::from_secs(15) / 22_000_000;
        let one = settings();
        let mut now = t0;
        let mut sent = 0_u32;
        let flood = loop {
            sent += 1;
            now += gap;
            if let Err(flood) = s.inspect(&one, now) {
                break flood;
            }
            assert!(sent < 22_000_000);
        };
        assert_eq!(flood.frame_type, "SETTINGS");
        assert!((1001..=1002).contains(&flood.frames), "{flood:?}");
        assert!(now - t0 < Duration::from_millis(1));
    }

    #[test]
    fn free_frames_cost_nothing() {
        let (mut s, t0) = after_preface(NO_BUDGET);
        let free = cat(&[
            data(1, 1),
            frame(DATA, 0x1, 1, 0), // empty DATA with END_STREAM ends a request body
            frame(HEADERS, 0x5, 0, 3), // trailers on an old stream
            frame(CONTINUATION, 0x4, 1, 7),
            frame(GOAWAY, 0, 0, 8),
            frame(PUSH_PROMISE, 0x4, 1, 8),
            frame(DATA, 0x8, 1, 5), // padded DATA
        ]);
        for _ in 0..10_000 {
            assert_eq!(s.inspect(&free, t0), Ok(()));
        }
        assert_eq!(s.control_frames, 0);
        // And the bucket really is empty.
        assert_eq!(
            s.inspect(&ping(), t0),
            Err(Flood {
                frame_type: "PING",
                frames: 1
            })
        );
    }

    #[test]
    fn zero_burst_floods_on_the_first_control_frame() {
        let (mut s, t0) = after_preface(NO_BUDGET);
        let flood = s.inspect(&window_update(0), t0).unwrap_err();
        assert_eq!(flood.frames, 1);
        assert_eq!(flood.frame_type, "WINDOW_UPDATE");
    }

    #[test]
    fn new_streams_earn_stream_credit() {
        let budget = ControlFrameBudget {
            burst: 100,
            per_second: 0,
        };
        let (mut s, t0) = after_preface(budget);
        s.inspect(&repeat(&ping(), 100), t0).expect("the burst");
        assert_eq!(tokens(&s), 0);
        s.inspect(&headers(1), t0).expect("free");
        assert_eq!(tokens(&s), u64::from(STREAM_CREDIT));
        // Trailers, an even id, an older id, stream 0: no new stream.
        s.inspect(&cat(&[headers(1), headers(2), headers(0)]), t0)
            .expect("free");
        assert_eq!(tokens(&s), u64::from(STREAM_CREDIT));
        s.inspect(&headers(5), t0).expect("free");
        s.inspect(&headers(3), t0).expect("free");
        assert_eq!(s.streams_opened(), 2);
        assert_eq!(tokens(&s), 2 * u64::from(STREAM_CREDIT));
        // An empty HEADERS on a new stream earns, then costs.
        s.inspect(&frame(HEADERS, 0, 7, 0), t0)
            .expect("earned first");
        assert_eq!(s.streams_opened(), 3);
        assert_eq!(tokens(&s), 3 * u64::from(STREAM_CREDIT) - 1);
        // Exactly the credit is spent, then the next frame floods.
        s.inspect(&repeat(&priority(9), 23), t0)
            .expect("the credit");
        let flood = s.inspect(&priority(9), t0).unwrap_err();
        assert_eq!(flood.frames, 100 + 1 + 23 + 1);
    }

    #[test]
    fn stream_credit_is_capped_at_burst() {
        let (mut s, t0) = after_preface(REC);
        let requests: Vec<Vec<u8>> = (0..200).map(|i| headers(2 * i + 1)).collect();
        s.inspect(&cat(&requests), t0).expect("free");
        assert_eq!(s.streams_opened(), 200);
        assert_eq!(tokens(&s), u64::from(REC.burst));
        let flood = s.inspect(&repeat(&ping(), 2000), t0).unwrap_err();
        assert_eq!(flood.frames, u64::from(REC.burst) + 1);
    }

    #[test]
    fn written_bytes_earn_write_credit() {
        let budget = ControlFrameBudget {
            burst: 100,
            per_second: 0,
        };
        let (mut s, t0) = after_preface(budget);
        s.inspect(&repeat(&window_update(0), 100), t0)
            .expect("the burst");
        s.wrote(WRITE_CREDIT_BYTES - 1);
        assert_eq!(tokens(&s), 0);
        s.wrote(1);
        assert_eq!(tokens(&s), u64::from(WRITE_CREDIT));
        s.wrote(10 * WRITE_CREDIT_BYTES + 5);
        assert_eq!(tokens(&s), 11 * u64::from(WRITE_CREDIT));
        assert_eq!(s.unwritten_credit, 5);
        s.inspect(&repeat(&window_update(1), 22), t0)
            .expect("the credit");
        let flood = s.inspect(&window_update(1), t0).unwrap_err();
        assert_eq!(flood.frames, 100 + 22 + 1);
        // Huge counts saturate instead of overflowing.
        let (mut s, _) = after_preface(budget);
        s.wrote(usize::MAX);
        s.wrote(usize::MAX);
        assert_eq!(tokens(&s), 100);
    }

    #[test]
    fn split_at_every_byte_parses_the_same() {
        let budget = ControlFrameBudget {
            burst: 6,
            per_second: 0,
        };
        let frames = cat(&[
            settings(),
            window_update(0),
            headers(1),
            frame(CONTINUATION, 0x4, 1, 20),
            data(1, 100),
            ping(),
            data(1, 0),
            frame(0xbb, 0, 0, 2),
            settings_ack(),
            headers(3),
            priority(3),
            data(3, 0),
            rst_stream(3),
            frame(HEADERS, 0, 5, 0),
            ping_ack(),
            window_update(1),
            window_update(3),
            priority(5),
            data(5, 0),
            window_update(0),
            data(5, 3),
        ]);
        let mut stream = PREFACE.to_vec();
        stream.extend_from_slice(&frames);
        let t0 = Instant::now();

        for end in [stream.len() - 17, stream.len()] {
            let bytes = &stream[..end];
            let mut whole = FrameScanner::new(budget, t0);
            let whole_result = whole.inspect(bytes, t0);
            if end == stream.len() {
                assert_eq!(whole.streams_opened(), 3);
                // The credit of the three streams is capped at burst, 6: the 16th control
                // frame floods.
                assert_eq!(
                    whole_result,
                    Err(Flood {
                        frame_type: "WINDOW_UPDATE",
                        frames: 16
                    })
                );
                assert_eq!(whole.payload_left, 4);
            } else {
                assert_eq!(whole_result, Ok(()));
            }

            for cut in 0..=bytes.len() {
                let mut split = FrameScanner::new(budget, t0);
                let first = split.inspect(&bytes[..cut], t0);
                let result = first
                    .clone()
                    .and_then(|()| split.inspect(&bytes[cut..], t0));
                assert_eq!(result, whole_result, "cut at {cut}");
                assert_eq!(snapshot(&split), snapshot(&whole), "cut at {cut}");
            }

            let mut bytewise = FrameScanner::new(budget, t0);
            let result = bytes
                .iter()
                .try_for_each(|b| bytewise.inspect(std::slice::from_ref(b), t0));
            assert_eq!(result, whole_result);
            assert_eq!(snapshot(&bytewise), snapshot(&whole));
        }
    }

    #[test]
    fn preface_is_skipped_wherever_it_is_cut() {
        let t0 = Instant::now();
        for cut in 0..=PREFACE_LEN {
            let mut s = FrameScanner::new(NO_BUDGET, t0);
            s.inspect(&PREFACE[..cut], t0).expect("free");
            assert_eq!(s.preface_left, PREFACE_LEN - cut);
            let mut rest = PREFACE[cut..].to_vec();
            rest.extend_from_slice(&headers(1));
            s.inspect(&rest, t0).expect("free");
            assert_eq!(s.streams_opened(), 1);
            assert_eq!(s.inspect(&ping(), t0).unwrap_err().frame_type, "PING");
        }
    }

    #[test]
    fn large_data_payload_is_skipped_in_o_slices() {
        // The largest frame (2^24 - 1 bytes) whose payload is PING frames that must not be
        // parsed, then another frame, fed in 64 KiB slices.
        let len = (1 << 24) - 1;
        let mut stream = PREFACE.to_vec();
        stream.extend_from_slice(&frame_header(DATA, 0, 1, len));
        let pings = repeat(&ping(), len / 17 + 1);
        stream.extend_from_slice(&pings[..len]);
        stream.extend_from_slice(&data(1, 10));
        let t0 = Instant::now();

        let mut s = FrameScanner::new(NO_BUDGET, t0);
        let mut slices = 0_u64;
        for slice in stream.chunks(64 * 1024) {
            s.inspect(slice, t0).expect("DATA is free");
            slices += 1;
        }
        assert_eq!(s.control_frames, 0);
        assert_eq!(slices, stream.len().div_ceil(64 * 1024) as u64);
        assert!(
            s.steps <= slices + 4,
            "{} steps for {slices} slices",
            s.steps
        );
        assert_eq!((s.payload_left, s.header_len), (0, 0));

        // In one call: a constant number of steps.
        let mut s = FrameScanner::new(NO_BUDGET, t0);
        s.inspect(&stream, t0).expect("DATA is free");
        assert!(s.steps <= 5, "{} steps", s.steps);
    }

    #[test]
    fn budget_refills_over_injected_time() {
        let budget = ControlFrameBudget {
            burst: 10,
            per_second: 10,
        };
        let (mut s, t0) = after_preface(budget);
        s.inspect(&repeat(&ping(), 10), t0).expect("the burst");
        // 50 ms is half a token; twice is one, with nothing lost to rounding.
        s.inspect(&[], t0 + Duration::from_millis(50))
            .expect("nothing");
        assert_eq!(tokens(&s), 0);
        let t1 = t0 + Duration::from_millis(100);
        s.inspect(&ping(), t1).expect("refilled one");
        // The clock did not advance: nothing more.
        assert_eq!(s.inspect(&ping(), t1).unwrap_err().frames, 12);

        // A long pause refills at most `burst`.
        let (mut s, t0) = after_preface(budget);
        s.inspect(&repeat(&ping(), 10), t0).expect("the burst");
        let later = t0 + Duration::from_secs(3600);
        s.inspect(&repeat(&ping(), 10), later)
            .expect("a full bucket");
        assert_eq!(s.inspect(&ping(), later).unwrap_err().frames, 21);

        // per_second 0 never refills.
        let (mut s, t0) = after_preface(ControlFrameBudget {
            burst: 1,
            per_second: 0,
        });
        s.inspect(&ping(), t0).expect("the burst");
        let flood = s.inspect(&ping(), t0 + Duration::from_secs(1_000_000));
        assert_eq!(flood.unwrap_err().frames, 2);
    }

    #[test]
    fn extreme_budgets_and_times_do_not_overflow() {
        let max = ControlFrameBudget {
            burst: u32::MAX,
            per_second: u32::MAX,
        };
        let (mut s, t0) = after_preface(max);
        s.inspect(&repeat(&ping(), 1000), t0).expect("a huge burst");
        let far = t0 + Duration::from_secs(10 * 365 * 24 * 3600);
        s.inspect(&ping(), far).expect("refilled");
        assert_eq!(s.bucket.nanos, s.bucket.cap - NANOS_PER_TOKEN);
        s.wrote(usize::MAX);
        s.inspect(&headers(0x7fff_ffff), far).expect("free");
        assert_eq!(s.bucket.nanos, s.bucket.cap);
    }

    #[test]
    fn time_going_backwards_neither_panics_nor_refills() {
        let budget = ControlFrameBudget {
            burst: 10,
            per_second: 10,
        };
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(10);
        let mut s = FrameScanner::new(budget, t1);
        s.inspect(PREFACE, t1).expect("free");
        s.inspect(&repeat(&ping(), 10), t1).expect("the burst");
        s.inspect(&[], t0).expect("nothing");
        assert_eq!(tokens(&s), 0);
        // Refill counts from t1, the latest time seen, not from t0.
        let t2 = t1 + Duration::from_millis(100);
        s.inspect(&ping(), t2).expect("one token");
        let flood = s.inspect(&ping(), t0).unwrap_err();
        assert_eq!(flood.frames, 12);
    }

    #[test]
    fn after_a_flood_every_call_returns_it() {
        let (mut s, t0) = after_preface(ControlFrameBudget {
            burst: 2,
            per_second: 1000,
        });
        let flood = s.inspect(&repeat(&settings(), 5), t0).unwrap_err();
        assert_eq!(
            flood,
            Flood {
                frame_type: "SETTINGS",
                frames: 3
            }
        );
        let later = t0 + Duration::from_secs(60);
        s.wrote(1 << 30);
        assert_eq!(s.inspect(&[], later), Err(flood.clone()));
        assert_eq!(s.inspect(&headers(1), later), Err(flood.clone()));
        assert_eq!(s.inspect(&ping(), later), Err(flood.clone()));
        assert_eq!(s.inspect(&data(1, 100), t0), Err(flood.clone()));
        assert_eq!(s.streams_opened(), 0);
        assert_eq!(
            flood.to_string(),
            "HTTP/2 control-frame flood: SETTINGS after 3 control frames"
        );
    }

    /// What a browser sends first: its SETTINGS, a connection WINDOW_UPDATE, the ACK of the
    /// gateway's SETTINGS and (Firefox) PRIORITY frames for its dependency tree on idle streams.
    fn browser_connection_start() -> Vec<u8> {
        let mut start = vec![settings(), window_update(0), settings_ack()];
        start.extend((0..5).map(|i| priority(3 + 2 * i)));
        cat(&start)
    }

    #[test]
    fn browser_making_1000_requests_is_never_closed() {
        // All at one instant: no refill, the credit alone pays.
        let (mut s, t0) = after_preface(REC);
        s.inspect(&browser_connection_start(), t0).expect("start");
        for i in 0..1000 {
            let id = 13 + 2 * i;
            let request = cat(&[
                headers(id),
                priority(id),
                window_update(0),
                window_update(id),
                rst_stream(id),
            ]);
            s.inspect(&request, t0).expect("a request");
            s.wrote(2000);
        }
        assert_eq!(s.streams_opened(), 1000);
        assert_eq!(s.control_frames, 8 + 4 * 1000);

        // In batches of max_concurrent_streams: 100 HEADERS (whose credit the full bucket
        // cannot hold), then their 300 control frames.
        let (mut s, t0) = after_preface(REC);
        s.inspect(&browser_connection_start(), t0).expect("start");
        for batch in 0..10_u32 {
            let ids: Vec<u32> = (0..100).map(|i| 13 + 2 * (batch * 100 + i)).collect();
            let opens: Vec<Vec<u8>> = ids.iter().map(|&id| headers(id)).collect();
            s.inspect(&cat(&opens), t0).expect("requests");
            for &id in &ids {
                let frames = cat(&[priority(id), window_update(0), window_update(id)]);
                s.inspect(&frames, t0).expect("their control frames");
            }
        }
        assert_eq!(s.streams_opened(), 1000);
    }

    #[test]
    fn client_downloading_100_mib_is_never_closed() {
        // 6400 DATA frames of 16 KiB, each answered with a connection and a stream
        // WINDOW_UPDATE, at one instant: the write credit alone pays. The gateway's writes move
        // whole frames, or 4 KiB at a time.
        let frame_bytes = FRAME_HEADER_LEN + WRITE_CREDIT_BYTES;
        for write_size in [frame_bytes, 4096] {
            let (mut s, t0) = after_preface(REC);
            s.inspect(&browser_connection_start(), t0).expect("start");
            s.inspect(&headers(1), t0).expect("the request");
            let acks = cat(&[window_update(0), window_update(1)]);
            for _ in 0..(100 << 20) / WRITE_CREDIT_BYTES {
                let mut left = frame_bytes;
                while left > 0 {
                    let n = left.min(write_size);
                    s.wrote(n);
                    left -= n;
                }
                s.inspect(&acks, t0).expect("WINDOW_UPDATEs");
            }
            assert_eq!(s.control_frames, 8 + 2 * 6400);
        }
    }

    #[test]
    fn client_pinging_every_second_for_an_hour_is_never_closed() {
        for budget in [
            REC,
            ControlFrameBudget {
                burst: 1,
                per_second: 1,
            },
        ] {
            let (mut s, t0) = after_preface(budget);
            for second in 0..3600 {
                let now = t0 + Duration::from_secs(second);
                s.inspect(&ping(), now).expect("a keep-alive PING");
            }
        }
    }

    /// A grpc-go client receiving a server stream at `rtt`, in bursts of `burst_bytes` per round
    /// trip: per DATA frame its connection window sends a WINDOW_UPDATE per 16 KiB received and
    /// its stream window one per 16 KiB read; the first DATA frame after the previous BDP PING's
    /// ACK sends a connection WINDOW_UPDATE and a BDP PING (grpc-go
    /// `internal/transport/http2_client.go` `handleData`, `bdp_estimator.go`). The windows stay at
    /// 64 KiB: the estimator never grows them, the worst case.
    fn grpc_stream(
        budget: ControlFrameBudget,
        rtt: Duration,
        burst_bytes: usize,
        secs: u32,
    ) -> Result<(), Flood> {
        let (mut s, t0) = after_preface(budget);
        s.inspect(&cat(&[settings(), window_update(0), settings_ack()]), t0)?;
        s.inspect(&headers(1), t0)?;
        let (mut conn_unacked, mut stream_unacked) = (0, 0);
        let bursts = (Duration::from_secs(secs.into()).as_nanos() / rtt.as_nanos()) as u32;
        for i in 0..bursts {
            let now = t0 + rtt * i;
            let mut left = burst_bytes;
            let mut first = true;
            while left > 0 {
                let len = left.min(WRITE_CREDIT_BYTES);
                left -= len;
                s.wrote(FRAME_HEADER_LEN + len);
                let mut sent = Vec::new();
                conn_unacked += len;
                if conn_unacked >= WRITE_CREDIT_BYTES {
                    conn_unacked = 0;
                    sent.push(window_update(0));
                }
                if first {
                    first = false;
                    if conn_unacked > 0 {
                        conn_unacked = 0;
                        sent.push(window_update(0));
                    }
                    sent.push(ping());
                }
                stream_unacked += len;
                if stream_unacked >= WRITE_CREDIT_BYTES {
                    stream_unacked = 0;
                    sent.push(window_update(1));
                }
                s.inspect(&cat(&sent), now)?;
            }
        }
        Ok(())
    }

    #[test]
    fn grpc_client_sending_bdp_pings_is_never_closed() {
        let rtt = Duration::from_millis(5);
        for burst_bytes in [100, 1024, 4096, 16 * 1024, 64 * 1024, 1 << 20] {
            let secs = if burst_bytes > 64 * 1024 { 10 } else { 600 };
            assert_eq!(
                grpc_stream(REC, rtt, burst_bytes, secs),
                Ok(()),
                "{burst_bytes} B bursts"
            );
        }
        // Larger RTTs send fewer PINGs.
        assert_eq!(
            grpc_stream(REC, Duration::from_millis(40), 100, 600),
            Ok(())
        );
    }

    #[test]
    fn documented_limit_grpc_small_messages_under_4ms_rtt_outrun_the_refill() {
        // Two uncredited frames per round trip: 1 ms RTT needs 2000/s, the refill gives 500/s.
        let flood = grpc_stream(REC, Duration::from_millis(1), 100, 60).unwrap_err();
        assert!(flood.frame_type == "PING" || flood.frame_type == "WINDOW_UPDATE");
    }

    #[test]
    fn go_client_reading_4_kib_chunks_is_never_closed() {
        // Go's HTTP/2 client sends a connection and a stream WINDOW_UPDATE per read of 4 KiB or
        // more (golang.org/x/net/http2 `inflow.add`); 200 chunks/s for 10 minutes.
        let (mut s, t0) = after_preface(REC);
        s.inspect(&cat(&[settings(), window_update(0), settings_ack()]), t0)
            .expect("start");
        s.inspect(&headers(1), t0).expect("the request");
        let acks = cat(&[window_update(0), window_update(1)]);
        for i in 0..200 * 600 {
            let now = t0 + Duration::from_millis(5) * i;
            s.wrote(FRAME_HEADER_LEN + 4096);
            s.inspect(&acks, now).expect("WINDOW_UPDATEs");
        }
    }

    /// One step of a random client: a frame, a write by the gateway, or time passing.
    #[derive(Debug, Clone)]
    enum Op {
        Frame {
            kind: u8,
            flags: u8,
            stream: u32,
            len: usize,
        },
        Wrote(usize),
        Sleep(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let kind = prop_oneof![4 => 0_u8..=9, 1 => any::<u8>()];
        let len = prop_oneof![Just(0_usize), 0_usize..40];
        prop_oneof![
            8 => (kind, any::<u8>(), 0_u32..12, len)
                .prop_map(|(kind, flags, stream, len)| Op::Frame { kind, flags, stream, len }),
            1 => (0_usize..40_000).prop_map(Op::Wrote),
            1 => (0_u64..20).prop_map(Op::Sleep),
        ]
    }

    /// The rule, frame by frame, written independently of the byte scanner.
    fn model(budget: ControlFrameBudget, ops: &[Op]) -> (Option<Flood>, u64, u64) {
        let nano = i128::from(NANOS_PER_TOKEN);
        let cap = i128::from(budget.burst) * nano;
        let (mut tokens, mut written, mut max_id, mut opened, mut charged) =
            (cap, 0_usize, 0, 0, 0);
        for op in ops {
            match *op {
                Op::Sleep(ms) => {
                    tokens = cap
                        .min(tokens + i128::from(ms) * 1_000_000 * i128::from(budget.per_second));
                }
                Op::Wrote(n) => {
                    written += n;
                    let chunks = written / WRITE_CREDIT_BYTES;
                    written %= WRITE_CREDIT_BYTES;
                    tokens = cap.min(tokens + chunks as i128 * i128::from(WRITE_CREDIT) * nano);
                }
                Op::Frame {
                    kind,
                    flags,
                    stream,
                    len,
                } => {
                    if kind == 1 && stream % 2 == 1 && stream > max_id {
                        max_id = stream;
                        opened += 1;
                        tokens = cap.min(tokens + i128::from(STREAM_CREDIT) * nano);
                    }
                    let end_or_ack = flags & 1 == 1;
                    let free = match kind {
                        0 => len > 0 || end_or_ack,
                        1 | 9 => len > 0,
                        5 | 7 => true,
                        _ => false,
                    };
                    if !free {
                        charged += 1;
                        tokens -= nano;
                        if tokens < 0 {
                            let name = FrameHeader {
                                length: len,
                                kind,
                                flags,
                                stream_id: stream,
                            }
                            .cost()
                            .expect("a control frame");
                            return (
                                Some(Flood {
                                    frame_type: name,
                                    frames: charged,
                                }),
                                opened,
                                charged,
                            );
                        }
                    }
                }
            }
        }
        (None, opened, charged)
    }

    proptest! {
        #[test]
        fn any_chunking_matches_the_frame_level_rule(
            burst in 0_u32..30,
            per_second in 0_u32..2000,
            ops in proptest::collection::vec(op(), 0..200),
            cuts in proptest::collection::vec(1_usize..30, 1..20),
        ) {
            let budget = ControlFrameBudget { burst, per_second };
            let t0 = Instant::now();
            let mut s = FrameScanner::new(budget, t0);
            let mut now = t0;
            let mut pending = PREFACE.to_vec();
            let mut cut = cuts.iter().cycle();
            let mut result = Ok(());
            let mut flush = |s: &mut FrameScanner, pending: &mut Vec<u8>, now: Instant| {
                let mut rest = &pending[..];
                let mut result = Ok(());
                while !rest.is_empty() {
                    let n = rest.len().min(*cut.next().expect("cycle"));
                    result = s.inspect(&rest[..n], now);
                    rest = &rest[n..];
                }
                pending.clear();
                result
            };
            for op in &ops {
                match *op {
                    Op::Frame { kind, flags, stream, len } => {
                        pending.extend_from_slice(&frame(kind, flags, stream, len));
                    }
                    Op::Wrote(n) => {
                        result = result.and(flush(&mut s, &mut pending, now));
                        s.wrote(n);
                    }
                    Op::Sleep(ms) => {
                        result = result.and(flush(&mut s, &mut pending, now));
                        now += Duration::from_millis(ms);
                    }
                }
            }
            result = result.and(flush(&mut s, &mut pending, now));
            let (flood, opened, charged) = model(budget, &ops);
            prop_assert_eq!(result.err(), flood.clone());
            prop_assert_eq!(s.flood.clone(), flood.clone());
            if flood.is_none() {
                prop_assert_eq!(s.streams_opened(), opened);
                prop_assert_eq!(s.control_frames, charged);
            }
        }
    }
}
