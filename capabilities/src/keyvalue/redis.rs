//! The distributed backend: a Redis hash per bucket, shared by every gateway pointing at it.

use crate::error::{Error, Result};
use crate::keyvalue::backend::{KeyPage, KvBackend, LIST_PAGE_SIZE, ListFrom};
use crate::keyvalue::counter;
use crate::keyvalue::quota::namespace;
use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashSet;
use std::time::Duration;

/// Prefix of the Redis key holding each bucket's hash, so wasmgate's data is easy to tell
/// apart from anything else in the same Redis database.
pub const REDIS_KEY_PREFIX: &str = "wasmgate:kv:";

/// The hash holding each namespace's usage in bytes (field: namespace), changed by the same
/// scripts that change the entries.
pub const REDIS_USAGE_KEY: &str = "wasmgate:kv-usage";

/// Set once the usage of entries written before usage was kept has been counted.
const USAGE_COUNTED_KEY: &str = "wasmgate:kv-usage-counted";

/// The largest quota a script compares exactly: Lua numbers are doubles.
const MAX_SCRIPT_QUOTA: u64 = (1 << 53) - 1;

/// How long a command may wait for Redis's answer before it fails.
///
/// Four times the client's 500 ms default: a Redis fsyncing every write (`appendfsync
/// always`) on a busy disk can take that long, and the function's own timeout still bounds
/// the request. A command that times out may still have been applied.
pub const REDIS_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long connecting (and each reconnect) may take.
pub const REDIS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Adds to a counter after checking, in the same atomic script, that the existing value is a
/// canonical non-negative decimal; errors come back with a code the client can match.
///
/// The new value is read back as text because Lua numbers are doubles, which cannot hold
/// every 64-bit integer.
///
/// Its namespace's usage (`ARGV[3]` in the usage hash `KEYS[2]`) changes with it; a counter that
/// grows a digit past the quota `ARGV[4]` is put back as it was, within the same script.
const INCREMENT_SCRIPT: &str = r"
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and not (cur == '0' or string.match(cur, '^[1-9]%d*$')) then
  return redis.error_reply('NOTCOUNTER value is not a counter')
end
local res = redis.pcall('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if type(res) == 'table' and res.err then
  if string.find(res.err, 'overflow') then
    return redis.error_reply('OVERFLOW counter would overflow')
  end
  return redis.error_reply('NOTCOUNTER value is not a counter')
end
local new = redis.call('HGET', KEYS[1], ARGV[1])
local delta = #new - (cur and #cur or -#ARGV[1])
if delta ~= 0 then
  local used = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
  if delta > 0 and used + delta > tonumber(ARGV[4]) then
    if cur then redis.call('HSET', KEYS[1], ARGV[1], cur) else redis.call('HDEL', KEYS[1], ARGV[1]) end
    return redis.error_reply('QUOTA ' .. string.format('%d', used + delta))
  end
  redis.call('HINCRBY', KEYS[2], ARGV[3], delta)
end
return new
";

/// The Lua twin of [`namespace`]: a shared bucket is its own namespace, any other bucket
/// belongs to everything before its last `/`.
const NAMESPACE_LUA: &str = r"
local function namespace(bucket)
  if string.sub(bucket, 1, 7) == 'shared/' then return bucket end
  if string.match(bucket, '^o/[^/]*/shared/') then return bucket end
  return string.match(bucket, '^(.*)/[^/]*$') or bucket
end
";

/// Removes the bucket hash `KEYS[1]` (stored bucket name `ARGV[1]`) and takes its bytes off its
/// namespace's usage in the hash `KEYS[2]`, in one step; returns how many keys it held.
const PURGE_SCRIPT: &str = r"
local all = redis.call('HGETALL', KEYS[1])
local bytes = 0
for i = 1, #all, 2 do bytes = bytes + #all[i] + #all[i + 1] end
redis.call('UNLINK', KEYS[1])
if bytes > 0 then
  local ns = namespace(ARGV[1])
  local left = redis.call('HINCRBY', KEYS[2], ns, -bytes)
  if left <= 0 then redis.call('HDEL', KEYS[2], ns) end
end
return #all / 2
";

/// Stores the key/value pairs `ARGV[3..]` in the bucket hash `KEYS[1]` unless that grows the
/// namespace `ARGV[1]` in the usage hash `KEYS[2]` past `ARGV[2]` bytes; usage and entries change
/// together or not at all. Sizes are byte lengths of key and value; a key repeated in one batch
/// counts once, as its last value.
const SET_SCRIPT: &str = r"
local sizes, delta = {}, 0
for i = 3, #ARGV, 2 do
  local k, v = ARGV[i], ARGV[i + 1]
  local old = sizes[k]
  if old == nil then
    old = 0
    if redis.call('HEXISTS', KEYS[1], k) == 1 then
      old = #k + redis.call('HSTRLEN', KEYS[1], k)
    end
  end
  sizes[k] = #k + #v
  delta = delta + sizes[k] - old
end
local used = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if delta > 0 and used + delta > tonumber(ARGV[2]) then
  return redis.error_reply('QUOTA ' .. string.format('%d', used + delta))
end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if delta ~= 0 then redis.call('HINCRBY', KEYS[2], ARGV[1], delta) end
return 0
";

/// Deletes the keys `ARGV[2..]` from the bucket hash `KEYS[1]` and gives their bytes back to
/// the namespace `ARGV[1]` in the usage hash `KEYS[2]`.
const DELETE_SCRIPT: &str = r"
local delta = 0
for i = 2, #ARGV do
  local k = ARGV[i]
  if redis.call('HEXISTS', KEYS[1], k) == 1 then
    delta = delta - #k - redis.call('HSTRLEN', KEYS[1], k)
    redis.call('HDEL', KEYS[1], k)
  end
end
if delta ~= 0 then redis.call('HINCRBY', KEYS[2], ARGV[1], delta) end
return 0
";

/// Counts the usage of every bucket hash under `ARGV[1]` into the usage hash `KEYS[2]`, once:
/// the marker `KEYS[1]` is set in the same script, so usage is never counted twice.
const COUNT_USAGE_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local usage, cursor = {}, '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1] .. '*', 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    local ns = namespace(string.sub(key, #ARGV[1] + 1))
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do usage[ns] = (usage[ns] or 0) + #all[i] + #all[i + 1] end
  end
until cursor == '0'
redis.call('DEL', KEYS[2])
for ns, bytes in pairs(usage) do redis.call('HSET', KEYS[2], ns, string.format('%d', bytes)) end
redis.call('SET', KEYS[1], '1')
return 0
";

/// Key-value storage in Redis: bucket `b` is the hash `wasmgate:kv:b`, each key a field.
///
/// A hash per bucket keeps a bucket's keys together for `HSCAN`, needs no escaping of keys,
/// and makes `increment` one atomic server-side script around `HINCRBY`. Requests share one
/// multiplexed connection that reconnects on its own.
///
/// Durability is what the Redis server is configured for: a write is acknowledged once Redis
/// applied it in memory, and is on disk before the call returns only with `appendonly yes` and
/// `appendfsync always`. Run Redis that way where losing the last second of writes matters.
///
/// Each namespace's usage is a field of the hash [`REDIS_USAGE_KEY`]; every write is one Lua
/// script that checks the quota and changes entries and usage together, which Redis runs
/// atomically and persists (AOF, replicas) as one unit.
#[derive(Clone)]
pub struct RedisBackend {
    conn: ConnectionManager,
    increment: redis::Script,
    set: redis::Script,
    delete: redis::Script,
    quota: u64,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend").finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Connects to the Redis server at `url` (`redis://[:password@]host:port[/db]`).
    pub async fn connect(url: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
            .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT));
        let mut conn = client.get_connection_manager_with_config(config).await?;
        let () = redis::Script::new(&format!("{NAMESPACE_LUA}{COUNT_USAGE_SCRIPT}"))
            .key(USAGE_COUNTED_KEY)
            .key(REDIS_USAGE_KEY)
            .arg(REDIS_KEY_PREFIX)
            .invoke_async(&mut conn)
            .await?;
        Ok(RedisBackend {
            conn,
            increment: redis::Script::new(INCREMENT_SCRIPT),
            set: redis::Script::new(SET_SCRIPT),
            delete: redis::Script::new(DELETE_SCRIPT),
            quota: MAX_SCRIPT_QUOTA,
        })
    }

    /// This backend with every namespace held to `bytes` of keys and values.
    pub fn with_quota(mut self, bytes: u64) -> Self {
        self.quota = bytes.min(MAX_SCRIPT_QUOTA);
        self
    }

    /// Runs the set script for `entries` of `bucket`.
    async fn store(&self, bucket: &str, entries: &[(&str, &[u8])]) -> Result<()> {
        let mut call = self.set.key(hash(bucket));
        call.key(REDIS_USAGE_KEY)
            .arg(namespace(bucket))
            .arg(self.quota);
        for (key, value) in entries {
            call.arg(*key).arg(*value);
        }
        let result: redis::RedisResult<i64> = call.invoke_async(&mut self.conn()).await;
        result.map(drop).map_err(|e| self.refusal(e))
    }

    /// Runs the delete script for `keys` of `bucket`.
    async fn remove(&self, bucket: &str, keys: &[&str]) -> Result<()> {
        let mut call = self.delete.key(hash(bucket));
        call.key(REDIS_USAGE_KEY).arg(namespace(bucket));
        for key in keys {
            call.arg(*key);
        }
        let _: i64 = call.invoke_async(&mut self.conn()).await?;
        Ok(())
    }

    /// A script's `QUOTA <used>` error as [`Error::QuotaExceeded`]; any other as it is.
    fn refusal(&self, err: redis::RedisError) -> Error {
        if err.code() == Some("QUOTA") {
            let used = err
                .detail()
                .and_then(|d| d.trim().parse().ok())
                .unwrap_or(self.quota);
            return Error::QuotaExceeded {
                used,
                max: self.quota,
            };
        }
        err.into()
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

/// `text` with Redis glob metacharacters (`*`, `?`, `[`, `]`, `\\`) escaped, so `SCAN MATCH`
/// reads it literally.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The Redis key of the hash holding `bucket`.
fn hash(bucket: &str) -> String {
    format!("{REDIS_KEY_PREFIX}{bucket}")
}

#[async_trait]
impl KvBackend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    /// `SCAN` for the buckets' hashes (the prefix escaped for Redis's glob), then one script per
    /// bucket removes it and takes its bytes off the quota usage. Not one transaction: a purge
    /// that fails half way removed some buckets whole and left others whole; running it again
    /// finishes it.
    async fn purge(&self, prefix: &str) -> Result<u64> {
        super::backend::check_purge_prefix(prefix)?;
        let pattern = format!("{}*", glob_escape(&hash(prefix)));
        let mut conn = self.conn();
        let mut cursor = 0u64;
        let mut hashes = Vec::new();
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(LIST_PAGE_SIZE)
                .query_async(&mut conn)
                .await?;
            hashes.extend(found);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        hashes.sort_unstable();
        hashes.dedup();
        let purge = redis::Script::new(&format!("{NAMESPACE_LUA}{PURGE_SCRIPT}"));
        let mut removed = 0u64;
        for key in hashes {
            let bucket = key.strip_prefix(REDIS_KEY_PREFIX).unwrap_or(&key);
            let keys: u64 = purge
                .key(&key)
                .key(REDIS_USAGE_KEY)
                .arg(bucket)
                .invoke_async(&mut conn)
                .await?;
            removed = removed.saturating_add(keys);
        }
        Ok(removed)
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.conn().hget(hash(bucket), key).await?)
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<()> {
        self.store(bucket, &[(key, &value)]).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.remove(bucket, &[key]).await
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        Ok(self.conn().hexists(hash(bucket), key).await?)
    }

    /// The cursor is Redis's `HSCAN` cursor. `HSCAN` may return a key twice if the hash is
    /// resized during the listing, and returns small buckets in a single page.
    async fn list_keys(&self, bucket: &str, from: ListFrom) -> Result<KeyPage> {
        let (cursor, mut listed) = match from {
            ListFrom::Start => (0, HashSet::new()),
            ListFrom::Scan { cursor, listed } => (cursor, listed),
            ListFrom::After(_) => {
                return Err(Error::UnknownCursor {
                    reason: "an embedded-store cursor cannot go on in Redis",
                });
            }
        };
        let (next, flat): (u64, Vec<Vec<u8>>) = redis::cmd("HSCAN")
            .arg(hash(bucket))
            .arg(cursor)
            .arg("COUNT")
            .arg(LIST_PAGE_SIZE)
            .query_async(&mut self.conn())
            .await?;
        // The reply alternates field and value; keys were written from guest strings. A key
        // `HSCAN` repeats (after a resize) was listed already.
        let keys = flat
            .into_iter()
            .step_by(2)
            .map(|field| String::from_utf8_lossy(&field).into_owned())
            .filter(|key| listed.insert(key.clone()))
            .collect();
        Ok(KeyPage {
            keys,
            next: (next != 0).then_some(ListFrom::Scan {
                cursor: next,
                listed,
            }),
        })
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        let delta = counter::signed_delta(key, delta)?;
        let result: redis::RedisResult<Vec<u8>> = self
            .increment
            .key(hash(bucket))
            .key(REDIS_USAGE_KEY)
            .arg(key)
            .arg(delta)
            .arg(namespace(bucket))
            .arg(self.quota)
            .invoke_async(&mut self.conn())
            .await;
        match result {
            Ok(value) => counter::parse(&value).ok_or_else(|| Error::NotACounter {
                key: key.to_owned(),
            }),
            Err(err) if err.code() == Some("NOTCOUNTER") => Err(Error::NotACounter {
                key: key.to_owned(),
            }),
            Err(err) if err.code() == Some("OVERFLOW") => Err(Error::CounterOverflow {
                key: key.to_owned(),
            }),
            Err(err) => Err(self.refusal(err)),
        }
    }

    async fn get_many(&self, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        Ok(redis::cmd("HMGET")
            .arg(hash(bucket))
            .arg(keys)
            .query_async(&mut self.conn())
            .await?)
    }

    /// One script with every field, so the batch is atomic here, more than the interface
    /// promises.
    async fn set_many(&self, bucket: &str, entries: Vec<(String, Vec<u8>)>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let entries: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        self.store(bucket, &entries).await
    }

    async fn delete_many(&self, bucket: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.remove(bucket, &keys).await
    }

    async fn usage(&self, namespace: &str) -> Result<u64> {
        let used: Option<u64> = self.conn().hget(REDIS_USAGE_KEY, namespace).await?;
        Ok(used.unwrap_or(0))
    }
}
