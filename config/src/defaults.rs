//! Every default and bound of the server settings, each with the reason for its value.
//!
//! `config/examples/wasmgate.toml` lists the same values; a test keeps the two in step.

use crate::byte_size::ByteSize;
use crate::duration::HumanDuration;
use crate::ip_range::IpRange;
use crate::log_format::LogFormat;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::Duration;

pub use crate::async_calls_settings::{
    ASYNC_MAX_QUEUED_RANGE, DEFAULT_ASYNC_MAX_BODY, DEFAULT_ASYNC_MAX_QUEUED,
    DEFAULT_ASYNC_MAX_RESULT, DEFAULT_ASYNC_RETENTION, MAX_ASYNC_BODY, MAX_ASYNC_RESULT,
};
pub use crate::quotas_settings::{
    BACKLOG_MESSAGES_RANGE, DEFAULT_MAX_BACKLOG_BYTES, DEFAULT_MAX_BACKLOG_MESSAGES,
    DEFAULT_MAX_FUNCTIONS, DEFAULT_MAX_KV_BYTES, DEFAULT_MAX_STORED_BYTES, MAX_FUNCTIONS_RANGE,
};
pub use crate::secrets_settings::GATEWAY_ENV_PREFIX;
pub use crate::versions_settings::{
    DEFAULT_CANARY_ERROR_MARGIN, DEFAULT_CANARY_LATENCY_MARGIN, DEFAULT_CANARY_WINDOW,
    DEFAULT_VERSIONS_KEEP, VERSIONS_KEEP_RANGE,
};

/// Where the gateway listens: loopback only, so a first run exposes nothing to the network.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Shortest admin or metrics token accepted, in characters. A generated token is 43 base64url
/// characters (32 random bytes, 256 bits); 32 random printable characters still carry about 190
/// bits, far beyond guessing over the network, while anything shorter is almost always a password
/// chosen by hand. OWASP's session-management guidance asks for at least 64 bits of entropy
/// (<https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html>); a length
/// floor is the part of that a gateway can check.
pub const MIN_TOKEN_LEN: usize = 32;

/// Where the registry and artifacts live: beside the working directory, easy to find and delete.
pub const DEFAULT_DATA_DIR: &str = "./wasmgate-data";

/// Human-readable logs: the first reader is a developer at a terminal.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Human;

/// Largest deploy body: a release-built component with its dependencies is a few MiB; 64MiB
/// leaves room for big ones while bounding what one upload can make the node buffer.
pub const DEFAULT_MAX_MODULE_SIZE: ByteSize = ByteSize::mib(64);

/// How long SIGTERM waits for in-flight requests: matches Kubernetes' default
/// `terminationGracePeriodSeconds`, so the orchestrator does not kill us mid-drain.
pub const DEFAULT_SHUTDOWN_GRACE: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(30));

/// Idle time before a function scales to zero: long enough that steady low traffic stays warm,
/// short enough that thousands of idle functions do not pin memory.
pub const DEFAULT_IDLE_TIMEOUT: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(5 * 60));

/// Per-request time limit: generous for an HTTP handler, and below the 60s idle timeout of
/// common load balancers, so the caller sees our 504 rather than a dropped connection.
pub const DEFAULT_TIMEOUT: HumanDuration = HumanDuration::from_duration(Duration::from_secs(30));

/// Linear memory per instance: ample for typical handlers, and 100 concurrent instances of one
/// function stay within a small node's RAM.
pub const DEFAULT_MEMORY: ByteSize = ByteSize::mib(128);

/// Largest response body one call may stream: room for the reports, exports and files a function
/// generates, yet a guest streaming as fast as it can is cut off after a fraction of a second
/// instead of pushing gigabytes through the node within its timeout.
pub const DEFAULT_MAX_RESPONSE_BODY: ByteSize = ByteSize::mib(100);

/// Messages one call may send on the bus: a handler fanning out one message per item of a large
/// batch stays well below it, while a guest publishing in a loop is stopped after milliseconds
/// instead of flooding the bus (and every subscriber) until its timeout.
pub const DEFAULT_MAX_MESSAGES_PER_CALL: u32 = 1000;

/// Accepted values of `max_messages_per_call`: at least one (a function that must not publish
/// is simply not granted `messaging`), at most a million, beyond which the limit bounds nothing.
pub const MESSAGES_PER_CALL_RANGE: RangeInclusive<u32> = RangeInclusive::new(1, 1_000_000);

/// Key-value buckets one instance may hold open at once: handlers use a handful; each open
/// bucket costs host memory, so a guest opening buckets in a loop is refused long before that
/// matters.
pub const DEFAULT_MAX_OPEN_BUCKETS: u32 = 100;

/// Accepted values of `max_open_buckets`: at least one (a function that needs none is simply not
/// granted `keyvalue`), at most ten thousand, a few MiB of host memory per instance.
pub const OPEN_BUCKETS_RANGE: RangeInclusive<u32> = RangeInclusive::new(1, 10_000);

/// Requests one function serves at once before queueing: matches [`DEFAULT_MAX_INSTANCES`], since
/// every request runs on its own instance.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 100;

/// Live instances of one function: a tenth of [`DEFAULT_POOL_INSTANCES`], so one busy function
/// cannot take every slot on the node.
pub const DEFAULT_MAX_INSTANCES: u32 = 100;

/// Calls one reused instance serves before it is dropped (`reuse_max_uses`): enough that the
/// instantiation it saves is paid once per thousand calls (under 0.1 % of a hello call's time), few
/// enough that a guest whose memory grows or fragments with every call (a leak, a cache without
/// bound) starts clean again every few seconds under load.
pub const DEFAULT_REUSE_MAX_USES: u32 = 1000;

/// Accepted values of `reuse_max_uses`: at least one call (one means no reuse at all, like
/// `reuse = false`), at most a million, beyond which the bound no longer bounds anything a guest
/// could accumulate.
pub const REUSE_MAX_USES_RANGE: RangeInclusive<u32> = RangeInclusive::new(1, 1_000_000);

/// How long a reused instance waits idle for its next call (`reuse_idle`): steady traffic of one
/// call every few seconds keeps hitting it, while a function that went quiet gives its pooling
/// slot and its memory back long before its code leaves at `idle_timeout`. Capped at the
/// function's `idle_timeout`.
pub const DEFAULT_REUSE_IDLE: HumanDuration = HumanDuration::from_duration(Duration::from_secs(10));

/// Whether this node lets functions opt into instance reuse (`pool.allow_reuse`): yes, since
/// each function is still fresh per call unless its signed manifest asks for reuse.
pub const DEFAULT_ALLOW_REUSE: bool = true;

/// Instances kept ready when idle: none, so an idle function costs nothing.
pub const DEFAULT_MIN_INSTANCES: u32 = 0;

/// Wait for a concurrency slot before answering 429: absorbs a burst without letting a queue
/// build up that clients would time out in anyway.
pub const DEFAULT_QUEUE_TIMEOUT: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(1));

/// Memory for loaded code on the node: a hello-world artifact is well under 1MiB, so hundreds of
/// warm functions fit; past it the least valuable warm functions are evicted.
pub const DEFAULT_CODE_BUDGET: ByteSize = ByteSize::gib(1);

/// Pooling-allocator slots, the node's ceiling on live instances: slots only reserve virtual
/// address space, so 1000 is cheap on 64-bit hosts and covers a busy 2-core node.
pub const DEFAULT_POOL_INSTANCES: u32 = 1000;

/// Ceiling on one instance's linear memory: the node refuses manifests above it, and each slot
/// reserves this much address space.
pub const DEFAULT_MAX_MEMORY: ByteSize = ByteSize::gib(1);

/// Wasm stack per call: double wasmtime's 512KiB default, for recursive guests such as parsers,
/// and still below [`MAX_WASM_STACK`].
pub const DEFAULT_WASM_STACK: ByteSize = ByteSize::mib(1);

/// Guard region after each linear memory: wasmtime's own 64-bit default. An out-of-bounds
/// access faults in it, so compiled code needs fewer explicit bounds checks; it costs only
/// address space, reserved once per instance slot.
pub const DEFAULT_MEMORY_GUARD: ByteSize = ByteSize::mib(32);

/// Largest memory guard: beyond 2GiB per slot the address space of [`DEFAULT_POOL_INSTANCES`]
/// slots (each also reserving its memory) runs out long before any speed is gained.
pub const MAX_MEMORY_GUARD: ByteSize = ByteSize::gib(2);

/// Epoch tick: a spinning guest yields its thread at least this often, a long call's CPU slice
/// lasts this long, and timeouts are this precise. 5ms keeps a neighbour's p99 among 8 spinners
/// on 2 cores within 20 ms (`scripts/bench-noisy`, bench/NOISY.md; 10ms was borderline) at 200
/// wake-ups a second of the ticker thread.
pub const DEFAULT_EPOCH_TICK: HumanDuration =
    HumanDuration::from_duration(Duration::from_millis(5));

/// Fair CPU shares on: without them 8 spinning guests of one function on 2 cores delayed
/// another function's hello by 0.33 s (issue 12); `scripts/bench-noisy` measures both.
pub const DEFAULT_FAIR_SHARE: bool = true;

/// Fastest allowed epoch tick: below it, the ticker and the yields it causes cost real CPU.
pub const MIN_EPOCH_TICK: Duration = Duration::from_millis(1);

/// Slowest allowed epoch tick: above it, one spinning guest stalls its neighbours noticeably.
pub const MAX_EPOCH_TICK: Duration = Duration::from_secs(1);

/// Smallest memory limit: one WebAssembly page; nothing runs in less.
pub const MIN_MEMORY: ByteSize = ByteSize::kib(64);

/// Wasm stack must stay below this: wasmtime runs each async call on a 2MiB native stack by
/// default, and refuses a wasm stack that would not fit in it.
pub const MAX_WASM_STACK: ByteSize = ByteSize::mib(2);

/// Smallest wasm stack: below it, ordinary Rust guests overflow in their first calls.
pub const MIN_WASM_STACK: ByteSize = ByteSize::kib(64);

/// How long an `execute` admission decision is reused before the policy is asked again.
pub const DEFAULT_DECISION_TTL: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(30));

/// Longest validity a component signature may claim: a year. Long enough for any release
/// train, short enough that a leaked or superseded signed build stops being deployable on its
/// own; operators with other cycles set `[admission] max_validity`.
pub const DEFAULT_MAX_VALIDITY: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(365 * 24 * 3600));

/// Validity `wasmgate sign` gives a signature when `--expires` is not passed: 90 days, well
/// inside [`DEFAULT_MAX_VALIDITY`].
pub const DEFAULT_SIGN_VALIDITY: Duration = Duration::from_secs(90 * 24 * 3600);

/// Longest `[admission] audience`, in bytes.
pub const MAX_AUDIENCE_LEN: usize = 256;

/// How long the gateway waits for a remote OPA server's decision.
pub const DEFAULT_OPA_TIMEOUT: HumanDuration = HumanDuration::from_duration(Duration::from_secs(1));

/// Whether a schedule slot missed while the gateway was down fires once at start: a periodic
/// job (a report, a cleanup) usually wants its latest run rather than none, and at most one
/// catch-up fire per schedule bounds the burst after a long outage.
pub const DEFAULT_SCHEDULE_CATCH_UP: bool = true;

/// Deliveries tried per event before it goes to the dead-letter subject.
pub const DEFAULT_EVENT_ATTEMPTS: u32 = 5;

/// Wait before the first retry of an event; doubled for each further retry.
pub const DEFAULT_EVENT_BACKOFF: HumanDuration =
    HumanDuration::from_duration(Duration::from_millis(100));

/// Connections served at once: each costs a file descriptor and a few KiB; 10,000 covers a busy
/// node behind a load balancer and stays within a raised `ulimit -n`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10_000;

/// Largest request head: browsers and proxies send a few KiB; 16KiB leaves room for large
/// cookies and tokens while bounding what a client can make the node buffer.
pub const DEFAULT_MAX_HEADER_SIZE: ByteSize = ByteSize::kib(16);

/// Smallest allowed `http.max_header_size`: hyper's smallest read buffer, and below it
/// ordinary requests with a few cookies no longer fit.
pub const MIN_HEADER_SIZE: ByteSize = ByteSize::kib(8);

/// Largest allowed `http.max_header_size`: beyond it a head is an attack, not a request.
pub const MAX_HEADER_SIZE: ByteSize = ByteSize::mib(1);

/// Most header fields per request: hyper's own default, which real clients stay far below.
pub const DEFAULT_MAX_HEADERS: u32 = 100;

/// Time to send a request head (and keep-alive idle time): 10s is ample on any real network and
/// short enough that slowloris clients cannot pile up.
pub const DEFAULT_HEADER_READ_TIMEOUT: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(10));

/// Time a write to a client may make no progress: nginx's `send_timeout` is 60s; 30s is the
/// default function `timeout`, so a client that stops reading holds its connection no longer
/// than a slow guest holds a request.
pub const DEFAULT_WRITE_TIMEOUT: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(30));

/// Connection age limit: none. Like gRPC's `MaxConnectionAge` (unset by default), it is for
/// spreading long-lived clients over nodes, which only a deployment behind a balancer needs.
pub const DEFAULT_MAX_CONNECTION_AGE: HumanDuration = HumanDuration::from_duration(Duration::ZERO);

/// HTTP/2 control frames a connection may send in a burst. Envoy closes a connection with
/// 1,000 control frames queued for it (`max_outbound_control_frames`); a real client sends a
/// SETTINGS and a few PING / WINDOW_UPDATE frames per request, so 1,000 is never reached by one,
/// and a SETTINGS or PING flood (CVE-2019-9512, CVE-2019-9515) is closed within milliseconds.
pub const DEFAULT_CONTROL_FRAME_BURST: u32 = 1_000;

/// HTTP/2 control frames a connection earns per second on top of its requests and the data sent
/// to it: grpc-go on a stream of small messages sends a PING and a WINDOW_UPDATE per round trip,
/// so 500/s keeps such a client down to a 4 ms round trip, while a flood is held to 1/3000 of
/// the 1.47 M frames/s seen from one attacking connection.
pub const DEFAULT_CONTROL_FRAMES_PER_SECOND: u32 = 500;

/// Time to send a body the gateway reads itself: a 64MiB deploy at 20Mbit/s takes ~27s.
pub const DEFAULT_BODY_READ_TIMEOUT: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(30));

/// Largest request body given to a function: generous for uploads, bounded for the node.
pub const DEFAULT_MAX_REQUEST_BODY: ByteSize = ByteSize::mib(32);

/// HTTP/2 streams per connection: matches [`DEFAULT_MAX_CONCURRENCY`], so one connection cannot
/// queue more than a function serves at once.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;

/// Internal ranges open to outgoing connections: none. Loopback, private, link-local (cloud
/// metadata at 169.254.169.254) and the other special ranges hold the node's own admin API and
/// the services behind it, so the operator names each one a function may reach.
pub const DEFAULT_EGRESS_ALLOW: &[IpRange] = &[];
