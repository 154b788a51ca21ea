//! The chain's one ed25519 rule for transaction signatures, checked alone (`CheckTx`, and
//! a block's fallback) or in a batch (a block's chunks), with the same verdicts both ways.
//!
//! The rule: the public key `A` and the signature's `R` decode to curve points, neither of
//! small order; `s` is canonical (`s < l`); and the *cofactored* equation
//! `[8](R + [k]A - [s]B) = 0` holds, with `k = SHA-512(R || A || M)`. Signatures made by
//! any RFC 8032 signer pass it.
//!
//! Why cofactored: a batch checks `[8] sum z_i (R_i + [k_i]A_i - [s_i]B) = 0` for random
//! 128-bit `z_i`. When every signature passes alone, every term is zero, so the batch
//! passes, exactly. When one fails alone, the batch fails except with probability about
//! 2^-128. A cofactorless batch (`ed25519_dalek::verify_batch`) does not agree with the
//! strict single check: a torsion component in `R` or `A` vanishes for some `z_i` and not
//! others. Its verdict on a crafted signature would then depend on the other signatures in
//! its batch. Here no verdict depends on the batch.
//!
//! The `z_i` are derived from a hash of the whole batch, the same on every node, so a
//! block's verdicts are deterministic.

use alloc::vec::Vec;
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::codes::RejectCode;

/// Domain separator of the batch coefficients' hash.
const BATCH_DOMAIN: &[u8] = b"taochain/ed25519-batch/v1";

/// A signature parsed and checked as far as it can be alone without the curve equation:
/// ready to verify alone or in a batch.
#[derive(Debug, Clone, Copy)]
pub struct Prepared {
    a: EdwardsPoint,
    r: EdwardsPoint,
    s: Scalar,
    k: Scalar,
}

/// Parses `signature` by `public_key` over `msg`: `InvalidPublicKey` when the key does not
/// decode or has small order, `BadSignature` when `R` does not decode or has small order,
/// or `s` is not canonical.
pub fn prepare(
    public_key: &[u8; 32],
    signature: &[u8; 64],
    msg: &[u8],
) -> Result<Prepared, RejectCode> {
    let a = CompressedEdwardsY(*public_key)
        .decompress()
        .filter(|a| !a.is_small_order())
        .ok_or(RejectCode::InvalidPublicKey)?;
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    let r = CompressedEdwardsY(r_bytes)
        .decompress()
        .filter(|r| !r.is_small_order())
        .ok_or(RejectCode::BadSignature)?;
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(RejectCode::BadSignature)?;
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(r_bytes)
            .chain_update(public_key)
            .chain_update(msg),
    );
    Ok(Prepared { a, r, s, k })
}

impl Prepared {
    /// The cofactored equation for this signature alone.
    pub fn verify(&self) -> bool {
        // [k]A + [-s]B + R, times the cofactor.
        let p = EdwardsPoint::vartime_double_scalar_mul_basepoint(&self.k, &self.a, &-self.s);
        (p + self.r).mul_by_cofactor().is_identity()
    }
}

/// Whether every signature passes: one multiscalar multiplication for all of them. `true`
/// exactly when each passes [`Prepared::verify`] (up to a 2^-128 chance of passing a bad
/// one); an empty batch passes.
pub fn verify_batch(items: &[Prepared]) -> bool {
    if items.is_empty() {
        return true;
    }
    let z = coefficients(items);
    let mut b = Scalar::ZERO;
    let mut scalars = Vec::with_capacity(2 * items.len() + 1);
    let mut points = Vec::with_capacity(2 * items.len() + 1);
    for (item, z) in items.iter().zip(&z) {
        b -= z * item.s;
        scalars.push(*z);
        points.push(item.r);
        scalars.push(z * item.k);
        points.push(item.a);
    }
    scalars.push(b);
    points.push(ED25519_BASEPOINT_POINT);
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

/// One nonzero 128-bit coefficient per signature, from a hash of every signature's `k`
/// (which binds its `R`, `A` and message) and `s`.
fn coefficients(items: &[Prepared]) -> Vec<Scalar> {
    let mut h = Sha512::new().chain_update(BATCH_DOMAIN);
    h.update((items.len() as u64).to_le_bytes());
    for item in items {
        h.update(item.k.as_bytes());
        h.update(item.s.as_bytes());
    }
    let seed = h.finalize();
    (0..items.len() as u64)
        .map(|i| {
            let wide = Sha512::new()
                .chain_update(seed)
                .chain_update(i.to_le_bytes())
                .finalize();
            let mut z = [0u8; 32];
            z[..16].copy_from_slice(&wide[..16]);
            z[0] |= 1; // nonzero
            Scalar::from_bytes_mod_order(z)
        })
        .collect()
}

#[cfg(test)]
mod tests;
