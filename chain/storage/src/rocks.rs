//! The RocksDB backend (feature `rocksdb`): one column family per column of
//! [`crate::schema::COLUMNS`], batches as one atomic `WriteBatch`, and the room it keeps
//! free on its disk.

use std::path::{Path, PathBuf};

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType, Direction, IteratorMode, Options,
    WriteBatch,
};

use crate::backend::{Backend, Op};
use crate::schema::COLUMNS;
use crate::{Entry, StorageError};

/// RocksDB with the store's column families.
pub struct RocksBackend {
    db: DB,
    path: PathBuf,
    /// Free bytes kept on the disk ([`MIN_FREE_BYTES`] unless opened otherwise).
    keep: u64,
}

/// Free bytes the node keeps on its data directory's file system: it refuses to open or
/// to write below this, with a clear error (the node halts), so RocksDB never meets a full
/// disk mid-write. (Debian's librocksdb is built with assertions on, and a write after a
/// failed one aborts the process inside RocksDB.) Room for a preallocated write-ahead log
/// (1.1 x the 64 MiB write buffer) is not needed up front: RocksDB falls back when
/// preallocation fails.
pub const MIN_FREE_BYTES: u64 = 64 << 20;

/// Bytes available to an unprivileged writer on the file system holding `path`.
fn free_bytes(path: &Path) -> Result<u64, StorageError> {
    let st = rustix::fs::statvfs(path)
        .map_err(|e| StorageError::Db(format!("statvfs {}: {e}", path.display())))?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Fails with [`StorageError::NoSpace`] when `path`'s file system has under `keep` bytes
/// free.
fn check_room(path: &Path, keep: u64) -> Result<(), StorageError> {
    let free = free_bytes(path)?;
    if free < keep {
        return Err(StorageError::NoSpace {
            path: path.display().to_string(),
            free,
            keep,
        });
    }
    Ok(())
}

/// Every column compresses with LZ4, whichever RocksDB build the node links (Debian's
/// defaults to Snappy, the bundled one has only LZ4), so a data directory written by one
/// build opens with the other.
fn column_options() -> Options {
    let mut opts = Options::default();
    opts.set_compression_type(DBCompressionType::Lz4);
    opts
}

fn db_err(e: rocksdb::Error) -> StorageError {
    StorageError::Db(e.to_string())
}

impl RocksBackend {
    /// Opens (or creates) the database in `path`, keeping [`MIN_FREE_BYTES`] free.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::open_keeping(path, MIN_FREE_BYTES)
    }

    /// Opens (or creates) the database in `path`; it refuses to open or to write with
    /// under `keep` bytes free on its disk.
    pub fn open_keeping(path: &Path, keep: u64) -> Result<Self, StorageError> {
        std::fs::create_dir_all(path)
            .map_err(|e| StorageError::Db(format!("creating {}: {e}", path.display())))?;
        check_room(path, keep)?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = COLUMNS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, column_options()));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(|e| {
            StorageError::Db(format!(
                "{e} (this taod links RocksDB 7; a data directory written by a newer RocksDB, \
                 such as a taod built before it linked Debian's, must be started afresh)"
            ))
        })?;
        Ok(RocksBackend {
            db,
            path: path.to_path_buf(),
            keep,
        })
    }

    fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StorageError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StorageError::Corrupt {
                what: "column family",
                detail: name.into(),
            })
    }
}

impl Backend for RocksBackend {
    fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.db.get_cf(self.cf(cf)?, key).map_err(db_err)
    }

    fn seek(
        &self,
        cf: &'static str,
        start: &[u8],
        forward: bool,
    ) -> Result<Option<Entry>, StorageError> {
        let direction = if forward {
            Direction::Forward
        } else {
            Direction::Reverse
        };
        let mode = IteratorMode::From(start, direction);
        match self.db.iterator_cf(self.cf(cf)?, mode).next() {
            None => Ok(None),
            Some(item) => {
                let (k, v) = item.map_err(db_err)?;
                Ok(Some((k.to_vec(), v.to_vec())))
            }
        }
    }

    fn scan(
        &self,
        cf: &'static str,
        start: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StorageError> {
        let mode = IteratorMode::From(start, Direction::Forward);
        for item in self.db.iterator_cf(self.cf(cf)?, mode) {
            let (k, v) = item.map_err(db_err)?;
            if !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    fn write(&self, ops: Vec<Op>) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        for op in ops {
            match op {
                Op::Put(cf, k, v) => batch.put_cf(self.cf(cf)?, k, v),
                Op::Delete(cf, k) => batch.delete_cf(self.cf(cf)?, k),
            }
        }
        check_room(&self.path, self.keep)?;
        self.db.write(batch).map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: &str = COLUMNS[0];

    fn put(k: &[u8]) -> Vec<Op> {
        vec![Op::Put(CF, k.to_vec(), b"v".to_vec())]
    }

    #[test]
    fn a_disk_under_the_kept_room_refuses_to_open_with_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = RocksBackend::open_keeping(dir.path(), u64::MAX)
            .err()
            .expect("refused");
        assert!(matches!(err, StorageError::NoSpace { .. }), "{err}");
        assert!(
            err.to_string().starts_with("No space left on device"),
            "{err}"
        );
        assert!(RocksBackend::open(dir.path()).is_ok(), "this disk has room");
    }

    #[test]
    fn a_write_under_the_kept_room_is_refused_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let free = free_bytes(dir.path()).expect("statvfs");
        let mut db = RocksBackend::open_keeping(dir.path(), free / 2).expect("open");
        db.write(put(b"a")).expect("room to write");
        // The disk "fills": less free than kept.
        db.keep = u64::MAX;
        let err = db.write(put(b"b")).expect_err("refused");
        assert!(matches!(err, StorageError::NoSpace { .. }), "{err}");
        assert_eq!(db.get(CF, b"b").expect("get"), None);
        assert!(db.get(CF, b"a").expect("get").is_some());
    }
}
