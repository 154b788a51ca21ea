//! The resident-matrix cache on a real adapter (lavapipe without a GPU): checks by blob
//! key give the CPU reference's projections and verdicts, reuse what is on the device,
//! stay inside their byte budget, and never trust a key seen with another shape.

mod common;

use common::{gpu, statement};
use taochain_wgpu::GpuVerifier;
use taochain_work::{BlobKeys, CpuVerifier, MatmulStatement, Verifier};

fn keys(tag: u8) -> BlobKeys {
    BlobKeys {
        a: [tag; 32],
        b: [tag.wrapping_add(1); 32],
        c: [tag.wrapping_add(2); 32],
    }
}

/// Same projections and verdict as the CPU reference, through the cache.
fn agree(g: &GpuVerifier, s: &MatmulStatement, k: &BlobKeys) {
    let cpu = CpuVerifier::default();
    assert_eq!(
        g.projections_resident(s, k).expect("gpu"),
        cpu.projections(s).expect("cpu")
    );
    assert_eq!(g.verify_blobs(s, k), cpu.verify(s));
}

#[test]
fn checks_by_blob_key_match_the_cpu_and_reuse_the_device_copies() {
    let Some(g) = gpu() else { return };
    let s = statement(40, 33, 27, 5);
    let k = keys(1);
    agree(&g, &s, &k);
    // `agree` checks twice (projections, then the verdict): uploaded once, then reused.
    let first = g.resident_stats();
    assert_eq!(
        (first.entries, first.misses, first.hits),
        (3, 3, 3),
        "{first:?}"
    );
    agree(&g, &s, &k);
    let second = g.resident_stats();
    assert_eq!(second.misses, 3, "nothing uploaded again");
    assert_eq!(second.hits, 9, "{second:?}");
    // A wrong C for the same job (new C blob): resident A and B, C uploaded once, and
    // the same INVALID verdict as the CPU's.
    let mut bad = s.clone();
    bad.c.data[7] = bad.c.data[7].wrapping_add(1);
    let bad_keys = BlobKeys { c: [99; 32], ..k };
    agree(&g, &bad, &bad_keys);
    assert!(g.verify_blobs(&bad, &bad_keys).expect("checkable").is_err());
    assert_eq!(g.resident_stats().entries, 4);
}

#[test]
fn the_cache_stays_inside_its_byte_budget_least_recently_used_first() {
    let Some(g) = gpu() else { return };
    // Each statement's three matrices: 32*32 + 32*32 bytes of int8 and 32*32*4 of i32.
    let per_statement = 2 * 32 * 32 + 4 * 32 * 32;
    let g = g.with_resident_bytes(2 * per_statement);
    let check = |tag: u8| {
        agree(&g, &statement(32, 32, 32, u64::from(tag)), &keys(tag));
        let st = g.resident_stats();
        assert!(st.bytes <= st.budget, "{st:?}");
        st
    };
    check(10);
    check(20);
    // 10 used again (hits only), so 20 is now the least recently used: 30 evicts it.
    let before = check(10);
    assert_eq!(before.misses, 6, "{before:?}");
    let st = check(30);
    assert_eq!((st.entries, st.bytes), (6, 2 * per_statement), "{st:?}");
    assert_eq!(check(10).misses, st.misses, "10 stayed on the device");
    assert_eq!(check(20).misses, st.misses + 3, "20 was evicted");
    // A matrix larger than the whole budget is streamed, never kept.
    let g = g.with_resident_bytes(100);
    assert_eq!(g.resident_stats().entries, 0, "a smaller budget evicts");
    agree(&g, &statement(32, 32, 32, 50), &keys(50));
    assert_eq!(g.resident_stats().entries, 0);
}

#[test]
fn the_cache_keeps_at_most_its_entry_cap_however_small_the_matrices() {
    let Some(g) = gpu() else { return };
    let unique = |i: u32, which: u8| {
        let mut k = [which; 32];
        k[..4].copy_from_slice(&i.to_le_bytes());
        k
    };
    // 3 tiny matrices per statement: 270 keys, far under the byte budget.
    for i in 0..90u32 {
        let k = BlobKeys {
            a: unique(i, 1),
            b: unique(i, 2),
            c: unique(i, 3),
        };
        agree(&g, &statement(1, 2, 1, u64::from(i)), &k);
    }
    let st = g.resident_stats();
    assert_eq!(st.entries, taochain_wgpu::MAX_RESIDENT_ENTRIES, "{st:?}");
    assert_eq!(st.misses, 270, "{st:?}");
}

#[test]
fn a_key_seen_with_another_shape_is_not_trusted() {
    let Some(g) = gpu() else { return };
    let k = keys(70);
    agree(&g, &statement(16, 16, 16, 70), &k);
    // The same keys for matrices of other shapes: streamed, right verdicts.
    let other = statement(20, 12, 9, 71);
    agree(&g, &other, &k);
    let mut bad = other.clone();
    bad.c.data[0] = bad.c.data[0].wrapping_sub(1);
    agree(&g, &bad, &k);
    assert_eq!(
        g.resident_stats().entries,
        3,
        "only the first shapes are kept"
    );
}

#[test]
fn matrices_too_large_for_one_binding_are_streamed() {
    let Some(g) = gpu() else { return };
    let g = g.with_chunk_bytes(256);
    // Every matrix here is larger than one 256-byte binding: chunks, no residency.
    let s = statement(30, 40, 50, 90);
    agree(&g, &s, &keys(90));
    assert_eq!(g.resident_stats().entries, 0);
}
