//! An in-memory overlay of writes over some readable state: a block's pending changes
//! over the committed state, or one transaction's changes over the block's. Dropping a
//! delta discards its writes (a failed transaction); [`StateDelta::into_changes`] hands
//! them to the parent. Ordered map: the change set is iterated deterministically.

use std::collections::BTreeMap;

use crate::{Entry, StateRead, StateWrite, StorageError};

/// Pending changes: `Some(value)` sets, `None` deletes.
pub type Changes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Writes buffered over a read-only base.
pub struct StateDelta<'a, R: StateRead + ?Sized> {
    base: &'a R,
    changes: Changes,
}

impl<'a, R: StateRead + ?Sized> StateDelta<'a, R> {
    /// An empty overlay over `base`.
    pub fn new(base: &'a R) -> Self {
        StateDelta {
            base,
            changes: Changes::new(),
        }
    }

    /// An overlay over `base` that starts with `changes` already applied.
    pub fn with_changes(base: &'a R, changes: Changes) -> Self {
        StateDelta { base, changes }
    }

    /// The buffered changes.
    pub fn into_changes(self) -> Changes {
        self.changes
    }

    /// Applies `changes` (from a child delta) on top of this one.
    pub fn apply(&mut self, changes: Changes) {
        self.changes.extend(changes);
    }

    /// Number of buffered keys.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl<R: StateRead + ?Sized> StateRead for StateDelta<'_, R> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.changes.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    /// Merges this delta's changes over the base: a change shadows the base entry with
    /// the same key, and a deletion hides it.
    fn next(&self, start: &[u8], end: Option<&[u8]>) -> Result<Option<Entry>, StorageError> {
        self.next_limited(start, end, &mut 0, u64::MAX)
    }

    /// [`StateDelta::next`], counting the deletions it steps over (here and in the layers
    /// below) against `limit`.
    fn next_limited(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        skipped: &mut u64,
        limit: u64,
    ) -> Result<Option<Entry>, StorageError> {
        let in_range = |k: &[u8]| end.is_none_or(|e| k < e);
        let mut cursor = start.to_vec();
        loop {
            let base = self.base.next_limited(&cursor, end, skipped, limit)?;
            let own = self
                .changes
                .range(cursor.clone()..)
                .next()
                .filter(|(k, _)| in_range(k));
            match (own, base) {
                (None, base) => return Ok(base),
                (Some((k, v)), base) if base.as_ref().is_none_or(|(bk, _)| k <= bk) => match v {
                    Some(v) => return Ok(Some((k.clone(), v.clone()))),
                    None => {
                        if *skipped >= limit {
                            return Err(StorageError::SkipLimit(limit));
                        }
                        *skipped += 1;
                        cursor = k.clone();
                        cursor.push(0);
                    }
                },
                (_, base) => return Ok(base),
            }
        }
    }
}

impl<R: StateRead + ?Sized> StateWrite for StateDelta<'_, R> {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.changes.insert(key, Some(value));
    }

    fn delete(&mut self, key: Vec<u8>) {
        self.changes.insert(key, None);
    }
}

/// A plain change set as a state (deletions read as absent), for tests and genesis.
impl StateRead for Changes {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(BTreeMap::get(self, key).cloned().flatten())
    }

    fn next(&self, start: &[u8], end: Option<&[u8]>) -> Result<Option<Entry>, StorageError> {
        Ok(self
            .range(start.to_vec()..)
            .take_while(|(k, _)| end.is_none_or(|e| k.as_slice() < e))
            .find_map(|(k, v)| v.clone().map(|v| (k.clone(), v))))
    }
}

/// Content-addressed blobs (contract code, data) a block writes (`Some`) or prunes
/// (`None`), by sha256.
pub type Blobs = BTreeMap<[u8; 32], Option<Vec<u8>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_read_counts_the_deletions_it_steps_over_in_every_layer_and_stops_at_its_limit() {
        let base: Changes = [(b"z".to_vec(), Some(b"1".to_vec()))].into();
        let mut block = StateDelta::new(&base);
        block.delete(b"a".to_vec());
        block.delete(b"b".to_vec());
        let mut tx = StateDelta::new(&block);
        tx.delete(b"c".to_vec());
        let mut skipped = 0;
        let found = tx
            .next_limited(b"", None, &mut skipped, 3)
            .expect("within the limit");
        assert_eq!(found, Some((b"z".to_vec(), b"1".to_vec())));
        assert_eq!(
            skipped, 3,
            "two deletions in the block, one in the transaction"
        );
        let mut skipped = 0;
        let err = tx
            .next_limited(b"", None, &mut skipped, 2)
            .expect_err("over the limit");
        assert!(matches!(err, StorageError::SkipLimit(2)), "{err}");
        // The plain read is unlimited and sees the same entry.
        assert_eq!(tx.next(b"", None).expect("reads"), found);
    }

    #[test]
    fn child_writes_shadow_parent_until_dropped() {
        let base: Changes = [(b"a".to_vec(), Some(b"1".to_vec()))].into();
        let mut block = StateDelta::new(&base);
        block.put(b"b".to_vec(), b"2".to_vec());
        {
            let mut tx = StateDelta::new(&block);
            tx.put(b"a".to_vec(), b"9".to_vec());
            tx.delete(b"b".to_vec());
            assert_eq!(tx.get(b"a").expect("reads"), Some(b"9".to_vec()));
            assert_eq!(tx.get(b"b").expect("reads"), None);
        } // dropped: rolled back
        assert_eq!(block.get(b"a").expect("reads"), Some(b"1".to_vec()));
        let committed = {
            let mut tx = StateDelta::new(&block);
            tx.delete(b"a".to_vec());
            tx.into_changes()
        };
        block.apply(committed);
        assert_eq!(block.get(b"a").expect("reads"), None);
        assert_eq!(block.get(b"b").expect("reads"), Some(b"2".to_vec()));
        assert_eq!(block.len(), 2);
    }

    #[test]
    fn next_merges_changes_over_the_base_in_key_order() {
        let base: Changes = [
            (b"a".to_vec(), Some(b"1".to_vec())),
            (b"c".to_vec(), Some(b"3".to_vec())),
            (b"e".to_vec(), Some(b"5".to_vec())),
        ]
        .into();
        let mut d = StateDelta::new(&base);
        d.delete(b"a".to_vec());
        d.put(b"b".to_vec(), b"2".to_vec());
        d.put(b"e".to_vec(), b"9".to_vec());
        let mut seen = vec![];
        let mut cursor = vec![];
        while let Some((k, v)) = d.next(&cursor, None).expect("reads") {
            cursor = k.clone();
            cursor.push(0);
            seen.push((k, v));
        }
        let want: Vec<Entry> = vec![
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec()),
            (b"e".to_vec(), b"9".to_vec()),
        ];
        assert_eq!(seen, want);
        assert_eq!(
            d.next(b"c", Some(b"e")).expect("reads"),
            Some((b"c".to_vec(), b"3".to_vec()))
        );
        assert_eq!(d.next(b"d", Some(b"e")).expect("reads"), None);
    }
}
