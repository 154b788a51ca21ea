use super::*;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signer, SigningKey};

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i.wrapping_add(1); 32])
}

/// The point of order 2, `(0, -1)`.
fn order_two() -> EdwardsPoint {
    let mut y = [0xff; 32];
    y[0] = 0xec;
    y[31] = 0x7f;
    let t = CompressedEdwardsY(y).decompress().expect("decodes");
    assert!((t + t).is_identity() && !t.is_identity());
    t
}

fn honest(i: u8, msg: &[u8]) -> ([u8; 32], [u8; 64]) {
    let k = key(i);
    (k.verifying_key().to_bytes(), k.sign(msg).to_bytes())
}

/// Key `i`'s signature over `msg` as a signer would make it, but under the public key bytes
/// `a` and with the nonce point `nonce * B + extra` (`extra` a torsion point or the identity).
fn sign_raw(i: u8, a: [u8; 32], nonce: Scalar, extra: EdwardsPoint, msg: &[u8]) -> [u8; 64] {
    let r = (EdwardsPoint::mul_base(&nonce) + extra)
        .compress()
        .to_bytes();
    let h = Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(a)
            .chain_update(msg),
    );
    let s = nonce + h * key(i).to_scalar();
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r);
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// A signature by key `i` whose `R` carries a torsion component: valid under the cofactored
/// rule, refused by a cofactorless strict check.
fn torsion_r(i: u8, msg: &[u8]) -> ([u8; 32], [u8; 64]) {
    let a = key(i).verifying_key().to_bytes();
    let nonce = Scalar::from_bytes_mod_order([i.wrapping_add(7); 32]);
    (a, sign_raw(i, a, nonce, order_two(), msg))
}

/// A signature by key `i` under a public key with a torsion component (`A + T`).
fn torsion_a(i: u8, msg: &[u8]) -> ([u8; 32], [u8; 64]) {
    let a = (key(i).verifying_key().to_edwards() + order_two())
        .compress()
        .to_bytes();
    let nonce = Scalar::from_bytes_mod_order([i.wrapping_add(9); 32]);
    (a, sign_raw(i, a, nonce, EdwardsPoint::default(), msg))
}

/// A signature that fails: one bit of `s` changed (still canonical).
fn bad(i: u8, msg: &[u8]) -> ([u8; 32], [u8; 64]) {
    let (a, mut sig) = honest(i, msg);
    sig[32] ^= 1;
    (a, sig)
}

fn prep((a, sig): ([u8; 32], [u8; 64]), msg: &[u8]) -> Prepared {
    prepare(&a, &sig, msg).expect("parses")
}

#[test]
fn honest_signatures_pass_alone_and_in_a_batch() {
    let items: Vec<Prepared> = (0..10)
        .map(|i| prep(honest(i, &[i; 40]), &[i; 40]))
        .collect();
    assert!(items.iter().all(Prepared::verify));
    assert!(verify_batch(&items));
    assert!(verify_batch(&[]));
}

#[test]
fn a_wrong_message_or_s_fails_alone_and_fails_every_batch_it_is_in() {
    let wrong_msg = prep(honest(1, b"signed"), b"not signed");
    let wrong_s = prep(bad(2, b"m"), b"m");
    for bad in [wrong_msg, wrong_s] {
        assert!(!bad.verify());
        for n in 0..6u8 {
            let mut items: Vec<Prepared> = (0..n).map(|i| prep(honest(i, &[i]), &[i])).collect();
            items.insert(usize::from(n / 2), bad);
            assert!(!verify_batch(&items), "batch of {}", items.len());
        }
    }
}

#[test]
fn torsion_in_r_or_a_gets_the_same_verdict_alone_and_in_any_batch() {
    let msg = b"torsion";
    let crafted = [torsion_r(3, msg), torsion_a(4, msg)];
    for (which, c) in crafted.into_iter().enumerate() {
        // A cofactorless strict check refuses the torsion in R (and the torsion in A when
        // k is odd); the chain's rule accepts both everywhere.
        let strict = ed25519_dalek::VerifyingKey::from_bytes(&c.0)
            .map(|k| {
                k.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&c.1))
                    .is_ok()
            })
            .unwrap_or(false);
        if which == 0 {
            assert!(!strict);
        }
        let item = prep(c, msg);
        assert!(item.verify());
        // Whatever else is in the batch (so whatever its coefficients), it passes.
        for n in 0..40u8 {
            let mut items: Vec<Prepared> = (0..n % 5)
                .map(|i| prep(honest(i + n, &[n]), &[n]))
                .collect();
            items.push(item);
            assert!(verify_batch(&items), "batch {n}");
            // And a bad signature beside it still fails the batch.
            items.push(prep(bad(n, &[n]), &[n]));
            assert!(!verify_batch(&items), "batch {n} with a bad one");
        }
    }
}

#[test]
fn small_order_keys_and_rs_and_non_canonical_s_are_refused_before_any_equation() {
    let msg = b"m";
    let t = order_two().compress().to_bytes();
    let (a, sig) = honest(1, msg);
    assert_eq!(
        prepare(&t, &sig, msg).err(),
        Some(RejectCode::InvalidPublicKey)
    );
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        prepare(&identity, &sig, msg).err(),
        Some(RejectCode::InvalidPublicKey)
    );
    let mut small_r = sig;
    small_r[..32].copy_from_slice(&t);
    assert_eq!(
        prepare(&a, &small_r, msg).err(),
        Some(RejectCode::BadSignature)
    );
    // s + l: the same scalar, not canonical.
    let s = Scalar::from_canonical_bytes(sig[32..].try_into().expect("32")).expect("canonical");
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    let mut plus_l = [0u8; 32];
    for i in 0..32 {
        let v = u16::from(s.as_bytes()[i]) + u16::from(l[i]) + carry;
        plus_l[i] = v as u8;
        carry = v >> 8;
    }
    let mut malleated = sig;
    malleated[32..].copy_from_slice(&plus_l);
    assert_eq!(
        prepare(&a, &malleated, msg).err(),
        Some(RejectCode::BadSignature)
    );
    // A y that is not on the curve.
    let mut off = a;
    off[0] ^= 0x55;
    if CompressedEdwardsY(off).decompress().is_none() {
        assert_eq!(
            prepare(&off, &sig, msg).err(),
            Some(RejectCode::InvalidPublicKey)
        );
    }
}

#[test]
fn batch_verdicts_equal_the_single_verdicts_over_mixed_batches() {
    // Every subset of a pool of honest, crafted-torsion and bad signatures.
    let pool: Vec<Prepared> = (0..3u8)
        .flat_map(|i| {
            let m = [i; 3];
            [
                prep(honest(i, &m), &m),
                prep(torsion_r(i + 10, &m), &m),
                prep(torsion_a(i + 20, &m), &m),
                prep(bad(i + 30, &m), &m),
            ]
        })
        .collect();
    for mask in 1u32..(1 << 12) {
        let items: Vec<Prepared> = pool
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, p)| *p)
            .collect();
        assert_eq!(
            verify_batch(&items),
            items.iter().all(Prepared::verify),
            "mask {mask:b}"
        );
    }
}

/// Two signatures that each fail alone but whose errors cancel under the batch's
/// coefficients (`z1 d1 + z2 d2 = 0`, the `s` of each moved by `d`) would pass a batch whose
/// coefficients did not depend on `s`: the attacker picks `R`, `A` and the message (which fix
/// `k`), reads the coefficients, then picks the `s` values. Hashing `s` into them refuses it.
#[test]
fn errors_chosen_to_cancel_under_the_coefficients_do_not_pass_a_batch() {
    let msg = b"cancel";
    let mut items = vec![prep(honest(1, msg), msg), prep(honest(2, msg), msg)];
    let z = coefficients(&items);
    let d1 = Scalar::from(12_345u64);
    let d2 = -(z[0] * d1) * z[1].invert();
    items[0].s += d1;
    items[1].s += d2;
    assert!(!items[0].verify() && !items[1].verify(), "each fails alone");
    // Under the coefficients read before `s` was chosen, the errors cancel exactly...
    let b = -(z[0] * items[0].s + z[1] * items[1].s);
    let sum = EdwardsPoint::vartime_multiscalar_mul(
        [z[0], z[0] * items[0].k, z[1], z[1] * items[1].k, b],
        [
            items[0].r,
            items[0].a,
            items[1].r,
            items[1].a,
            ED25519_BASEPOINT_POINT,
        ],
    );
    assert!(
        sum.mul_by_cofactor().is_identity(),
        "the errors cancel under z"
    );
    // ...but the batch's own coefficients see the new `s`, and it fails.
    assert!(!verify_batch(&items));
}

/// Every coefficient is odd, so none is zero (a zero one would drop its signature from
/// the equation), over many batch sizes.
#[test]
fn every_batch_coefficient_is_odd() {
    for n in 1..40u8 {
        let items: Vec<Prepared> = (0..n).map(|i| prep(honest(i, &[i]), &[i])).collect();
        let z = coefficients(&items);
        assert_eq!(z.len(), items.len());
        assert!(z.iter().all(|z| z.as_bytes()[0] & 1 == 1), "batch of {n}");
    }
}
