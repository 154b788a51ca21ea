//! The RocksDB backend (feature `rocksdb`): one column family per column of
//! [`crate::schema::COLUMNS`], batches as one atomic `WriteBatch`.

use std::path::Path;

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
    /// Opens (or creates) the database in `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
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
        Ok(RocksBackend { db })
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
        self.db.write(batch).map_err(db_err)
    }
}
