//! Request and result bodies in redb, split into chunks that each fit a small page.
//!
//! redb keeps a value in one buddy-allocated page of the next power of two (4KiB pages), and
//! grows a small file to at least twice the largest page an insert needs: one 1MiB value took
//! a 2MiB page and grew `calls.redb` by 4MiB. Chunks of [`CHUNK`] bytes fit a 16KiB page with
//! their key, so a 1MiB body grows the file by about 1MiB (measured: 1020KiB).

use super::store::storage;
use crate::error::ApiError;
use bytes::{Bytes, BytesMut};
use redb::{ReadableTable, Table, TableDefinition};

/// A body's table: (call id, chunk number) to the chunk's bytes.
pub(super) type BlobTable = TableDefinition<'static, (&'static str, u32), &'static [u8]>;

/// Bytes per chunk: a 16KiB page less room for the key (a 32-character id and a number) and
/// the leaf's header.
const CHUNK: usize = 16 * 1024 - 256;

/// Stores `bytes` under `id`, replacing nothing (the id is new to the table); an empty body
/// stores no chunk.
pub(super) fn put(
    table: &mut Table<'_, (&'static str, u32), &'static [u8]>,
    id: &str,
    bytes: &[u8],
) -> Result<(), ApiError> {
    for (n, chunk) in bytes.chunks(CHUNK).enumerate() {
        let n = u32::try_from(n).map_err(storage)?;
        table.insert((id, n), chunk).map_err(storage)?;
    }
    Ok(())
}

/// The bytes stored under `id`, empty when none are.
pub(super) fn get(
    table: &impl ReadableTable<(&'static str, u32), &'static [u8]>,
    id: &str,
) -> Result<Bytes, ApiError> {
    let mut out = BytesMut::new();
    for row in table.range((id, 0)..=(id, u32::MAX)).map_err(storage)? {
        let (_, chunk) = row.map_err(storage)?;
        out.extend_from_slice(chunk.value());
    }
    Ok(out.freeze())
}

/// Deletes every chunk stored under `id`.
pub(super) fn remove(
    table: &mut Table<'_, (&'static str, u32), &'static [u8]>,
    id: &str,
) -> Result<(), ApiError> {
    table
        .retain_in((id, 0)..=(id, u32::MAX), |_, _| false)
        .map_err(storage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{Database, ReadableDatabase};

    const T: BlobTable = TableDefinition::new("blobs");

    #[test]
    fn bodies_round_trip_across_chunks_and_ids_stay_apart() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("b.redb")).unwrap();
        let long: Vec<u8> = (0..CHUNK * 3 + 7).map(|i| i as u8).collect();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(T).unwrap();
            put(&mut t, "a", &long).unwrap();
            put(&mut t, "ab", b"short").unwrap();
            put(&mut t, "b", b"").unwrap();
        }
        txn.commit().unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(T).unwrap();
        assert_eq!(&get(&t, "a").unwrap()[..], &long[..]);
        assert_eq!(&get(&t, "ab").unwrap()[..], b"short");
        assert!(get(&t, "b").unwrap().is_empty());
        drop((t, txn));

        let txn = db.begin_write().unwrap();
        remove(&mut txn.open_table(T).unwrap(), "a").unwrap();
        txn.commit().unwrap();
        let txn = db.begin_read().unwrap();
        let t = txn.open_table(T).unwrap();
        assert!(get(&t, "a").unwrap().is_empty());
        assert_eq!(&get(&t, "ab").unwrap()[..], b"short");
    }
}
