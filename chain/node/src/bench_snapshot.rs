//! `taod bench --snapshot`: state sync's cost for a state of N accounts, in-process over
//! RocksDB: the snapshot's size and chunk count, the time to export it, and the time to
//! restore it into an empty store (whose root must equal the source's).

use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use taochain_primitives::Account;
use taochain_storage::schema::account_key;
use taochain_storage::{Blobs, Changes, Storage, StorageOptions};

/// Accounts written per version while building the source state.
const PER_VERSION: usize = 100_000;
/// The chunk size `taod start` uses by default.
const CHUNK_BYTES: usize = 1 << 20;

/// Builds a store of `accounts` accounts, exports, chunks and restores it; prints a line.
pub fn run(accounts: usize) -> anyhow::Result<()> {
    let base = std::env::temp_dir().join(format!("taod-bench-snapshot-{}", std::process::id()));
    let result = measure(&base, accounts);
    std::fs::remove_dir_all(&base).ok();
    result
}

fn measure(base: &std::path::Path, accounts: usize) -> anyhow::Result<()> {
    let source = Storage::open(&base.join("source"), StorageOptions::default())?;
    let bar = ProgressBar::new(accounts as u64).with_style(
        ProgressStyle::with_template("writing accounts [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut version = 0;
    for start in (0..accounts).step_by(PER_VERSION) {
        let changes: Changes = (start..accounts.min(start + PER_VERSION))
            .map(|i| {
                let mut address = [0u8; 20];
                address[..8].copy_from_slice(&(i as u64).to_be_bytes());
                let account = Account {
                    balance: 1_000_000 + i as u64,
                    nonce: (i % 7) as u64,
                };
                let value = borsh::to_vec(&account).context("account encodes")?;
                Ok((account_key(&address).as_bytes().to_vec(), Some(value)))
            })
            .collect::<anyhow::Result<_>>()?;
        version += 1;
        let n = changes.len();
        let prepared = source.prepare(version, changes, Blobs::new())?;
        source.commit(prepared)?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let root = source.root_hash(version)?.context("source root")?;

    let t = Instant::now();
    let bytes = source.export_snapshot()?;
    let export = t.elapsed();
    let chunks = bytes.len().div_ceil(CHUNK_BYTES);

    let target = Storage::open(&base.join("target"), StorageOptions::default())?;
    let t = Instant::now();
    let (restored_version, restored_root) =
        target.restore_snapshot(&bytes, Some((version, root)))?;
    let restore = t.elapsed();
    anyhow::ensure!(
        restored_version == version && restored_root == root,
        "roots differ"
    );
    println!(
        "summary: state sync of {accounts} accounts: snapshot {} bytes in {chunks} chunks of 1 MiB; export {} ms, restore {} ms (same root)",
        bytes.len(),
        export.as_millis(),
        restore.as_millis()
    );
    Ok(())
}
