//! Golden bytes and hostile-input tests of the transaction codec.

use super::*;
use alloc::vec;
use proptest::prelude::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn sample_body() -> TxBody {
    TxBody {
        chain_id: "taochain-localnet".into(),
        nonce: 7,
        fee: 1_000,
        gas_limit: 100_000,
        msgs: vec![Msg::Transfer {
            to: Address([9u8; 20]),
            amount: 1_500_000_000,
        }],
    }
}

#[test]
fn body_encoding_is_pinned() {
    let bytes = borsh::to_vec(&sample_body()).expect("encodes");
    let expected = concat!(
        "11000000",
        "74616f636861696e2d6c6f63616c6e6574",       // chain_id
        "0700000000000000",                         // nonce
        "e803000000000000",                         // fee
        "a086010000000000",                         // gas_limit
        "01000000",                                 // 1 msg
        "00",                                       // Transfer
        "0909090909090909090909090909090909090909", // to
        "002f685900000000",                         // amount
    );
    assert_eq!(hex::encode(bytes), expected);
}

#[test]
fn signed_tx_roundtrips_and_verifies() {
    let tx = sample_body().sign(&key(1));
    let bytes = tx.encode();
    assert_eq!(
        bytes.len(),
        borsh::to_vec(&tx.body).expect("encodes").len() + 96
    );
    let back = SignedTx::decode(&bytes, 16 * 1024).expect("decodes");
    assert_eq!(back, tx);
    assert_eq!(back.verify_signature(), Ok(()));
    assert_eq!(
        back.sender(),
        Address::from_public_key(&key(1).verifying_key().to_bytes())
    );
}

#[test]
fn signature_is_deterministic_and_pinned() {
    let tx = sample_body().sign(&key(1));
    assert_eq!(hex::encode(tx.body.sign_digest()), GOLDEN_DIGEST);
    assert_eq!(hex::encode(&tx.signature[..8]), GOLDEN_SIG_PREFIX);
}

const GOLDEN_DIGEST: &str = "896a24e5e2a24e258ace01fc311dc49540982c06e42ad8d241111be0d75c82a3";
const GOLDEN_SIG_PREFIX: &str = "01b57c419f53377e";

#[test]
fn tampered_body_or_foreign_key_fails_verification() {
    let mut tx = sample_body().sign(&key(1));
    tx.body.nonce += 1;
    assert_eq!(tx.verify_signature(), Err(RejectCode::BadSignature));
    let mut tx = sample_body().sign(&key(1));
    tx.public_key = key(2).verifying_key().to_bytes();
    assert_eq!(tx.verify_signature(), Err(RejectCode::BadSignature));
}

#[test]
fn hostile_bytes_get_their_own_errors() {
    let bytes = sample_body().sign(&key(1)).encode();
    assert_eq!(
        SignedTx::decode(&bytes[..bytes.len() - 1], 1 << 14),
        Err(DecodeError::Truncated)
    );
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        SignedTx::decode(&long, 1 << 14),
        Err(DecodeError::TrailingBytes(1))
    );
    assert!(matches!(
        SignedTx::decode(&bytes, 10),
        Err(DecodeError::TooLarge { .. })
    ));
    // The Msg tag sits right after the 4-byte vec length that follows gas_limit.
    let tag_at = 4 + 17 + 8 + 8 + 8 + 4;
    let mut unknown = bytes.clone();
    unknown[tag_at] = 0x7f;
    assert_eq!(
        SignedTx::decode(&unknown, 1 << 14),
        Err(DecodeError::UnknownMessage)
    );
    let mut bad_utf8 = bytes;
    bad_utf8[4] = 0xff;
    assert!(matches!(
        SignedTx::decode(&bad_utf8, 1 << 14),
        Err(DecodeError::Malformed(_))
    ));
    // A vec length of 4 billion must fail fast, not allocate.
    let mut huge = vec![0u8, 0, 0, 0];
    huge.extend_from_slice(&[0; 24]);
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        SignedTx::decode(&huge, 1 << 14),
        Err(DecodeError::Truncated)
    );
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_decoder(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SignedTx::decode(&bytes, 16 * 1024);
    }

    #[test]
    fn every_prefix_of_a_valid_tx_is_rejected(cut in 0usize..150) {
        let bytes = sample_body().sign(&key(3)).encode();
        let cut = cut.min(bytes.len() - 1);
        prop_assert!(SignedTx::decode(&bytes[..cut], 1 << 14).is_err());
    }
}

#[test]
fn every_encoding_of_a_small_order_point_is_refused_as_a_key_and_as_r() {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    let key = SigningKey::from_bytes(&[7; 32]);
    let tx = sample_body().sign(&key);
    assert_eq!(tx.verify_signature(), Ok(()));
    // Every y below 2^255 whose point has small order, canonical or not (y >= p), with
    // either sign bit: found by decompressing, not from a list.
    let mut found = 0;
    let candidates = (0u8..=255).flat_map(|low| {
        let mut small = [0u8; 32];
        small[0] = low;
        let mut high = [0xff; 32];
        high[0] = low;
        high[31] = 0x7f;
        [small, high]
    });
    for y in candidates {
        for sign in [0u8, 0x80] {
            let mut e = y;
            e[31] |= sign;
            let Some(p) = CompressedEdwardsY(e).decompress() else {
                continue;
            };
            if !p.is_small_order() {
                continue;
            }
            found += 1;
            let mut as_key = tx.clone();
            as_key.public_key = e;
            assert_eq!(
                as_key.verify_signature(),
                Err(RejectCode::InvalidPublicKey),
                "{e:02x?}"
            );
            let mut as_r = tx.clone();
            as_r.signature[..32].copy_from_slice(&e);
            assert_eq!(
                as_r.verify_signature(),
                Err(RejectCode::BadSignature),
                "{e:02x?}"
            );
        }
    }
    // 0, 1 and p - 1 with their non-canonical forms p and p + 1, each with both signs.
    assert!(found >= 6, "{found}");
}

#[test]
fn a_small_order_r_is_refused_before_any_verification() {
    let key = SigningKey::from_bytes(&[9; 32]);
    let body = TxBody {
        chain_id: "c".into(),
        nonce: 0,
        fee: 1,
        gas_limit: 1,
        msgs: vec![Msg::Transfer {
            to: Address([1; 20]),
            amount: 1,
        }],
    };
    let mut tx = body.sign(&key);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    tx.signature[..32].copy_from_slice(&identity);
    assert_eq!(
        tx.verification_parts().err(),
        Some(RejectCode::BadSignature)
    );
    assert_eq!(tx.verify_signature(), Err(RejectCode::BadSignature));
}
