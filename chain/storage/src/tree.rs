//! The Jellyfish Merkle tree's view of a [`Backend`]: node, value-history and preimage
//! reads, the commit still being written ([`crate::store`]'s write-behind) first. Writes
//! happen in [`crate::store`], in the same atomic batch as the rest of a commit.

use std::sync::Arc;

use jmt::storage::{HasPreimage, LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Version};

use crate::backend::Backend;
use crate::schema::{CF_NODES, CF_PREIMAGES, CF_VALUES, value_key};
use crate::store::PreparedCommit;

/// Reads tree data from the committed state: the commit being written (if any), then the
/// backend.
pub(crate) struct TreeView<'a> {
    pub(crate) db: &'a dyn Backend,
    pub(crate) pending: Option<Arc<PreparedCommit>>,
}

impl TreeReader for TreeView<'_> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if let Some(node) = self.pending.as_ref().and_then(|p| p.node(node_key)) {
            return Ok(Some(node.clone()));
        }
        let key = borsh::to_vec(node_key)?;
        match self.db.get(CF_NODES, &key)? {
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        if let Some(value) = self
            .pending
            .as_ref()
            .and_then(|p| p.value(max_version, key_hash))
        {
            return Ok(value.clone());
        }
        let start = value_key(&key_hash.0, max_version);
        match self.db.seek(CF_VALUES, &start, false)? {
            Some((key, value)) => {
                if key.len() != 40 || key[..32] != key_hash.0 {
                    return Ok(None);
                }
                Ok(borsh::from_slice::<Option<Vec<u8>>>(&value)?)
            }
            None => Ok(None),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only jmt's snapshot restore uses this; taochain does not restore from jmt chunks.
        Err(anyhow::anyhow!(
            "tree restore is not supported by this store"
        ))
    }
}

impl HasPreimage for TreeView<'_> {
    fn preimage(&self, key_hash: KeyHash) -> anyhow::Result<Option<Vec<u8>>> {
        if let Some(key) = self.pending.as_ref().and_then(|p| p.preimage(&key_hash.0)) {
            return Ok(Some(key.to_vec()));
        }
        Ok(self.db.get(CF_PREIMAGES, &key_hash.0)?)
    }
}
