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
fn small_order_encodings_are_exactly_the_small_order_points() {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    // Every listed y, with either sign bit, that decodes is a small-order point...
    let mut decoded = 0;
    for y in SMALL_ORDER_Y {
        for sign in [0u8, 0x80] {
            let mut e = y;
            e[31] |= sign;
            assert!(is_small_order_encoding(&e));
            if let Some(p) = CompressedEdwardsY(e).decompress() {
                assert!(p.is_small_order(), "{e:02x?}");
                decoded += 1;
            }
        }
    }
    assert!(
        decoded >= 8,
        "all eight torsion points are covered ({decoded})"
    );
    // ...including the non-canonical encodings of 0 and 1 (p and p + 1)...
    let mut p_plus_one = SMALL_ORDER_Y[2];
    p_plus_one[0] = 0xee;
    assert!(is_small_order_encoding(&p_plus_one));
    assert!(
        CompressedEdwardsY(p_plus_one)
            .decompress()
            .is_some_and(|p| p.is_small_order())
    );
    // ...and an ordinary point or a key is not.
    let key = SigningKey::from_bytes(&[7; 32]);
    assert!(!is_small_order_encoding(key.verifying_key().as_bytes()));
    let mut p_plus_two = p_plus_one;
    p_plus_two[0] = 0xef;
    assert!(!is_small_order_encoding(&p_plus_two));
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
    tx.signature[..32].copy_from_slice(&SMALL_ORDER_Y[1]);
    assert_eq!(
        tx.verification_parts().err(),
        Some(RejectCode::BadSignature)
    );
    assert_eq!(tx.verify_signature(), Err(RejectCode::BadSignature));
}
