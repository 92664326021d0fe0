//! The recent guest log lines of each function, kept in memory for `wasmgate logs`: a bounded
//! ring per function name, and a broadcast of new lines to whoever follows it.
//!
//! Fed from the same place guest output is logged ([`crate::guest_log`]), after its rate limit,
//! so the ring holds the lines the log holds. A line costs the guest's path one short mutex hold
//! (the push, and a broadcast send only while someone follows); a function that prints nothing
//! costs nothing. Followers read from a bounded channel: one that falls behind misses lines and
//! is told how many ([`Followed::Missed`]), and never slows the guest down.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::SystemTime;
use tokio::sync::broadcast;

/// Most lines one function's ring keeps; older lines leave first.
pub const RING_MAX_LINES: usize = 1000;

/// Most bytes of text (line text plus request id) one function's ring keeps; older lines leave
/// first once a new line would pass it.
pub const RING_MAX_BYTES: usize = 256 * 1024;

/// Longest line text a ring keeps, in bytes; longer lines are cut (at a character boundary) and
/// marked [`LogLine::truncated`].
pub const RING_MAX_LINE_BYTES: usize = 2048;

/// Lines a follower may fall behind by before it misses some ([`Followed::Missed`]).
pub const FOLLOW_BUFFER: usize = 256;

/// One line a guest printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its number in its function's ring: increasing by one per line kept, from 0.
    pub seq: u64,
    /// When the host logged it (when the line was complete).
    pub time: SystemTime,
    /// The request the instance served, or `-` when it served none.
    pub request_id: Arc<str>,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The line without its newline, at most [`RING_MAX_LINE_BYTES`] bytes; invalid UTF-8 is
    /// replaced with U+FFFD.
    pub text: Box<str>,
    /// Whether `text` was cut at [`RING_MAX_LINE_BYTES`].
    pub truncated: bool,
}

impl LogLine {
    /// What the line counts against [`RING_MAX_BYTES`].
    fn cost(&self) -> usize {
        self.text.len() + self.request_id.len()
    }
}

/// The recent lines of one function (every version of its name), and their followers.
#[derive(Debug)]
pub struct LogRing {
    state: Mutex<RingState>,
}

#[derive(Debug, Default)]
struct RingState {
    lines: VecDeque<Arc<LogLine>>,
    /// Sum of the kept lines' [`LogLine::cost`].
    bytes: usize,
    next_seq: u64,
    /// Followers now; the channel exists only while there are some.
    followers: usize,
    sender: Option<broadcast::Sender<Arc<LogLine>>>,
    /// Set when the function was deleted: followers are let go and no new one is taken.
    closed: bool,
}

impl LogRing {
    /// An empty ring.
    pub fn new() -> Arc<Self> {
        Arc::new(LogRing {
            state: Mutex::new(RingState::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RingState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a line printed now, dropping the oldest lines past [`RING_MAX_LINES`] or
    /// [`RING_MAX_BYTES`], and sends it to the followers. The pool calls it for every guest line
    /// it logs; `stream` is `stdout` or `stderr`.
    pub fn push(&self, request_id: Arc<str>, stream: &'static str, text: &str) {
        let (text, truncated) = cut(text, RING_MAX_LINE_BYTES);
        let text: Box<str> = text.into();
        let time = SystemTime::now();
        let mut state = self.state();
        let line = Arc::new(LogLine {
            seq: state.next_seq,
            time,
            request_id,
            stream,
            text,
            truncated,
        });
        state.next_seq += 1;
        state.bytes += line.cost();
        if let Some(sender) = &state.sender {
            // No receiver left (they are counted out after this lock) is not an error here.
            let _ = sender.send(line.clone());
        }
        state.lines.push_back(line);
        while state.lines.len() > RING_MAX_LINES || state.bytes > RING_MAX_BYTES {
            let Some(old) = state.lines.pop_front() else {
                break;
            };
            state.bytes -= old.cost();
        }
    }

    /// The kept lines, oldest first.
    pub fn recent(&self) -> Vec<Arc<LogLine>> {
        self.state().lines.iter().cloned().collect()
    }

    /// The kept lines, oldest first, and a follower that receives every line kept after them
    /// (none twice, none left out). A ring already closed gives a follower that ends at once.
    pub fn follow(self: &Arc<Self>) -> (Vec<Arc<LogLine>>, Follower) {
        let mut state = self.state();
        let lines = state.lines.iter().cloned().collect();
        let receiver = if state.closed {
            None
        } else {
            let sender = state
                .sender
                .get_or_insert_with(|| broadcast::channel(FOLLOW_BUFFER).0);
            let receiver = sender.subscribe();
            state.followers += 1;
            Some(receiver)
        };
        let follower = Follower {
            receiver,
            ring: Arc::downgrade(self),
        };
        (lines, follower)
    }

    /// Lets every follower go (each gets [`Followed::Closed`] after the lines it has not read
    /// yet) and takes no new one: the function was deleted.
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.sender = None;
    }

    /// Followers now.
    pub fn followers(&self) -> usize {
        self.state().followers
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary; says whether it cut.
fn cut(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// What a follower receives next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// A new line.
    Line(Arc<LogLine>),
    /// This many lines went by while the follower was behind by [`FOLLOW_BUFFER`]; it goes on
    /// with the oldest line still buffered.
    Missed(u64),
    /// The function was deleted: nothing more comes.
    Closed,
}

/// One reader of a ring's new lines (see [`LogRing::follow`]); counted out when dropped.
#[derive(Debug)]
pub struct Follower {
    receiver: Option<broadcast::Receiver<Arc<LogLine>>>,
    ring: Weak<LogRing>,
}

impl Follower {
    /// Waits for the next line (or news of missed lines, or the end).
    pub async fn next(&mut self) -> Followed {
        let Some(receiver) = &mut self.receiver else {
            return Followed::Closed;
        };
        match receiver.recv().await {
            Ok(line) => Followed::Line(line),
            Err(broadcast::error::RecvError::Lagged(missed)) => Followed::Missed(missed),
            Err(broadcast::error::RecvError::Closed) => {
                self.receiver = None;
                Followed::Closed
            }
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let (Some(receiver), Some(ring)) = (self.receiver.take(), self.ring.upgrade()) else {
            return;
        };
        let mut state = ring.state();
        drop(receiver);
        state.followers = state.followers.saturating_sub(1);
        if state.followers == 0 {
            // Frees the channel's buffer; lines are sent to nobody until the next follower.
            state.sender = None;
        }
    }
}

/// The ring of every function name this node runs, held by the functions' handles: a ring lives
/// while some version of its function does, or until [`GuestLogs::forget`].
#[derive(Debug, Default)]
pub(crate) struct GuestLogs {
    rings: Mutex<HashMap<Arc<str>, Weak<LogRing>>>,
}

impl GuestLogs {
    /// The ring of `name`, made if it has none (rings nobody holds any more are swept then).
    pub(crate) fn ring(&self, name: &Arc<str>) -> Arc<LogRing> {
        let mut rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ring) = rings.get(name).and_then(Weak::upgrade) {
            return ring;
        }
        rings.retain(|_, ring| ring.strong_count() > 0);
        let ring = LogRing::new();
        rings.insert(name.clone(), Arc::downgrade(&ring));
        ring
    }

    /// The ring of `name`, if a version of it runs here.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<LogRing>> {
        let rings = self.rings.lock().unwrap_or_else(PoisonError::into_inner);
        rings.get(name).and_then(Weak::upgrade)
    }

    /// Drops `name`'s ring: its followers end, and the next version deployed starts a new one.
    pub(crate) fn forget(&self, name: &str) {
        let removed = self
            .rings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        if let Some(ring) = removed.and_then(|r| r.upgrade()) {
            ring.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Arc<str> {
        Arc::from(text)
    }

    #[test]
    fn the_ring_keeps_the_last_lines_up_to_its_line_bound() {
        let ring = LogRing::new();
        for i in 0..RING_MAX_LINES + 5 {
            ring.push(id("r"), "stdout", &format!("line {i}"));
        }
        let lines = ring.recent();
        assert_eq!(lines.len(), RING_MAX_LINES);
        assert_eq!(&*lines[0].text, "line 5");
        assert_eq!(lines[0].seq, 5);
        assert_eq!(
            &*lines[RING_MAX_LINES - 1].text,
            format!("line {}", RING_MAX_LINES + 4)
        );
    }

    #[test]
    fn the_ring_keeps_the_last_lines_up_to_its_byte_bound() {
        let ring = LogRing::new();
        let text = "x".repeat(RING_MAX_LINE_BYTES - 1);
        let per_line = text.len() + 1;
        let fit = RING_MAX_BYTES / per_line;
        assert!(
            fit < RING_MAX_LINES,
            "the byte bound must be the one reached"
        );
        for _ in 0..fit + 3 {
            ring.push(id("r"), "stderr", &text);
        }
        let lines = ring.recent();
        assert_eq!(lines.len(), fit);
        assert_eq!(lines[0].seq, 3);
        let bytes: usize = lines.iter().map(|l| l.cost()).sum();
        assert!(bytes <= RING_MAX_BYTES, "{bytes}");
        assert_eq!(ring.state().bytes, bytes);
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary_and_marked() {
        let ring = LogRing::new();
        // 'é' is two bytes: the cap falls inside one.
        let long = format!("a{}", "é".repeat(RING_MAX_LINE_BYTES));
        ring.push(id("r"), "stdout", &long);
        ring.push(id("r"), "stdout", "short");
        let lines = ring.recent();
        assert!(lines[0].truncated);
        assert_eq!(lines[0].text.len(), RING_MAX_LINE_BYTES - 1);
        assert!(long.starts_with(&*lines[0].text));
        assert!(!lines[1].truncated);
        assert_eq!(&*lines[1].text, "short");
    }

    #[tokio::test]
    async fn a_follower_gets_the_kept_lines_then_every_new_one_once() {
        let ring = LogRing::new();
        ring.push(id("a"), "stdout", "before");
        let (backlog, mut follower) = ring.follow();
        assert_eq!(backlog.len(), 1);
        assert_eq!(ring.followers(), 1);
        ring.push(id("b"), "stderr", "after");
        match follower.next().await {
            Followed::Line(line) => {
                assert_eq!(
                    (&*line.request_id, line.stream, &*line.text, line.seq),
                    ("b", "stderr", "after", 1)
                );
            }
            other => panic!("{other:?}"),
        }
        drop(follower);
        assert_eq!(ring.followers(), 0);
        assert!(ring.state().sender.is_none(), "no follower, no channel");
    }

    #[tokio::test]
    async fn a_slow_follower_is_told_how_many_lines_it_missed() {
        let ring = LogRing::new();
        let (_, mut follower) = ring.follow();
        let extra = 10;
        for i in 0..FOLLOW_BUFFER + extra {
            ring.push(id("r"), "stdout", &format!("{i}"));
        }
        assert_eq!(follower.next().await, Followed::Missed(extra as u64));
        match follower.next().await {
            Followed::Line(line) => assert_eq!(&*line.text, format!("{extra}")),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn closing_ends_the_followers_and_forget_drops_the_ring() {
        let logs = GuestLogs::default();
        let name: Arc<str> = Arc::from("f");
        let ring = logs.ring(&name);
        assert!(Arc::ptr_eq(&ring, &logs.ring(&name)));
        ring.push(id("r"), "stdout", "x");
        let (_, mut follower) = ring.follow();
        logs.forget("f");
        assert_eq!(follower.next().await, Followed::Closed);
        assert!(logs.get("f").is_none());
        let (_, mut late) = ring.follow();
        assert_eq!(late.next().await, Followed::Closed);
        // A new version of the name starts with an empty ring.
        assert!(logs.ring(&name).recent().is_empty());
    }

    #[test]
    fn rings_nobody_holds_are_swept() {
        let logs = GuestLogs::default();
        drop(logs.ring(&Arc::from("gone")));
        let _kept = logs.ring(&Arc::from("kept"));
        assert!(logs.get("gone").is_none());
        assert_eq!(logs.rings.lock().unwrap().len(), 1);
    }
}
