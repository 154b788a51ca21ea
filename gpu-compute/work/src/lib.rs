//! Useful work for taochain: int8 matrix multiplication with exact i32 results, checked by
//! Freivalds' algorithm. This crate owns the statement ([`MatmulStatement`]), `.npy` I/O
//! ([`npy`]), the [`Verifier`] trait, and the CPU reference ([`CpuVerifier`]) that *defines*
//! validity: every other backend (the wgpu one) must produce the same projections and the
//! same verdict bit for bit. It knows nothing of blocks, ABCI or RocksDB.
//!
//! # The check and why it is sound
//!
//! A statement is `A` (m x k, int8), `B` (k x n, int8), `C` (m x n, i32) and a 32-byte seed
//! (on chain: the hash of the block that includes the result, unknown to the miner when it
//! computed `C`). It is valid iff `C == A * B` exactly. The verifier checks:
//!
//! 1. **Bound.** Every `|C_ij| <= k * 128 * 128` (the largest `|(AB)_ij|` can be), and
//!    `k <= MAX_K = 65,535`.
//! 2. **Freivalds over F_p, p = 2^31 - 1.** For `VECTORS = 2` vectors `r` in `F_p^n`
//!    expanded from the seed with sha256, compare `A (B r)` with `C r` mod p.
//!
//! Let `D = AB - C`. By (1), `|D_ij| <= 2 * k * 2^14 <= 2^31 - 2^15 < p`, so `D_ij = 0 mod p`
//! only if `D_ij = 0`: a wrong `C` has a row `d != 0 mod p`. For that row, `d . r` is a
//! non-zero linear form in the uniformly random `r`, so it vanishes with probability
//! exactly `1/p` per vector; two independent vectors give `<= p^-2 < 2^-61.9`, whatever `C`
//! the miner chose. (Plain wrapping u32 arithmetic is not sound: an error of `2^31` or
//! `2^32` survives with probability 1/2 or 1.) The bias of reducing 64 sha256 bits mod p is
//! below `2^-33` per entry and is accounted for in the margin to `2^-60`.
//!
//! Cost: `O(mk + kn + mn)` per vector instead of `O(mnk)`; the check is memory-bound, so
//! the second vector is nearly free.

pub mod cpu;
pub mod matrix;
pub mod npy;

pub use cpu::{CpuVerifier, gemm};
pub use matrix::Matrix;

/// The field modulus: the Mersenne prime 2^31 - 1 (products of two field elements fit in
/// 62 bits; a GPU does them with 32-bit limbs).
pub const P: u64 = (1 << 31) - 1;
/// Independent random vectors per check (soundness <= p^-VECTORS < 2^-60).
pub const VECTORS: usize = 2;
/// Largest inner dimension: keeps `2 * k * 128 * 128 < p`.
pub const MAX_K: usize = 65_535;
/// Largest dimension of any matrix (m, k or n): bounds the random-vector expansion (one
/// hash per entry of `r`) whatever the data holds.
pub const MAX_DIM: usize = 65_535;

/// A matrix-multiplication claim to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatmulStatement {
    /// m x k.
    pub a: Matrix<i8>,
    /// k x n.
    pub b: Matrix<i8>,
    /// m x n, the claimed product.
    pub c: Matrix<i32>,
    /// Randomness for the check (a block hash on chain).
    pub seed: [u8; 32],
}

/// The content hashes (sha256) of the blobs a statement's A, B and C were parsed from. A
/// backend may keep the matrices resident under them between checks, so the caller must
/// pass the statement parsed from exactly these blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobKeys {
    /// A's blob.
    pub a: [u8; 32],
    /// B's blob.
    pub b: [u8; 32],
    /// C's blob.
    pub c: [u8; 32],
}

/// Why a statement cannot even be checked (bad input, not an invalid result).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkError {
    /// Dimensions that do not chain.
    #[error(
        "shape mismatch: A is {a_rows}x{a_cols}, B is {b_rows}x{b_cols}, C is {c_rows}x{c_cols} (need A m x k, B k x n, C m x n)"
    )]
    Shape {
        /// A rows.
        a_rows: usize,
        /// A cols.
        a_cols: usize,
        /// B rows.
        b_rows: usize,
        /// B cols.
        b_cols: usize,
        /// C rows.
        c_rows: usize,
        /// C cols.
        c_cols: usize,
    },
    /// A dimension that is zero or beyond [`MAX_DIM`].
    #[error("dimension {0} is outside 1..={MAX_DIM}")]
    Dimension(usize),
    /// k beyond [`MAX_K`].
    #[error("inner dimension k = {0} is beyond the supported bound {MAX_K}")]
    KTooLarge(usize),
    /// A `.npy` file that is not what we need.
    #[error("npy: {0}")]
    Npy(String),
    /// The backend (a GPU) failed to run the check.
    #[error("backend: {0}")]
    Backend(String),
}

/// The first failing check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// `|C_ij|` exceeds `k * 128 * 128`.
    OutOfBound {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The value.
        value: i32,
    },
    /// `A (B r) != C r` for vector `vector` at `row`.
    Mismatch {
        /// Which random vector.
        vector: usize,
        /// First row that differs.
        row: usize,
    },
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invalid::OutOfBound { row, col, value } => {
                write!(
                    f,
                    "C[{row}][{col}] = {value} is outside the bound k*128*128"
                )
            }
            Invalid::Mismatch { vector, row } => {
                write!(
                    f,
                    "Freivalds check {vector} fails at row {row}: A(Br) != Cr mod 2^31-1"
                )
            }
        }
    }
}

/// The outcome of a check.
pub type Verdict = Result<(), Invalid>;

/// The projections a check compares, mod p, per vector: `A (B r)` and `C r` (m entries
/// each). Backends must agree on them bit for bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projections {
    /// `A (B r)` per vector.
    pub abr: Vec<Vec<u32>>,
    /// `C r` per vector.
    pub cr: Vec<Vec<u32>>,
}

/// A backend that checks statements.
pub trait Verifier {
    /// Human-readable backend and device name.
    fn name(&self) -> String;
    /// The projections for `s` (after the shape checks).
    fn projections(&self, s: &MatmulStatement) -> Result<Projections, WorkError>;
    /// The verdict: bound check, then the projections compared row by row.
    fn verify(&self, s: &MatmulStatement) -> Result<Verdict, WorkError> {
        check_shapes(s)?;
        if let Some(bad) = cpu::first_out_of_bound(s) {
            return Ok(Err(bad));
        }
        Ok(compare(&self.projections(s)?))
    }
    /// [`Verifier::verify`] of a statement parsed from the blobs `keys`: a backend may keep
    /// those matrices resident across checks. The same verdict as `verify`.
    fn verify_blobs(&self, s: &MatmulStatement, keys: &BlobKeys) -> Result<Verdict, WorkError> {
        let _ = keys;
        self.verify(s)
    }
}

/// Checks that the dimensions chain and k is supported.
pub fn check_shapes(s: &MatmulStatement) -> Result<(), WorkError> {
    let (a, b, c) = (&s.a, &s.b, &s.c);
    if a.cols != b.rows || c.rows != a.rows || c.cols != b.cols {
        return Err(WorkError::Shape {
            a_rows: a.rows,
            a_cols: a.cols,
            b_rows: b.rows,
            b_cols: b.cols,
            c_rows: c.rows,
            c_cols: c.cols,
        });
    }
    if a.cols > MAX_K {
        return Err(WorkError::KTooLarge(a.cols));
    }
    if let Some(&d) = [a.rows, a.cols, b.cols]
        .iter()
        .find(|d| **d == 0 || **d > MAX_DIM)
    {
        return Err(WorkError::Dimension(d));
    }
    Ok(())
}

/// Largest product C (bytes of m x n int32) the offline tools compute or check.
pub const MAX_PRODUCT_BYTES: u64 = 1 << 30;

/// Checks a statement's shape from its headers alone, before any data is read or
/// allocated: every dimension in `1..=MAX_DIM`, `k <= MAX_K`, A (m x k) and B (k x n)
/// chaining, C (when given) m x n, and `m * n * 4 <= max_product_bytes`.
pub fn check_shape(
    a: (usize, usize),
    b: (usize, usize),
    c: Option<(usize, usize)>,
    max_product_bytes: u64,
) -> Result<(), WorkError> {
    let (c_rows, c_cols) = c.unwrap_or((a.0, b.1));
    if a.1 != b.0 || c_rows != a.0 || c_cols != b.1 {
        return Err(WorkError::Shape {
            a_rows: a.0,
            a_cols: a.1,
            b_rows: b.0,
            b_cols: b.1,
            c_rows,
            c_cols,
        });
    }
    if let Some(&d) = [a.0, a.1, b.1].iter().find(|d| **d == 0 || **d > MAX_DIM) {
        return Err(WorkError::Dimension(d));
    }
    if a.1 > MAX_K {
        return Err(WorkError::KTooLarge(a.1));
    }
    let bytes = (a.0 as u64).saturating_mul(b.1 as u64).saturating_mul(4);
    if bytes > max_product_bytes {
        return Err(WorkError::Npy(format!(
            "the product is {}x{} int32 ({bytes} bytes), above the limit of {max_product_bytes} bytes",
            a.0, b.1
        )));
    }
    Ok(())
}

/// Checks `s` with `primary` (a GPU, say; by [`Verifier::verify_blobs`] when the blobs'
/// `keys` are known) and, if that backend fails to run (readback error, device lost), with
/// the CPU reference: a verdict never depends on whether a GPU hiccupped. Bad statements
/// are still errors.
pub fn verify_or_cpu(
    primary: &dyn Verifier,
    s: &MatmulStatement,
    keys: Option<&BlobKeys>,
) -> Result<Verdict, WorkError> {
    let verdict = match keys {
        Some(keys) => primary.verify_blobs(s, keys),
        None => primary.verify(s),
    };
    match verdict {
        Err(WorkError::Backend(_)) => CpuVerifier::default().verify(s),
        other => other,
    }
}

/// The verdict from projections: the first vector and row where they differ.
pub fn compare(p: &Projections) -> Verdict {
    for (vector, (abr, cr)) in p.abr.iter().zip(&p.cr).enumerate() {
        if let Some(row) = abr.iter().zip(cr).position(|(x, y)| x != y) {
            return Err(Invalid::Mismatch { vector, row });
        }
    }
    Ok(())
}

/// The random vectors for a seed: `VECTORS` vectors of `n` field elements, entry `j` of
/// vector `v` = [`random_entry`]. Deterministic, so every node and backend uses the same
/// vectors.
pub fn random_vectors(seed: &[u8; 32], n: usize) -> Vec<Vec<u32>> {
    (0..VECTORS)
        .map(|v| (0..n).map(|j| random_entry(seed, v, j)).collect())
        .collect()
}

/// Entry `j` of random vector `v`: the first 8 bytes (LE) of
/// `sha256("taochain/freivalds/v1" || seed || v || j)` mod p.
pub fn random_entry(seed: &[u8; 32], v: usize, j: usize) -> u32 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"taochain/freivalds/v1");
    h.update(seed);
    h.update((v as u32).to_le_bytes());
    h.update((j as u64).to_le_bytes());
    let d = h.finalize();
    let mut w = [0u8; 8];
    w.copy_from_slice(&d[..8]);
    (u64::from_le_bytes(w) % P) as u32
}
