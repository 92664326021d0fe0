//! The distributed backend: a Redis hash per bucket, shared by every gateway pointing at it.

use crate::error::{Error, Result};
use crate::keyvalue::backend::{KeyPage, KvBackend, LIST_PAGE_SIZE};
use crate::keyvalue::counter;
use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;

/// Prefix of the Redis key holding each bucket's hash, so wasmgate's data is easy to tell
/// apart from anything else in the same Redis database.
pub const REDIS_KEY_PREFIX: &str = "wasmgate:kv:";

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
return redis.call('HGET', KEYS[1], ARGV[1])
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
#[derive(Clone)]
pub struct RedisBackend {
    conn: ConnectionManager,
    increment: redis::Script,
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
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(RedisBackend {
            conn,
            increment: redis::Script::new(INCREMENT_SCRIPT),
        })
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

    /// `SCAN` for the buckets' hashes (the prefix escaped for Redis's glob), then `HLEN` and
    /// `UNLINK` each. Not one transaction: a purge that fails half way removed some buckets whole
    /// and left others whole; running it again finishes it.
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
        let mut removed = 0u64;
        for key in hashes {
            let (len,): (u64,) = redis::pipe()
                .atomic()
                .hlen(&key)
                .unlink(&key)
                .ignore()
                .query_async(&mut conn)
                .await?;
            removed = removed.saturating_add(len);
        }
        Ok(removed)
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.conn().hget(hash(bucket), key).await?)
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<()> {
        let () = self.conn().hset(hash(bucket), key, value).await?;
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let () = self.conn().hdel(hash(bucket), key).await?;
        Ok(())
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        Ok(self.conn().hexists(hash(bucket), key).await?)
    }

    /// The cursor is Redis's `HSCAN` cursor. `HSCAN` may return a key twice if the hash is
    /// resized during the listing, and returns small buckets in a single page.
    async fn list_keys(&self, bucket: &str, cursor: Option<u64>) -> Result<KeyPage> {
        let (next, flat): (u64, Vec<Vec<u8>>) = redis::cmd("HSCAN")
            .arg(hash(bucket))
            .arg(cursor.unwrap_or(0))
            .arg("COUNT")
            .arg(LIST_PAGE_SIZE)
            .query_async(&mut self.conn())
            .await?;
        // The reply alternates field and value; keys were written from guest strings.
        let keys = flat
            .into_iter()
            .step_by(2)
            .map(|field| String::from_utf8_lossy(&field).into_owned())
            .collect();
        Ok(KeyPage {
            keys,
            cursor: (next != 0).then_some(next),
        })
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        let delta = counter::signed_delta(key, delta)?;
        let result: redis::RedisResult<Vec<u8>> = self
            .increment
            .key(hash(bucket))
            .arg(key)
            .arg(delta)
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
            Err(err) => Err(err.into()),
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

    /// One `HSET` with every field, so the batch is atomic here, more than the interface
    /// promises.
    async fn set_many(&self, bucket: &str, entries: Vec<(String, Vec<u8>)>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let () = self.conn().hset_multiple(hash(bucket), &entries).await?;
        Ok(())
    }

    async fn delete_many(&self, bucket: &str, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let () = self.conn().hdel(hash(bucket), keys).await?;
        Ok(())
    }
}
