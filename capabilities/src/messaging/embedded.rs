//! The in-process bus: NATS subject semantics inside one gateway, durable in a local file.
//!
//! Delivery rules, chosen so that nothing accepted is lost and nothing piles up unasked:
//!
//! - A published message goes to every plain subscription whose pattern matches and to one
//!   member (round robin, skipping members without room) of each matching queue group, all as
//!   they stand at publish time.
//! - Each subscription has a backlog: messages accepted for it and not yet handled (a delivery
//!   holds its place until it is dropped, acknowledged or not), bounded by [`BacklogLimits`]. A
//!   publish is accepted only if every recipient has room; otherwise it fails with
//!   [`Error::BacklogFull`] and nothing is logged or delivered, so an accepted message is never
//!   dropped for want of room, and a subscription's queue never holds more than its limits.
//! - With at least one recipient, the message is committed to `<data_dir>/bus.redb` before
//!   `publish` returns and before anyone sees it, and deleted once every delivery of it is
//!   acknowledged. With none, it is dropped, as NATS does: nobody declared interest.
//! - Replies to request inboxes (`_INBOX.…`) are not logged: the requester waiting for them
//!   lives in this process, so after a restart there is nobody to deliver them to.
//! - On reopening, only the subject and size of each message still in the log are read; each is
//!   delivered once more to the first subscription whose pattern matches it, in log order and
//!   ahead of newer messages (at-least-once), its payload read back from the log only as that
//!   subscription's backlog makes room. Within a run, a delivery that is dropped without ack is
//!   not retried before the next restart.

use super::backlog::{Backlog, BacklogLimits, check_size, message_size};
use super::bus::{AckFn, Bus, Delivery, Message, Release, Subscription, validate_queue};
use super::error::{Error, Result};
use super::log::{Log, Logged};
use super::subject::{Pattern, validate_subject};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// The file the log lives in, inside the data directory.
const LOG_FILE: &str = "bus.redb";

/// Request inboxes: replies there are not logged (see the module docs).
const INBOX_PREFIX: &str = "_INBOX.";

/// Recovered messages read back from the log at once: a bounded read per step of a replay.
const REPLAY_BATCH: usize = 256;

/// The embedded message bus; cheap to clone, all clones share one bus.
#[derive(Clone)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

struct Inner {
    log: Log,
    state: Mutex<State>,
}

/// Who listens and what is still owed, behind one lock that is never held across an await.
struct State {
    next_id: u64,
    next_subscriber: u64,
    limits: BacklogLimits,
    subscriptions: Vec<Subscriber>,
    /// The next member to serve, per queue group name.
    round_robin: HashMap<String, usize>,
    /// Deliveries not yet acknowledged, per logged message.
    unacked: HashMap<u64, usize>,
    /// Messages found in the log on opening, waiting for a matching subscription.
    recovered: BTreeMap<u64, Logged>,
}

struct Subscriber {
    id: u64,
    pattern: Pattern,
    queue: Option<String>,
    tx: mpsc::Sender<Delivery>,
    /// Deliveries handed to the subscription and not yet dropped.
    queued: Backlog,
    /// Logged messages owed to this subscription and not yet handed to it, in order: recovered
    /// ones, then any published while those are still owed.
    replay: VecDeque<(u64, u64)>,
    /// What `replay` holds.
    owed: Backlog,
    /// Whether a replay is feeding the subscription; new messages then queue behind it.
    replaying: bool,
    /// Wakes the replay when the queue makes room.
    room: Arc<Notify>,
}

impl Subscriber {
    /// Everything accepted for this subscription and not yet handled.
    fn backlog(&self) -> Backlog {
        self.queued.plus(self.owed)
    }
}

impl EmbeddedBus {
    /// Opens the bus whose log is `<data_dir>/bus.redb`, creating the directory and file if needed
    /// (private: see [`crate::private_files`]); messages left unacknowledged there are delivered
    /// again (see the module docs). Backlogs are unbounded until
    /// [`with_backlog`](Self::with_backlog) bounds them.
    pub fn open(data_dir: impl AsRef<Path>) -> Result<Self> {
        let dir = data_dir.as_ref();
        crate::private_files::create_dir(dir).map_err(|e| Error::Storage {
            message: format!("cannot create {}: {e}", dir.display()),
        })?;
        let path = dir.join(LOG_FILE);
        crate::private_files::create_file(&path).map_err(|e| Error::Storage {
            message: format!("cannot create {}: {e}", path.display()),
        })?;
        let (log, recovered) = Log::open(&path)?;
        let state = State {
            next_id: recovered.next_id,
            next_subscriber: 0,
            limits: BacklogLimits::UNBOUNDED,
            subscriptions: Vec::new(),
            round_robin: HashMap::new(),
            unacked: HashMap::new(),
            recovered: recovered.messages.into_iter().map(|m| (m.id, m)).collect(),
        };
        Ok(EmbeddedBus {
            inner: Arc::new(Inner {
                log,
                state: Mutex::new(state),
            }),
        })
    }

    /// This bus with every subscription's backlog bounded by `limits` (at least one message).
    pub fn with_backlog(self, limits: BacklogLimits) -> Self {
        self.inner.lock().limits = BacklogLimits {
            messages: limits.messages.max(1),
            bytes: limits.bytes.max(1),
        };
        self
    }

    /// Publishes and reports how many subscriptions the message went to.
    async fn publish_to(&self, msg: Message) -> Result<usize> {
        validate_subject(&msg.subject)?;
        if let Some(reply_to) = &msg.reply_to {
            validate_subject(reply_to)?;
        }
        let durable = !msg.subject.starts_with(INBOX_PREFIX);
        let size = message_size(&msg);
        let (targets, id) = {
            let mut state = self.inner.lock();
            let targets = state.recipients(&msg.subject, size)?;
            if targets.is_empty() {
                return Ok(0);
            }
            for target in &targets {
                if let Some(sub) = state.subscriber(*target) {
                    sub.queued.take(size);
                }
            }
            let id = durable.then(|| {
                let id = state.next_id;
                state.next_id += 1;
                state.unacked.insert(id, targets.len());
                id
            });
            (targets, id)
        };
        if let Some(id) = id
            && let Err(err) = self.inner.log.append(id, &msg).await
        {
            let mut state = self.inner.lock();
            state.unacked.remove(&id);
            for target in &targets {
                state.give_back(*target, size);
            }
            return Err(err);
        }
        let count = targets.len();
        for target in targets {
            self.inner.deliver(target, id, size, &msg);
        }
        Ok(count)
    }
}

impl Bus for EmbeddedBus {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn publish(&self, msg: Message) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.publish_to(msg).await.map(|_| ()) })
    }

    fn subscribe(
        &self,
        pattern: String,
        queue: Option<String>,
    ) -> BoxFuture<'_, Result<Subscription>> {
        Box::pin(async move {
            let pattern = Pattern::parse(pattern)?;
            if let Some(queue) = &queue {
                validate_queue(queue)?;
            }
            let mut state = self.inner.lock();
            let replay: VecDeque<(u64, u64)> = {
                let ids: Vec<u64> = state
                    .recovered
                    .values()
                    .filter(|m| pattern.matches(&m.subject))
                    .map(|m| m.id)
                    .collect();
                ids.into_iter()
                    .filter_map(|id| state.recovered.remove(&id).map(|m| (m.id, m.size)))
                    .collect()
            };
            let mut owed = Backlog::default();
            for (id, size) in &replay {
                state.unacked.insert(*id, 1);
                owed.take(*size);
            }
            // The backlog bounds what is queued, so the channel never refuses a delivery.
            let capacity = usize::try_from(state.limits.messages)
                .unwrap_or(usize::MAX)
                .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
            let (tx, rx) = mpsc::channel(capacity);
            let id = state.next_subscriber;
            state.next_subscriber += 1;
            let room = Arc::new(Notify::new());
            let replaying = !replay.is_empty();
            state.subscriptions.push(Subscriber {
                id,
                pattern,
                queue,
                tx,
                queued: Backlog::default(),
                replay,
                owed,
                replaying,
                room: room.clone(),
            });
            drop(state);
            let feeder = replaying.then(|| {
                tokio::spawn(replay_loop(Arc::downgrade(&self.inner), id, room)).abort_handle()
            });
            Ok(Subscription::new(rx, feeder))
        })
    }

    fn request(&self, msg: Message, timeout: Duration) -> BoxFuture<'_, Result<Message>> {
        Box::pin(async move {
            let inbox = format!("{INBOX_PREFIX}{}", uuid::Uuid::new_v4().simple());
            let mut replies = self.subscribe(inbox.clone(), None).await?;
            let subject = msg.subject.clone();
            let msg = Message {
                reply_to: Some(inbox),
                ..msg
            };
            if self.publish_to(msg).await? == 0 {
                return Err(Error::NoResponders { subject });
            }
            match tokio::time::timeout(timeout, replies.next()).await {
                Ok(Some(reply)) => Ok(reply.into_message()),
                Ok(None) => Err(Error::Closed),
                Err(_) => Err(Error::Timeout {
                    subject,
                    timeout_ms: timeout.as_millis(),
                }),
            }
        })
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere leaves it usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands `msg` (logged as `id`, when durable) to subscription `target`, whose queue has a
    /// place reserved for it, or leaves it owed behind what the subscription's replay still
    /// feeds it from the log, so it keeps its order.
    fn deliver(self: &Arc<Self>, target: u64, id: Option<u64>, size: u64, msg: &Message) {
        let mut state = self.lock();
        let Some(sub) = state.subscriber(target) else {
            return;
        };
        if let (Some(id), true) = (id, sub.replaying) {
            sub.queued.give(size);
            sub.owed.take(size);
            sub.replay.push_back((id, size));
            sub.room.notify_one();
            return;
        }
        let ack = id.map(|id| acker(Arc::downgrade(self), id));
        let delivery =
            Delivery::new(msg.clone(), ack).releasing(releaser(Arc::downgrade(self), target, size));
        if sub.tx.try_send(delivery).is_err() {
            // Closed: the subscription is going. (Full cannot happen: the backlog bounds the
            // queue.) The message stays in the log for redelivery after a restart.
            tracing::debug!(
                subscriber = target,
                "subscription gone; message kept in the log"
            );
        }
    }
}

impl State {
    fn subscriber(&mut self, id: u64) -> Option<&mut Subscriber> {
        self.subscriptions.iter_mut().find(|s| s.id == id)
    }

    /// Gives a place of `size` bytes back to subscription `id`'s queue and wakes its replay.
    fn give_back(&mut self, id: u64, size: u64) {
        if let Some(sub) = self.subscriber(id) {
            sub.queued.give(size);
            sub.room.notify_one();
        }
    }

    /// The subscriptions a message of `size` bytes on `subject` goes to: every matching plain
    /// subscription and one member with room of each matching queue group. Refuses when one of
    /// them has no room. Drops subscriptions whose receiver is gone on the way.
    fn recipients(&mut self, subject: &str, size: u64) -> Result<Vec<u64>> {
        self.subscriptions.retain(|s| !s.tx.is_closed());
        let limits = self.limits;
        if self
            .subscriptions
            .iter()
            .any(|s| s.pattern.matches(subject))
        {
            check_size(limits, size)?;
        }
        let mut targets = Vec::new();
        let mut groups: BTreeMap<&str, Vec<&Subscriber>> = BTreeMap::new();
        for sub in self
            .subscriptions
            .iter()
            .filter(|s| s.pattern.matches(subject))
        {
            match &sub.queue {
                None => {
                    sub.backlog().check(limits, subject, size)?;
                    targets.push(sub.id);
                }
                Some(queue) => groups.entry(queue).or_default().push(sub),
            }
        }
        for (queue, members) in groups {
            let next = self.round_robin.entry(queue.to_owned()).or_insert(0);
            let start = *next % members.len();
            let turn = (0..members.len()).map(|i| members[(start + i) % members.len()]);
            let mut refused = None;
            let mut chosen = None;
            for member in turn {
                match member.backlog().check(limits, subject, size) {
                    Ok(()) => {
                        chosen = Some(member.id);
                        break;
                    }
                    Err(e) => refused = refused.or(Some(e)),
                }
            }
            match (chosen, refused) {
                (Some(id), _) => targets.push(id),
                (None, Some(e)) => return Err(e),
                (None, None) => {}
            }
            *next = next.wrapping_add(1);
        }
        Ok(targets)
    }
}

/// Feeds subscription `id` the logged messages it is owed, reading each batch from the log only
/// once its backlog has room, until it is owed nothing more.
async fn replay_loop(inner: Weak<Inner>, id: u64, room: Arc<Notify>) {
    loop {
        let Some(bus) = inner.upgrade() else { return };
        let (batch, tx) = {
            let mut state = bus.lock();
            let limits = state.limits;
            let Some(sub) = state.subscriber(id) else {
                return;
            };
            if sub.replay.is_empty() {
                // Everything owed was handed over: new messages go straight to the queue.
                sub.replaying = false;
                return;
            }
            let mut batch = Vec::new();
            while batch.len() < REPLAY_BATCH
                && let Some(&(msg, size)) = sub.replay.front()
                && sub.queued.fits(limits, size)
            {
                sub.queued.take(size);
                sub.owed.give(size);
                sub.replay.pop_front();
                batch.push((msg, size));
            }
            (batch, sub.tx.clone())
        };
        if batch.is_empty() {
            drop(bus);
            room.notified().await;
            continue;
        }
        let ids = batch.iter().map(|(msg, _)| *msg).collect();
        let messages = match bus.log.read(ids).await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::error!(error = %e, "cannot read back logged messages; they stay in the log until the next restart");
                let mut state = bus.lock();
                for (_, size) in batch {
                    state.give_back(id, size);
                }
                return;
            }
        };
        let mut sizes: HashMap<u64, u64> = batch.into_iter().collect();
        let deliveries: Vec<_> = messages
            .into_iter()
            .map(|(msg_id, message)| (msg_id, sizes.remove(&msg_id).unwrap_or(0), message))
            .collect();
        // Anything not read back is no longer in the log: its place is free again.
        for size in sizes.into_values() {
            bus.lock().give_back(id, size);
        }
        for (msg_id, size, message) in deliveries {
            let ack = acker(Arc::downgrade(&bus), msg_id);
            let delivery = Delivery::new(message, Some(ack)).releasing(releaser(
                Arc::downgrade(&bus),
                id,
                size,
            ));
            if tx.send(delivery).await.is_err() {
                return;
            }
        }
    }
}

/// Gives a delivery's backlog place back when it is dropped.
fn releaser(inner: Weak<Inner>, subscriber: u64, size: u64) -> Release {
    Release::new(move || {
        if let Some(inner) = inner.upgrade() {
            inner.lock().give_back(subscriber, size);
        }
    })
}

/// The acknowledgement of one delivery of logged message `id`: the last one deletes it.
///
/// Holds the bus weakly, so outstanding deliveries do not keep a dropped bus's file open.
fn acker(inner: Weak<Inner>, id: u64) -> AckFn {
    Box::new(move || {
        Box::pin(async move {
            let inner = inner.upgrade().ok_or(Error::Closed)?;
            let last = {
                let mut state = inner.lock();
                match state.unacked.get_mut(&id) {
                    Some(1) => state.unacked.remove(&id).is_some(),
                    Some(left) => {
                        *left -= 1;
                        false
                    }
                    None => false,
                }
            };
            if last {
                inner.log.remove(id).await
            } else {
                Ok(())
            }
        })
    })
}
