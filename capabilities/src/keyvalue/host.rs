//! `wasi:keyvalue` for guests: the generated host traits implemented on [`KvView`].

use crate::error::{Blame, Error, Result};
use crate::guest_error::guest_message;
use crate::instance_limit::InstanceLimit;
use crate::keyvalue::backend::KvBackend;
use crate::keyvalue::bindings::wasi::keyvalue::{atomics, batch, store};
use crate::keyvalue::cursors::Cursors;
use crate::keyvalue::limits::{KvUsage, check_entry, check_key};
use crate::keyvalue::scope::KvScope;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

/// What a function's guests need for key-value access: the node's backend, the function's
/// scope and its limit on open buckets.
///
/// Built once per deployed function; cloning it for each instance copies a few pointers.
#[derive(Clone)]
pub struct KvCtx {
    backend: Arc<dyn KvBackend>,
    scope: Arc<KvScope>,
    buckets: InstanceLimit,
    /// The function's open `list-keys` listings, shared by its instances so a cursor one call
    /// returned (to its client, say) goes on in a later call.
    cursors: Arc<Cursors>,
}

impl std::fmt::Debug for KvCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvCtx")
            .field("backend", &self.backend.name())
            .field("scope", &self.scope)
            .field("max_open_buckets", &self.buckets.max)
            .finish()
    }
}

impl KvCtx {
    /// Key-value access through `backend`, limited to `scope`, with no limit on open buckets
    /// until [`with_max_open_buckets`](Self::with_max_open_buckets) sets one.
    pub fn new(backend: Arc<dyn KvBackend>, scope: KvScope) -> Self {
        KvCtx {
            backend,
            scope: Arc::new(scope),
            buckets: InstanceLimit::new(u32::MAX),
            cursors: Arc::new(Cursors::new()),
        }
    }

    /// Lets each instance hold at most `max` buckets open at once; `open` fails past it. Starts a
    /// fresh count of [`limit_hits`](Self::limit_hits).
    pub fn with_max_open_buckets(mut self, max: u32) -> Self {
        self.buckets = InstanceLimit::new(max);
        self
    }

    /// How many instances were refused a bucket at the open-bucket limit.
    pub fn limit_hits(&self) -> u64 {
        self.buckets.hits()
    }

    /// The backend every bucket of this function is stored in.
    pub fn backend(&self) -> &Arc<dyn KvBackend> {
        &self.backend
    }

    /// The function's namespace.
    pub fn scope(&self) -> &KvScope {
        &self.scope
    }
}

/// A borrowed view of a store's key-value state, which the generated host traits run on.
pub struct KvView<'a> {
    /// The function's key-value context.
    pub ctx: &'a KvCtx,
    /// The store's resource table, where open buckets live.
    pub table: &'a mut ResourceTable,
    /// The store's count of open buckets.
    pub usage: &'a mut KvUsage,
}

/// An open bucket: the stored name its guest name resolved to.
#[derive(Debug)]
pub struct Bucket {
    name: String,
}

/// Adds `wasi:keyvalue/{store,atomics,batch}@0.2.0-draft` to `linker`, reaching each store's
/// key-value state through `view`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<_, HasKv>(linker, view)?;
    atomics::add_to_linker::<_, HasKv>(linker, view)?;
    batch::add_to_linker::<_, HasKv>(linker, view)?;
    Ok(())
}

struct HasKv;

impl HasData for HasKv {
    type Data<'a> = KvView<'a>;
}

impl KvView<'_> {
    /// The backend and stored bucket name behind a guest's bucket handle.
    fn open_bucket(&self, bucket: &Resource<Bucket>) -> Result<(Arc<dyn KvBackend>, String)> {
        let name = self.table.get(bucket)?.name.clone();
        Ok((self.ctx.backend.clone(), name))
    }
}

/// The WIT error a guest of `function` sees for `err`, or a trap when `err` breaks a host
/// invariant.
///
/// The text goes through [`guest_message`]: a storage failure reaches the guest as its kind only,
/// and its detail (file, backend message) goes to the log.
pub(crate) fn to_wit(err: Error, function: &str) -> wasmtime::Result<store::Error> {
    let kind = match err {
        Error::InvalidBucket { .. } | Error::InvalidScope { .. } => {
            return Ok(store::Error::AccessDenied);
        }
        Error::Table(_) => return Err(wasmtime::Error::new(err)),
        Error::NotACounter { .. } => "value is not a counter",
        Error::CounterOverflow { .. } => "counter would overflow",
        Error::TooManyBuckets { .. } => "too many open buckets",
        Error::KeyTooLong { .. } => "key too long",
        Error::UnknownCursor { .. } => "unknown list-keys cursor: list again from the start",
        Error::ValueTooLarge { .. } => "value too large",
        Error::QuotaExceeded { .. } => "quota exceeded",
        _ => "storage failure",
    };
    let blame = err.blame();
    if blame == Blame::Host {
        tracing::warn!(function, error = %err, blame = "host", "key-value storage failed");
    }
    Ok(store::Error::Other(guest_message(kind, blame, &err)))
}

impl store::Host for KvView<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>> {
        let name = self.ctx.scope.resolve(&identifier)?;
        self.usage
            .open(&self.ctx.buckets, self.ctx.scope.function())?;
        match self.table.push(Bucket { name }) {
            Ok(bucket) => Ok(bucket),
            Err(e) => {
                self.usage.close();
                Err(e.into())
            }
        }
    }

    fn convert_error(&mut self, err: Error) -> wasmtime::Result<store::Error> {
        to_wit(err, self.ctx.scope.function())
    }
}

impl store::HostBucket for KvView<'_> {
    async fn get(&mut self, bucket: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>> {
        check_key(&key)?;
        let (backend, name) = self.open_bucket(&bucket)?;
        backend.get(&name, &key).await
    }

    async fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<()> {
        check_entry(&key, &value)?;
        let (backend, name) = self.open_bucket(&bucket)?;
        backend.set(&name, &key, value).await
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Result<()> {
        check_key(&key)?;
        let (backend, name) = self.open_bucket(&bucket)?;
        backend.delete(&name, &key).await
    }

    async fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Result<bool> {
        check_key(&key)?;
        let (backend, name) = self.open_bucket(&bucket)?;
        backend.exists(&name, &key).await
    }

    async fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse> {
        let (backend, name) = self.open_bucket(&bucket)?;
        let cursors = &self.ctx.cursors;
        // A page that fails ends its listing: the guest lists again from the start.
        let page = backend
            .list_keys(&name, cursors.resume(&name, cursor)?)
            .await?;
        Ok(store::KeyResponse {
            keys: page.keys,
            cursor: page.next.map(|next| cursors.hand_out(&name, next)),
        })
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        self.usage.close();
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64> {
        check_key(&key)?;
        let (backend, name) = self.open_bucket(&bucket)?;
        backend.increment(&name, &key, delta).await
    }
}

impl batch::Host for KvView<'_> {
    async fn get_many(
        &mut self,
        bucket: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>> {
        keys.iter().try_for_each(|key| check_key(key))?;
        let (backend, name) = self.open_bucket(&bucket)?;
        let values = backend.get_many(&name, &keys).await?;
        Ok(keys
            .into_iter()
            .zip(values)
            .map(|(key, value)| value.map(|value| (key, value)))
            .collect())
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<()> {
        key_values
            .iter()
            .try_for_each(|(key, value)| check_entry(key, value))?;
        let (backend, name) = self.open_bucket(&bucket)?;
        backend.set_many(&name, key_values).await
    }

    async fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Result<()> {
        keys.iter().try_for_each(|key| check_key(key))?;
        let (backend, name) = self.open_bucket(&bucket)?;
        backend.delete_many(&name, &keys).await
    }
}

#[cfg(test)]
mod tests;
