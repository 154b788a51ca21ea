//! The CPU reference: projections mod p with exact integer arithmetic, rows split across
//! threads (each row is independent, so the result does not depend on the split), and a
//! cache-friendly GEMM for miners without a GPU.

use crate::{
    Invalid, MatmulStatement, Matrix, P, Projections, Verifier, WorkError, check_shapes,
    random_vectors,
};

/// The reference verifier.
#[derive(Debug, Clone)]
pub struct CpuVerifier {
    threads: usize,
}

impl Default for CpuVerifier {
    fn default() -> Self {
        CpuVerifier {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl CpuVerifier {
    /// A verifier using `threads` threads (at least 1).
    pub fn with_threads(threads: usize) -> Self {
        CpuVerifier {
            threads: threads.max(1),
        }
    }
}

fn reduce(x: i128) -> u32 {
    x.rem_euclid(i128::from(P)) as u32
}

/// `out[i] = f(i)` for every row, rows split into contiguous chunks across threads.
fn par_rows(rows: usize, threads: usize, f: impl Fn(usize) -> (u32, u32) + Sync) -> [Vec<u32>; 2] {
    let mut out = vec![(0u32, 0u32); rows];
    let chunk = rows.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        for (c, slice) in out.chunks_mut(chunk).enumerate() {
            let f = &f;
            s.spawn(move || {
                for (o, v) in slice.iter_mut().enumerate() {
                    *v = f(c * chunk + o);
                }
            });
        }
    });
    [
        out.iter().map(|p| p.0).collect(),
        out.iter().map(|p| p.1).collect(),
    ]
}

/// `[M x0, M x1] mod p` for an int8 matrix in one pass (products < 2^38, so an i64 sum of
/// up to 2^25 terms is exact; k and n are far below that). The portable reference; on
/// x86-64 with AVX2 [`simd::i8_row`] computes the same sums faster.
fn i8_row_scalar(row: &[i8], x0: &[u32], x1: &[u32]) -> (u32, u32) {
    let (mut s0, mut s1) = (0i64, 0i64);
    for ((a, v0), v1) in row.iter().zip(x0).zip(x1) {
        let a = i64::from(*a);
        s0 += a * i64::from(*v0);
        s1 += a * i64::from(*v1);
    }
    (reduce(i128::from(s0)), reduce(i128::from(s1)))
}

/// `[C x0, C x1] mod p` for one row of an i32 matrix, in u64 arithmetic: a negative `c`
/// is `c_u - 2^32` with `c_u` its two's-complement bits and `2^32 = 2 (mod p)`, so
/// `sum c x = sum c_u x - 2 * sum_{c < 0} x`. Each `c_u * x < 2^63` is folded
/// (`2^31 = 1 mod p`) below 2^33 before it is summed, so nothing overflows for any n
/// a matrix can have. Also says whether some `|c| > bound` (the bound check, fused into
/// the same pass so C is read once). The portable reference of [`simd::i32_row`].
fn i32_row(row: &[i32], x0: &[u32], x1: &[u32], bound: Option<i32>) -> (u32, u32, bool) {
    i32_sums(row, x0, x1, bound).finish(bound)
}

/// The u64 sums of [`i32_row`] (folded products, negative entries' x, out-of-bound seen),
/// so the SIMD kernel can finish a row's tail with them.
#[derive(Default)]
struct I32Sums {
    s: [u64; 2],
    n: [u64; 2],
    out: bool,
}

impl I32Sums {
    /// `[C x0, C x1] mod p`, and whether some entry was out of `bound`.
    fn finish(&self, bound: Option<i32>) -> (u32, u32, bool) {
        let combine = |s: u64, n: u64| ((s % P + P - (2 * (n % P)) % P) % P) as u32;
        (
            combine(self.s[0], self.n[0]),
            combine(self.s[1], self.n[1]),
            self.out && bound.is_some(),
        )
    }
}

fn i32_sums(row: &[i32], x0: &[u32], x1: &[u32], bound: Option<i32>) -> I32Sums {
    let fold = |v: u64| (v & P) + (v >> 31);
    let mut sums = I32Sums::default();
    let b = bound.unwrap_or(i32::MAX);
    for ((c, v0), v1) in row.iter().zip(x0).zip(x1) {
        let cu = u64::from(*c as u32);
        let neg = 0u64.wrapping_sub(u64::from(*c < 0));
        let (v0, v1) = (u64::from(*v0), u64::from(*v1));
        sums.s[0] += fold(cu * v0);
        sums.s[1] += fold(cu * v1);
        sums.n[0] += v0 & neg;
        sums.n[1] += v1 & neg;
        sums.out |= (*c > b) | (*c < -b);
    }
    sums
}

/// The bound check's limit as an i32: `None` when no i32 can exceed `bound` (at least
/// 2^31 = |i32::MIN|). With `bound = i32::MAX`, `i32::MIN` is out of bound, and the check
/// `c < -bound` says so.
fn i32_bound(bound: i64) -> Option<i32> {
    i32::try_from(bound).ok()
}

/// Projections of the int8 rows of `m` (B, then A): the AVX2 kernel when the CPU has it.
fn mat_vec2_i8(m: &Matrix<i8>, x0: &[u32], x1: &[u32], threads: usize) -> [Vec<u32>; 2] {
    match simd::Limbs::new(x0, x1) {
        Some(limbs) => par_rows(m.rows, threads, |i| limbs.i8_row(m.row(i))),
        None => par_rows(m.rows, threads, |i| i8_row_scalar(m.row(i), x0, x1)),
    }
}

/// Projections of C, and whether some entry is outside `[-bound, bound]`.
fn mat_vec2_i32(
    m: &Matrix<i32>,
    x0: &[u32],
    x1: &[u32],
    threads: usize,
    bound: i64,
) -> ([Vec<u32>; 2], bool) {
    let bound = i32_bound(bound);
    let flags = std::sync::atomic::AtomicBool::new(false);
    let p = par_rows(m.rows, threads, |i| {
        let (a, b, out) = simd::i32_row(m.row(i), x0, x1, bound);
        if out {
            flags.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        (a, b)
    });
    (p, flags.into_inner())
}

mod simd {
    //! The same sums on wider vectors, chosen at run time: on x86-64 with AVX2, the int8
    //! projection splits each vector entry into three 15-bit limbs
    //! (`x = l0 + l1 2^15 + l2 2^30`) so `vpmaddwd` multiplies 16 int8 entries by 16 limbs
    //! at once with pair sums in i32 lanes (exact; widened to i64 every 2048 entries), and
    //! the i32 projection runs [`super::i32_row`]'s arithmetic four u64 lanes at a time
    //! (`vpmuludq`). Every other CPU runs the portable code. The sums are the same
    //! integers either way, so the projections are bit-identical (tested).
    #![allow(unsafe_code)]

    use super::{i32_row as portable_i32_row, reduce};

    /// A pair of vectors split into 15-bit limbs, for the AVX2 int8 kernel.
    pub struct Limbs {
        /// `limbs[v][l][j]`: limb `l` of entry `j` of vector `v`.
        limbs: [[Vec<i16>; 3]; 2],
        x: [Vec<u32>; 2],
    }

    impl Limbs {
        /// The limbs of `x0` and `x1`; `None` when the CPU lacks AVX2.
        pub fn new(x0: &[u32], x1: &[u32]) -> Option<Self> {
            if !avx2() {
                return None;
            }
            let split = |x: &[u32]| -> [Vec<i16>; 3] {
                [0, 15, 30].map(|shift| x.iter().map(|v| ((v >> shift) & 0x7FFF) as i16).collect())
            };
            Some(Limbs {
                limbs: [split(x0), split(x1)],
                x: [x0.to_vec(), x1.to_vec()],
            })
        }

        /// [`super::i8_row_scalar`]'s result for `row`.
        pub fn i8_row(&self, row: &[i8]) -> (u32, u32) {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: `Limbs` exists only when the CPU has AVX2 (`new`).
                unsafe { avx2_kernels::i8_row(row, self) }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                super::i8_row_scalar(row, &self.x[0], &self.x[1])
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod avx2_kernels {
        use std::arch::x86_64::*;

        use super::super::{I32Sums, i32_sums};
        use super::{Limbs, reduce};
        use crate::P;

        /// 16-entry steps between widenings: each i32 lane gains at most
        /// `2 * 128 * (2^15 - 1) < 2^23` per step, so 128 steps stay below 2^30.
        const STEPS: usize = 128;

        /// The sum of the 8 i32 lanes of `v`, as i64.
        #[target_feature(enable = "avx2")]
        fn hsum_i32(v: __m256i) -> i64 {
            let mut lanes = [0i32; 8];
            // SAFETY: `lanes` is 32 writable bytes; unaligned stores are allowed.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
            lanes.iter().map(|l| i64::from(*l)).sum()
        }

        /// The sum of the 4 u64 lanes of `v`.
        #[target_feature(enable = "avx2")]
        fn hsum_u64(v: __m256i) -> u64 {
            let mut lanes = [0u64; 4];
            // SAFETY: as in `hsum_i32`.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
            lanes.iter().sum()
        }

        /// `sum a x` for both vectors, exactly, then mod p.
        #[allow(clippy::needless_range_loop)] // vector v, limb k: indices name them
        #[target_feature(enable = "avx2")]
        pub fn i8_row(row: &[i8], l: &Limbs) -> (u32, u32) {
            let n = row.len().min(l.x[0].len()).min(l.x[1].len());
            let full = n / 16 * 16;
            let mut total = [[0i64; 3]; 2];
            let mut j = 0;
            while j < full {
                let stop = (j + 16 * STEPS).min(full);
                let mut acc = [[_mm256_setzero_si256(); 3]; 2];
                while j < stop {
                    // SAFETY: j + 16 <= full <= n <= every slice's length.
                    let a = unsafe {
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(row.as_ptr().add(j).cast()))
                    };
                    for v in 0..2 {
                        for k in 0..3 {
                            // SAFETY: as above; each limb vector has the entries' length.
                            let x =
                                unsafe { _mm256_loadu_si256(l.limbs[v][k].as_ptr().add(j).cast()) };
                            acc[v][k] = _mm256_add_epi32(acc[v][k], _mm256_madd_epi16(a, x));
                        }
                    }
                    j += 16;
                }
                for v in 0..2 {
                    for k in 0..3 {
                        total[v][k] += hsum_i32(acc[v][k]);
                    }
                }
            }
            let mut sums = [0i64; 2];
            for v in 0..2 {
                sums[v] = total[v][0] + (total[v][1] << 15) + (total[v][2] << 30);
                for (a, x) in row[full..n].iter().zip(&l.x[v][full..n]) {
                    sums[v] += i64::from(*a) * i64::from(*x);
                }
            }
            (reduce(i128::from(sums[0])), reduce(i128::from(sums[1])))
        }

        /// [`super::super::i32_row`], eight entries at a time: the products of the even
        /// and of the odd 32-bit lanes in u64 lanes (`vpmuludq` reads the low half of each).
        #[target_feature(enable = "avx2")]
        pub fn i32_row(
            row: &[i32],
            x0: &[u32],
            x1: &[u32],
            bound: Option<i32>,
        ) -> (u32, u32, bool) {
            let n = row.len().min(x0.len()).min(x1.len());
            let full = n / 8 * 8;
            let mask = _mm256_set1_epi64x(P as i64);
            let low = _mm256_set1_epi64x(0xFFFF_FFFF);
            let zero = _mm256_setzero_si256();
            let b = bound.unwrap_or(i32::MAX);
            let (hi, lo) = (_mm256_set1_epi32(b), _mm256_set1_epi32(-b));
            let fold = |p: __m256i| {
                _mm256_add_epi64(_mm256_and_si256(p, mask), _mm256_srli_epi64::<31>(p))
            };
            // Both halves of each 64-bit lane of `t` (u32 values), added as u64.
            let widen =
                |t: __m256i| _mm256_add_epi64(_mm256_and_si256(t, low), _mm256_srli_epi64::<32>(t));
            let (mut s0, mut s1, mut n0, mut n1, mut out) = (zero, zero, zero, zero, zero);
            let mut j = 0;
            while j < full {
                // SAFETY: j + 8 <= full <= n <= every slice's length.
                let (c, v0, v1) = unsafe {
                    (
                        _mm256_loadu_si256(row.as_ptr().add(j).cast()),
                        _mm256_loadu_si256(x0.as_ptr().add(j).cast()),
                        _mm256_loadu_si256(x1.as_ptr().add(j).cast()),
                    )
                };
                let c_odd = _mm256_srli_epi64::<32>(c);
                let products = |v: __m256i| {
                    let even = fold(_mm256_mul_epu32(c, v));
                    let odd = fold(_mm256_mul_epu32(c_odd, _mm256_srli_epi64::<32>(v)));
                    _mm256_add_epi64(even, odd)
                };
                s0 = _mm256_add_epi64(s0, products(v0));
                s1 = _mm256_add_epi64(s1, products(v1));
                let neg = _mm256_srai_epi32::<31>(c);
                n0 = _mm256_add_epi64(n0, widen(_mm256_and_si256(v0, neg)));
                n1 = _mm256_add_epi64(n1, widen(_mm256_and_si256(v1, neg)));
                out = _mm256_or_si256(
                    out,
                    _mm256_or_si256(_mm256_cmpgt_epi32(c, hi), _mm256_cmpgt_epi32(lo, c)),
                );
                j += 8;
            }
            let tail = i32_sums(&row[full..n], &x0[full..n], &x1[full..n], bound);
            I32Sums {
                s: [hsum_u64(s0) + tail.s[0], hsum_u64(s1) + tail.s[1]],
                n: [hsum_u64(n0) + tail.n[0], hsum_u64(n1) + tail.n[1]],
                out: _mm256_testz_si256(out, out) == 0 || tail.out,
            }
            .finish(bound)
        }
    }

    /// [`super::i32_row`], on AVX2 when the CPU has it.
    pub fn i32_row(row: &[i32], x0: &[u32], x1: &[u32], bound: Option<i32>) -> (u32, u32, bool) {
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: the CPU has AVX2 (checked just above).
            return unsafe { avx2_kernels::i32_row(row, x0, x1, bound) };
        }
        portable_i32_row(row, x0, x1, bound)
    }

    /// Whether this CPU runs the AVX2 kernels (`TAOCHAIN_CPU_SIMD=off` forces the portable
    /// code, for comparisons).
    pub fn avx2() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            *ON.get_or_init(|| {
                std::env::var("TAOCHAIN_CPU_SIMD").as_deref() != Ok("off")
                    && std::is_x86_feature_detected!("avx2")
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    #[cfg(test)]
    mod tests {
        use super::super::i8_row_scalar;
        use super::*;

        /// Deterministic pseudo-random u64s (xorshift).
        fn stream(seed: u64) -> impl FnMut() -> u64 {
            let mut x = seed | 1;
            move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            }
        }

        #[test]
        fn the_simd_kernels_sum_exactly_what_the_portable_ones_do() {
            if !avx2() {
                eprintln!("no AVX2 on this CPU: only the portable kernels run");
                return;
            }
            let p = crate::P as u32;
            for (n, seed) in [
                (1, 1),
                (15, 2),
                (16, 3),
                (17, 4),
                (2047, 5),
                (2048, 6),
                (4099, 7),
            ] {
                let mut r = stream(seed);
                // Extremes (-128, 127 against p - 1 and 0), then random entries.
                let row: Vec<i8> = (0..n)
                    .map(|j| match j % 7 {
                        0 => -128,
                        1 => 127,
                        _ => r() as i8,
                    })
                    .collect();
                let x0: Vec<u32> = (0..n)
                    .map(|j| {
                        if j % 3 == 0 {
                            p - 1
                        } else {
                            (r() % u64::from(p)) as u32
                        }
                    })
                    .collect();
                let x1: Vec<u32> = (0..n)
                    .map(|j| {
                        if j % 5 == 0 {
                            0
                        } else {
                            (r() % u64::from(p)) as u32
                        }
                    })
                    .collect();
                let limbs = Limbs::new(&x0, &x1).expect("avx2");
                assert_eq!(limbs.i8_row(&row), i8_row_scalar(&row, &x0, &x1), "n {n}");
                let worst = vec![-128i8; n];
                let max = vec![p - 1; n];
                let limbs = Limbs::new(&max, &max).expect("avx2");
                assert_eq!(
                    limbs.i8_row(&worst),
                    i8_row_scalar(&worst, &max, &max),
                    "n {n}"
                );
                // Every 15-bit limb at its largest against -128: the i32 lanes' worst case,
                // over more entries than one widening step allows (an i32 overflow shows).
                let wide = vec![-128i8; 8192];
                let ones = vec![(1u32 << 30) - 1; 8192];
                let limbs = Limbs::new(&ones, &ones).expect("avx2");
                assert_eq!(limbs.i8_row(&wide), i8_row_scalar(&wide, &ones, &ones));
                let c: Vec<i32> = (0..n)
                    .map(|j| match j % 4 {
                        0 => i32::MIN,
                        1 => i32::MAX,
                        _ => r() as i32,
                    })
                    .collect();
                for bound in [None, Some(1 << 20), Some(i32::MAX - 1)] {
                    assert_eq!(
                        i32_row(&c, &x0, &x1, bound),
                        portable_i32_row(&c, &x0, &x1, bound),
                        "n {n} bound {bound:?}"
                    );
                }
                let small: Vec<i32> = c.iter().map(|v| v >> 12).collect();
                assert_eq!(
                    i32_row(&small, &x0, &x1, Some(1 << 20)),
                    portable_i32_row(&small, &x0, &x1, Some(1 << 20))
                );
            }
        }
    }
}

impl Verifier for CpuVerifier {
    fn name(&self) -> String {
        format!("cpu ({} threads)", self.threads)
    }

    fn projections(&self, s: &MatmulStatement) -> Result<Projections, WorkError> {
        Ok(self.fused(s)?.0)
    }

    /// The bound check fused into the projection of C (C is read once); the verdict is
    /// the trait's: the first out-of-bound entry wins over any mismatch.
    fn verify(&self, s: &MatmulStatement) -> Result<crate::Verdict, WorkError> {
        let (p, out_of_bound) = self.fused(s)?;
        if out_of_bound && let Some(bad) = first_out_of_bound(s) {
            return Ok(Err(bad));
        }
        Ok(crate::compare(&p))
    }
}

impl CpuVerifier {
    /// The projections, and whether some entry of C is out of bound.
    fn fused(&self, s: &MatmulStatement) -> Result<(Projections, bool), WorkError> {
        check_shapes(s)?;
        let r = random_vectors(&s.seed, s.b.cols);
        let [br0, br1] = mat_vec2_i8(&s.b, &r[0], &r[1], self.threads);
        let [a0, a1] = mat_vec2_i8(&s.a, &br0, &br1, self.threads);
        let bound = (s.a.cols as i64) * 128 * 128;
        let ([c0, c1], out) = mat_vec2_i32(&s.c, &r[0], &r[1], self.threads, bound);
        Ok((
            Projections {
                abr: vec![a0, a1],
                cr: vec![c0, c1],
            },
            out,
        ))
    }
}

/// The first `C_ij` outside `[-k*128*128, k*128*128]`, in row-major order.
pub fn first_out_of_bound(s: &MatmulStatement) -> Option<Invalid> {
    let bound = (s.a.cols as i64) * 128 * 128;
    // Chunks scanned in parallel; the first hit of the first chunk that has one is the
    // first in row-major order, whatever the thread count.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = s.c.data.len().div_ceil(threads).max(1);
    let hits: Vec<Option<usize>> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            s.c.data
                .chunks(chunk)
                .enumerate()
                .map(|(i, part)| {
                    scope.spawn(move || {
                        part.iter()
                            .position(|v| i64::from(*v).abs() > bound)
                            .map(|p| i * chunk + p)
                    })
                })
                .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(None))
            .collect()
    });
    hits.into_iter()
        .flatten()
        .next()
        .map(|p| Invalid::OutOfBound {
            row: p / s.c.cols.max(1),
            col: p % s.c.cols.max(1),
            value: s.c.data[p],
        })
}

/// `C = A * B` exactly (i32 accumulation cannot overflow for k <= MAX_K), rows in parallel,
/// with B transposed once so the inner loop reads both operands sequentially.
pub fn gemm(a: &Matrix<i8>, b: &Matrix<i8>) -> Result<Matrix<i32>, WorkError> {
    if a.cols != b.rows {
        return Err(WorkError::Shape {
            a_rows: a.rows,
            a_cols: a.cols,
            b_rows: b.rows,
            b_cols: b.cols,
            c_rows: a.rows,
            c_cols: b.cols,
        });
    }
    if a.cols > crate::MAX_K {
        return Err(WorkError::KTooLarge(a.cols));
    }
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut bt = vec![0i8; k * n];
    for l in 0..k {
        for j in 0..n {
            bt[j * k + l] = b.at(l, j);
        }
    }
    let mut c = vec![0i32; m * n];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rows_per = m.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (chunk_index, chunk) in c.chunks_mut((rows_per * n).max(1)).enumerate() {
            let (bt, a) = (&bt, a);
            s.spawn(move || {
                for (r, out_row) in chunk.chunks_mut(n.max(1)).enumerate() {
                    let arow = a.row(chunk_index * rows_per + r);
                    for (j, out) in out_row.iter_mut().enumerate() {
                        let bcol = &bt[j * k..(j + 1) * k];
                        *out = arow
                            .iter()
                            .zip(bcol)
                            .map(|(x, y)| i32::from(*x) * i32::from(*y))
                            .sum();
                    }
                }
            });
        }
    });
    Ok(Matrix {
        rows: m,
        cols: n,
        data: c,
    })
}
