//! Verdicts independent of threads and memory; the memory's bound.

use ed25519_dalek::SigningKey;
use taochain_primitives::{Address, Msg, Params, RejectCode, TxBody};

use super::*;

/// Every result of [`check_block_streaming`], in block order.
fn check_block<T: AsRef<[u8]> + Sync>(
    txs: &[T],
    params: &Params,
    verified: &Verified,
    threads: usize,
) -> Vec<Checked> {
    let mut out = Vec::with_capacity(txs.len());
    let delivered: Result<(), std::convert::Infallible> = check_block_streaming(
        txs,
        params,
        verified,
        threads,
        || {},
        |c| {
            out.push(c);
            Ok(())
        },
    );
    match delivered {
        Ok(()) => out,
    }
}

fn key(i: usize) -> SigningKey {
    let mut seed = [3u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    SigningKey::from_bytes(&seed)
}

fn body(i: usize) -> TxBody {
    TxBody {
        chain_id: "sigs".into(),
        nonce: i as u64,
        fee: 1_000,
        gas_limit: 50_000,
        msgs: vec![Msg::Transfer {
            to: Address::from_public_key(&key(i + 1).verifying_key().to_bytes()),
            amount: 1,
        }],
    }
}

/// 700 transactions (six chunks), with a forged signature in two chunks, a tampered body,
/// a zeroed key and undecodable bytes scattered among valid ones.
fn block() -> Vec<Vec<u8>> {
    (0..700)
        .map(|i| {
            let mut tx = body(i).sign(&key(i));
            match i {
                5 | 400 => tx.signature[40] ^= 1,
                131 => tx.body.nonce += 1,
                260 => tx.public_key = [0; 32],
                _ => {}
            }
            let mut bytes = tx.encode();
            if i == 333 {
                bytes.truncate(10);
            }
            bytes
        })
        .collect()
}

fn codes(checked: &[Checked]) -> Vec<(Option<RejectCode>, Option<RejectCode>)> {
    checked
        .iter()
        .map(|(tx, sig)| {
            (
                tx.as_ref().err().map(|r| r.code),
                sig.as_ref().err().map(|r| r.code),
            )
        })
        .collect()
}

#[test]
fn verdicts_are_the_strict_ones_whatever_the_thread_count() {
    let txs = block();
    let params = Params::default();
    let one = check_block(&txs, &params, &Verified::new(0), 1);
    assert_eq!(one.len(), txs.len());
    for (i, (tx, sig)) in one.iter().enumerate() {
        match i {
            333 => assert!(tx.is_err(), "truncated bytes decode"),
            5 | 400 | 131 => assert_eq!(
                sig.as_ref().err().map(|r| r.code),
                Some(RejectCode::BadSignature)
            ),
            260 => assert!(sig.is_err(), "a zero key verifies"),
            _ => assert_eq!(sig, &Ok(()), "tx {i}"),
        }
        if let Ok(tx) = tx {
            assert_eq!(tx.encode(), txs[i], "tx {i} decoded to something else");
        }
    }
    for threads in [2, 3, 16] {
        let many = check_block(&txs, &params, &Verified::new(0), threads);
        assert_eq!(codes(&many), codes(&one), "{threads} threads");
        assert_eq!(many, one, "{threads} threads");
    }
}

#[test]
fn remembered_signatures_skip_whole_chunks_without_changing_a_verdict() {
    let txs = block();
    let params = Params::default();
    let fresh = check_block(&txs, &params, &Verified::new(0), 2);
    let verified = Verified::new(10_000);
    // CheckTx remembers only what passed the strict check: here every valid transaction.
    for (bytes, (_, sig)) in txs.iter().zip(&fresh) {
        if sig.is_ok() {
            verified.remember(Verified::key(bytes));
        }
    }
    let remembered = verified.len();
    let with_memory = check_block(&txs, &params, &verified, 2);
    assert_eq!(with_memory, fresh);
    // Chunks whose decoded transactions were all remembered were skipped and their
    // entries forgotten; the others were computed in full and kept theirs.
    let in_batch_bad = [5usize, 131, 260, 400];
    let skipped: usize = (0..txs.len())
        .filter(|i| !in_batch_bad.iter().any(|b| b / CHUNK == i / CHUNK))
        .filter(|i| *i != 333)
        .count();
    assert_eq!(skipped, 128 + 60);
    assert_eq!(verified.len(), remembered - skipped);
}

#[test]
fn a_forged_signature_is_refused_even_when_its_neighbours_are_remembered() {
    let mut txs: Vec<Vec<u8>> = (0..CHUNK).map(|i| body(i).sign(&key(i)).encode()).collect();
    let verified = Verified::new(10_000);
    for bytes in &txs {
        verified.remember(Verified::key(bytes));
    }
    let mut forged = body(7).sign(&key(7));
    forged.signature[50] ^= 0x10;
    txs[7] = forged.encode();
    let out = check_block(&txs, &Params::default(), &verified, 1);
    assert_eq!(
        out[7].1.as_ref().err().map(|r| r.code),
        Some(RejectCode::BadSignature)
    );
    assert_eq!(out.iter().filter(|(_, s)| s.is_err()).count(), 1);
}

#[test]
fn the_memory_is_bounded_and_forgets_the_oldest() {
    let verified = Verified::new(3);
    for i in 0u8..5 {
        verified.remember([i; 32]);
    }
    assert_eq!(verified.len(), 3);
    assert!(!verified.all_known(&[[0; 32]]));
    assert!(verified.all_known(&[[2; 32], [4; 32]]));
    assert_eq!(verified.len(), 1);
    let none = Verified::new(0);
    none.remember([1; 32]);
    assert!(none.is_empty());
}

#[test]
fn delivery_is_in_block_order_and_an_error_stops_it() {
    let txs = block();
    let params = Params::default();
    let expected = check_block(&txs, &params, &Verified::new(0), 1);
    for threads in [1, 2, 3, 16] {
        // Every result, in block order, and the "all checked" mark once, before the last
        // chunk's transactions.
        let (mut seen, mut marked_at) = (vec![], vec![]);
        let delivered: Result<(), ()> = check_block_streaming(
            &txs,
            &params,
            &Verified::new(0),
            threads,
            || marked_at.push(()),
            |c| {
                seen.push(c);
                Ok(())
            },
        );
        assert_eq!(delivered, Ok(()));
        assert_eq!(seen, expected, "{threads} threads");
        assert_eq!(marked_at.len(), 1, "{threads} threads");
        // The first error stops delivery there and is returned.
        let mut calls = 0;
        let stopped = check_block_streaming(
            &txs,
            &params,
            &Verified::new(0),
            threads,
            || {},
            |_| {
                calls += 1;
                if calls == 300 { Err(calls) } else { Ok(()) }
            },
        );
        assert_eq!(stopped, Err(300), "{threads} threads");
        assert_eq!(
            calls, 300,
            "{threads} threads: nothing delivered after the error"
        );
    }
}

#[test]
fn all_checked_comes_before_the_last_chunk_is_delivered() {
    let txs = block();
    let params = Params::default();
    for threads in [1, 2, 4] {
        let delivered = std::cell::Cell::new(0usize);
        let at = std::cell::Cell::new(None);
        let done: Result<(), ()> = check_block_streaming(
            &txs,
            &params,
            &Verified::new(0),
            threads,
            || at.set(Some(delivered.get())),
            |_| {
                delivered.set(delivered.get() + 1);
                Ok(())
            },
        );
        assert_eq!(done, Ok(()));
        // 700 transactions: chunks of 128, the last one starts at 640.
        assert_eq!(at.get(), Some(640), "{threads} threads");
    }
    let mut marks = 0;
    let none: Result<(), ()> = check_block_streaming::<Vec<u8>, ()>(
        &[],
        &params,
        &Verified::new(0),
        2,
        || marks += 1,
        |_| Ok(()),
    );
    assert_eq!((none, marks), (Ok(()), 1), "an empty block is all checked");
}
