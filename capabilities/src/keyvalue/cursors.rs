//! `list-keys` cursors: the `u64` a guest holds, standing for where its listing goes on.
//!
//! `wasi:keyvalue/store@0.2.0-draft` gives a cursor 64 bits, too few to hold a key, so a
//! function's open listings live here ([`ListFrom`]) and the guest holds a number naming one.
//! Numbers come from a per-function counter and a listing is found only under the bucket it
//! lists, so a guest can neither reach another function's listing nor mix two of its own.

use crate::error::{Error, Result};
use crate::keyvalue::backend::ListFrom;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Most listings one function may have going at once on this node; past it the least recently
/// continued one is forgotten.
pub const MAX_OPEN_LISTINGS: u64 = 1024;

/// A listing not continued for this long is forgotten: long enough for a client paging through
/// a bucket one request at a time, short enough that abandoned ones go.
pub const LISTING_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// One function's open listings.
pub(crate) struct Cursors {
    open: moka::sync::Cache<u64, Arc<Listing>>,
    next_id: AtomicU64,
}

/// Where one listing stands.
#[derive(Clone)]
struct Listing {
    /// The stored bucket it lists.
    bucket: String,
    from: ListFrom,
}

impl Cursors {
    pub(crate) fn new() -> Self {
        Cursors {
            open: moka::sync::Cache::builder()
                .max_capacity(MAX_OPEN_LISTINGS)
                .time_to_idle(LISTING_IDLE_TIMEOUT)
                .build(),
            next_id: AtomicU64::new(1),
        }
    }

    /// Where a listing of `bucket` goes on: from the start without a cursor, else where the
    /// page that handed out `cursor` ended. A cursor goes on once (the next page hands out a
    /// new one); one that is unknown, expired or of another bucket fails with
    /// [`UnknownCursor`](Error::UnknownCursor).
    pub(crate) fn resume(&self, bucket: &str, cursor: Option<u64>) -> Result<ListFrom> {
        let Some(id) = cursor else {
            return Ok(ListFrom::Start);
        };
        let listing = self.open.remove(&id).ok_or(Error::UnknownCursor {
            reason: "it was never handed out, was used already, or expired after 10 minutes idle",
        })?;
        if listing.bucket != bucket {
            self.open.insert(id, listing);
            return Err(Error::UnknownCursor {
                reason: "it belongs to a listing of another bucket",
            });
        }
        Ok(Arc::unwrap_or_clone(listing).from)
    }

    /// A new cursor standing for `from` in `bucket`.
    pub(crate) fn hand_out(&self, bucket: &str, from: ListFrom) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let listing = Listing {
            bucket: bucket.to_owned(),
            from,
        };
        self.open.insert(id, Arc::new(listing));
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_goes_on_once_and_only_in_its_bucket() {
        let cursors = Cursors::new();
        assert_eq!(cursors.resume("b", None).unwrap(), ListFrom::Start);
        let id = cursors.hand_out("b", ListFrom::After("k1".into()));
        assert!(matches!(
            cursors.resume("other", Some(id)),
            Err(Error::UnknownCursor { .. })
        ));
        assert_eq!(
            cursors.resume("b", Some(id)).unwrap(),
            ListFrom::After("k1".into())
        );
        assert!(matches!(
            cursors.resume("b", Some(id)),
            Err(Error::UnknownCursor { .. })
        ));
        assert!(matches!(
            cursors.resume("b", Some(id + 1)),
            Err(Error::UnknownCursor { .. })
        ));
        assert_ne!(cursors.hand_out("b", ListFrom::Start), id);
    }
}
