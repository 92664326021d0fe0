//! `wasi:keyvalue@0.2.0-draft`: buckets scoped per function, stored in redb or Redis.

mod backend;
mod bindings;
mod counter;
mod cursors;
mod embedded;
mod host;
mod limits;
mod quota;
mod redis;
mod scope;

pub use self::redis::{
    REDIS_CONNECT_TIMEOUT, REDIS_KEY_PREFIX, REDIS_RESPONSE_TIMEOUT, REDIS_USAGE_KEY, RedisBackend,
};
pub use backend::{KeyPage, KvBackend, LIST_PAGE_SIZE, ListFrom};
pub use cursors::{LISTING_IDLE_TIMEOUT, MAX_OPEN_LISTINGS};
pub use embedded::{REDB_FILE_NAME, RedbBackend};
pub use host::{Bucket, KvCtx, KvView, add_to_linker};
pub use limits::{KvUsage, MAX_KEY_LEN, MAX_VALUE_SIZE};
pub use quota::{namespace, private_namespace};
pub use scope::{DEFAULT_BUCKET, KvScope, MAX_BUCKET_NAME_LEN};
