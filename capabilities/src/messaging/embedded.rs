//! The in-process bus: NATS subject semantics inside one gateway, durable in a local file.
//!
//! Delivery rules, chosen so that nothing accepted is lost and nothing piles up unasked:
//!
//! - A published message goes to every plain subscription whose pattern matches and to one
//!   member (round robin) of each matching queue group, all as they stand at publish time.
//! - With at least one recipient, the message is committed to `<data_dir>/bus.redb` before
//!   `publish` returns and before anyone sees it, and deleted once every delivery of it is
//!   acknowledged. With none, it is dropped, as NATS does: nobody declared interest.
//! - Replies to request inboxes (`_INBOX.…`) are not logged: the requester waiting for them
//!   lives in this process, so after a restart there is nobody to deliver them to.
//! - Each subscription queues up to [`SUBSCRIBER_QUEUE`] deliveries. When full, the publisher
//!   waits up to [`FULL_WAIT`] for room, then gives up on that recipient; the message stays
//!   in the log, unacknowledged.
//! - On reopening, every message still in the log is delivered once more, to the first
//!   subscription whose pattern matches it, ahead of new messages (at-least-once). Within a
//!   run, a delivery that is dropped without ack is not retried before the next restart.

use super::bus::{AckFn, Bus, Delivery, Message, Subscription, validate_queue};
use super::error::{Error, Result};
use super::log::Log;
use super::subject::{Pattern, validate_subject};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Deliveries a subscription may have queued before publishers wait: enough to ride out a
/// burst while a handler is busy, small enough that a stuck subscriber holds little memory.
pub const SUBSCRIBER_QUEUE: usize = 1024;

/// How long a publisher waits for room at a full subscription before leaving the message in
/// the log for it; a short stall rather than letting one slow subscriber block every publisher.
pub const FULL_WAIT: Duration = Duration::from_millis(100);

/// The file the log lives in, inside the data directory.
const LOG_FILE: &str = "bus.redb";

/// Request inboxes: replies there are not logged (see the module docs).
const INBOX_PREFIX: &str = "_INBOX.";

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
    subscriptions: Vec<Subscriber>,
    /// The next member to serve, per queue group name.
    round_robin: HashMap<String, usize>,
    /// Deliveries not yet acknowledged, per logged message.
    unacked: HashMap<u64, usize>,
    /// Messages found in the log on opening, waiting for a matching subscription.
    recovered: BTreeMap<u64, Message>,
}

struct Subscriber {
    pattern: Pattern,
    queue: Option<String>,
    tx: mpsc::Sender<Delivery>,
}

impl EmbeddedBus {
    /// Opens the bus whose log is `<data_dir>/bus.redb`, creating the directory and file if needed
    /// (private: see [`crate::private_files`]); messages left unacknowledged there are delivered
    /// again (see the module docs).
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
            subscriptions: Vec::new(),
            round_robin: HashMap::new(),
            unacked: HashMap::new(),
            recovered: recovered.messages.into_iter().collect(),
        };
        Ok(EmbeddedBus {
            inner: Arc::new(Inner {
                log,
                state: Mutex::new(state),
            }),
        })
    }

    /// Publishes and reports how many subscriptions the message went to.
    async fn publish_to(&self, msg: Message) -> Result<usize> {
        validate_subject(&msg.subject)?;
        if let Some(reply_to) = &msg.reply_to {
            validate_subject(reply_to)?;
        }
        let durable = !msg.subject.starts_with(INBOX_PREFIX);
        let (targets, id) = {
            let mut state = self.inner.lock();
            let targets = state.recipients(&msg.subject);
            if targets.is_empty() {
                return Ok(0);
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
            self.inner.lock().unacked.remove(&id);
            return Err(err);
        }
        let count = targets.len();
        for tx in targets {
            let ack = id.map(|id| acker(Arc::downgrade(&self.inner), id));
            deliver(&tx, Delivery::new(msg.clone(), ack)).await;
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
            let replay: Vec<(u64, Message)> = {
                let ids: Vec<u64> = state
                    .recovered
                    .iter()
                    .filter(|(_, m)| pattern.matches(&m.subject))
                    .map(|(id, _)| *id)
                    .collect();
                ids.into_iter()
                    .filter_map(|id| state.recovered.remove(&id).map(|m| (id, m)))
                    .collect()
            };
            // Room for the whole replay, so it is queued now, in order, ahead of new messages.
            let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE.max(replay.len()));
            for (id, message) in replay {
                state.unacked.insert(id, 1);
                let ack = acker(Arc::downgrade(&self.inner), id);
                // Cannot fail: the channel is fresh, open and large enough.
                let _ = tx.try_send(Delivery::new(message, Some(ack)));
            }
            state.subscriptions.push(Subscriber { pattern, queue, tx });
            Ok(Subscription::new(rx, None))
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
}

impl State {
    /// The channels `subject` goes to: every matching plain subscription and one member of
    /// each matching queue group. Drops subscriptions whose receiver is gone on the way.
    fn recipients(&mut self, subject: &str) -> Vec<mpsc::Sender<Delivery>> {
        self.subscriptions.retain(|s| !s.tx.is_closed());
        let mut targets = Vec::new();
        let mut groups: BTreeMap<&str, Vec<&mpsc::Sender<Delivery>>> = BTreeMap::new();
        for sub in self
            .subscriptions
            .iter()
            .filter(|s| s.pattern.matches(subject))
        {
            match &sub.queue {
                None => targets.push(sub.tx.clone()),
                Some(queue) => groups.entry(queue).or_default().push(&sub.tx),
            }
        }
        for (queue, members) in groups {
            let next = self.round_robin.entry(queue.to_owned()).or_insert(0);
            targets.push(members[*next % members.len()].clone());
            *next = next.wrapping_add(1);
        }
        targets
    }
}

/// Hands `delivery` to one subscription, waiting briefly if it is full (see module docs).
async fn deliver(tx: &mpsc::Sender<Delivery>, delivery: Delivery) {
    let delivery = match tx.try_send(delivery) {
        Ok(()) => return,
        Err(TrySendError::Closed(_)) => return,
        Err(TrySendError::Full(delivery)) => delivery,
    };
    if tokio::time::timeout(FULL_WAIT, tx.send(delivery))
        .await
        .is_err()
    {
        tracing::warn!(
            wait_ms = FULL_WAIT.as_millis(),
            "subscription queue full; message kept in the log for redelivery after restart"
        );
    }
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
