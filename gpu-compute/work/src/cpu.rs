//! The CPU reference: projections mod p with exact integer arithmetic, rows split across
//! threads (each row is independent, so the result does not depend on the split), and a
//! cache-friendly GEMM for miners without a GPU.

use crate::{
    Invalid, MatmulStatement, Matrix, P, Projections, VECTORS, Verifier, WorkError, check_shapes,
    random_entry,
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

/// [`crate::random_vectors`], entries split into contiguous ranges across threads (each
/// entry is its own hash, so the split cannot change a value).
fn par_random_vectors(seed: &[u8; 32], n: usize, threads: usize) -> Vec<Vec<u32>> {
    (0..VECTORS)
        .map(|v| {
            let mut out = vec![0u32; n];
            let chunk = n.div_ceil(threads.max(1)).max(1);
            std::thread::scope(|s| {
                for (c, slice) in out.chunks_mut(chunk).enumerate() {
                    s.spawn(move || {
                        for (o, x) in slice.iter_mut().enumerate() {
                            *x = random_entry(seed, v, c * chunk + o);
                        }
                    });
                }
            });
            out
        })
        .collect()
}

/// `[M x0, M x1] mod p` for an int8 matrix in one pass (products < 2^38, so an i64 sum of
/// up to 2^25 terms is exact; k and n are far below that). The portable reference; on
/// x86-64 with AVX2 [`simd::Limbs::i8_row`] computes the same residues faster.
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
/// the same pass so C is read once). The portable reference of [`simd::Offset::i32_row`].
fn i32_row(row: &[i32], x0: &[u32], x1: &[u32], bound: Option<i32>) -> (u32, u32, bool) {
    let fold = |v: u64| (v & P) + (v >> 31);
    let (mut s, mut neg_x, mut out) = ([0u64; 2], [0u64; 2], false);
    let b = bound.unwrap_or(i32::MAX);
    for ((c, v0), v1) in row.iter().zip(x0).zip(x1) {
        let cu = u64::from(*c as u32);
        let neg = 0u64.wrapping_sub(u64::from(*c < 0));
        let (v0, v1) = (u64::from(*v0), u64::from(*v1));
        s[0] += fold(cu * v0);
        s[1] += fold(cu * v1);
        neg_x[0] += v0 & neg;
        neg_x[1] += v1 & neg;
        out |= (*c > b) | (*c < -b);
    }
    let combine = |s: u64, n: u64| ((s % P + P - (2 * (n % P)) % P) % P) as u32;
    (
        combine(s[0], neg_x[0]),
        combine(s[1], neg_x[1]),
        out && bound.is_some(),
    )
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
    let offset = simd::Offset::new(x0, x1);
    let p = par_rows(m.rows, threads, |i| {
        let (a, b, out) = match &offset {
            Some(o) => o.i32_row(m.row(i), bound),
            None => i32_row(m.row(i), x0, x1, bound),
        };
        if out {
            flags.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        (a, b)
    });
    (p, flags.into_inner())
}

mod simd {
    //! The same sums on wider vectors, chosen at run time: on x86-64 with AVX2 the int8
    //! projection multiplies 16 entries at a time with `vpmaddwd` against each vector entry
    //! split into two signed 16-bit limbs, and the i32 projection runs four u64 lanes of
    //! `vpmuludq` against C offset into unsigned range. Both prefetch the matrix a few KiB
    //! ahead: the hardware prefetcher alone left the i32 pass at a fifth of the memory's
    //! speed. Every other CPU runs the portable code. The projections are the same residues
    //! mod p either way (tested against the portable code, extremes included).
    #![allow(unsafe_code)]

    use crate::P;

    /// How far ahead of the current entry the kernels prefetch, in bytes.
    #[cfg(target_arch = "x86_64")]
    const PREFETCH_BYTES: usize = 4096;

    /// `x mod p` as the representative of least magnitude: `|centred(x)| <= (p - 1) / 2
    /// < 2^30`.
    fn centred(x: u32) -> i32 {
        let r = u64::from(x) % P;
        (if r > P / 2 {
            r as i64 - P as i64
        } else {
            r as i64
        }) as i32
    }

    /// `c = lo + hi * 2^16` with `lo` in `[-2^15, 2^15)` and, for `|c| < 2^30`,
    /// `|hi| <= 2^14`: both fit an i16.
    fn limbs16(c: i32) -> (i16, i16) {
        let lo = ((c + 0x8000) & 0xFFFF) - 0x8000;
        (lo as i16, ((c - lo) >> 16) as i16)
    }

    /// A pair of vectors as the int8 kernel reads them.
    pub struct Limbs {
        /// `limbs[v][l][j]`: limb `l` of the centred entry `j` of vector `v`, so that
        /// `x_j = limbs[v][0][j] + limbs[v][1][j] * 2^16 (mod p)`.
        limbs: [[Vec<i16>; 2]; 2],
        /// The centred entries, for a row's tail.
        centred: [Vec<i32>; 2],
    }

    impl Limbs {
        /// The limbs of `x0` and `x1`; `None` when the CPU lacks AVX2.
        pub fn new(x0: &[u32], x1: &[u32]) -> Option<Self> {
            if !avx2() {
                return None;
            }
            let centre = |x: &[u32]| -> Vec<i32> { x.iter().map(|v| centred(*v)).collect() };
            let centred = [centre(x0), centre(x1)];
            let split = |c: &[i32]| -> [Vec<i16>; 2] {
                [
                    c.iter().map(|v| limbs16(*v).0).collect(),
                    c.iter().map(|v| limbs16(*v).1).collect(),
                ]
            };
            Some(Limbs {
                limbs: [split(&centred[0]), split(&centred[1])],
                centred,
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
                let sum = |v: usize| -> i64 {
                    row.iter()
                        .zip(&self.centred[v])
                        .map(|(a, x)| i64::from(*a) * i64::from(*x))
                        .sum()
                };
                (reduce(sum(0)), reduce(sum(1)))
            }
        }
    }

    /// A pair of vectors as the i32 kernel reads them: reduced mod p, with their sums.
    ///
    /// With `c' = c + 2^31` (C's sign bit flipped, an unsigned 32-bit value),
    /// `sum c x = sum c' x - 2^31 sum x = sum c' x - sum x (mod p)` since `2^31 = 1 mod p`:
    /// one product per entry and no separate sum for negative entries.
    pub struct Offset {
        x: [Vec<u32>; 2],
        sum: [u64; 2],
    }

    impl Offset {
        /// The prepared vectors; `None` when the CPU lacks AVX2.
        pub fn new(x0: &[u32], x1: &[u32]) -> Option<Self> {
            if !avx2() {
                return None;
            }
            let reduced =
                |x: &[u32]| -> Vec<u32> { x.iter().map(|v| (u64::from(*v) % P) as u32).collect() };
            let x = [reduced(x0), reduced(x1)];
            let sum = [0, 1].map(|v| x[v].iter().map(|e| u64::from(*e)).sum::<u64>() % P);
            Some(Offset { x, sum })
        }

        /// [`super::i32_row`]'s result for `row`.
        pub fn i32_row(&self, row: &[i32], bound: Option<i32>) -> (u32, u32, bool) {
            #[cfg(target_arch = "x86_64")]
            {
                // SAFETY: `Offset` exists only when the CPU has AVX2 (`new`).
                unsafe { avx2_kernels::i32_row(row, self, bound) }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                super::i32_row(row, &self.x[0], &self.x[1], bound)
            }
        }

        /// The row's result from its offset sums (`s[v] = sum c' x`, any multiple of p
        /// apart) and its least and greatest entries.
        fn finish(&self, s: [u64; 2], min: i32, max: i32, bound: Option<i32>) -> (u32, u32, bool) {
            let r = |v: usize| ((s[v] % P + P - self.sum[v]) % P) as u32;
            let out = bound.is_some_and(|b| max > b || min < -b);
            (r(0), r(1), out)
        }
    }

    /// `x mod p` for an exact i64 sum.
    fn reduce(x: i64) -> u32 {
        super::reduce(i128::from(x))
    }

    #[cfg(target_arch = "x86_64")]
    mod avx2_kernels {
        use std::arch::x86_64::*;

        use super::{Limbs, Offset, PREFETCH_BYTES, reduce};
        use crate::P;

        /// 16-entry steps between widenings: each i32 lane gains at most
        /// `2 * 128 * 2^15 = 2^23` per step, so 128 steps stay below 2^30.
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

        /// The 8 i32 lanes of `v`.
        #[target_feature(enable = "avx2")]
        fn lanes_i32(v: __m256i) -> [i32; 8] {
            let mut lanes = [0i32; 8];
            // SAFETY: as in `hsum_i32`.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
            lanes
        }

        /// Asks for the cache line `bytes` past `p`; a hint, so an address past the end
        /// of the matrix is harmless (no access is made).
        #[target_feature(enable = "avx2")]
        fn prefetch<T>(p: *const T, bytes: usize) {
            _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>().wrapping_add(bytes));
        }

        /// `sum a x` for both vectors, mod p: `sum a lo + 2^16 sum a hi` over the limbs
        /// (the same residue as the exact sum).
        #[allow(clippy::needless_range_loop)] // vector v, limb k: indices name them
        #[target_feature(enable = "avx2")]
        pub fn i8_row(row: &[i8], l: &Limbs) -> (u32, u32) {
            let n = row.len().min(l.centred[0].len()).min(l.centred[1].len());
            let full = n / 16 * 16;
            let mut total = [[0i64; 2]; 2];
            let mut j = 0;
            while j < full {
                let stop = (j + 16 * STEPS).min(full);
                let mut acc = [[_mm256_setzero_si256(); 2]; 2];
                while j < stop {
                    prefetch(row.as_ptr().wrapping_add(j), PREFETCH_BYTES);
                    // SAFETY: j + 16 <= full <= n <= every slice's length.
                    let a = unsafe {
                        _mm256_cvtepi8_epi16(_mm_loadu_si128(row.as_ptr().add(j).cast()))
                    };
                    for v in 0..2 {
                        for k in 0..2 {
                            // SAFETY: as above; each limb vector has the entries' length.
                            let x =
                                unsafe { _mm256_loadu_si256(l.limbs[v][k].as_ptr().add(j).cast()) };
                            acc[v][k] = _mm256_add_epi32(acc[v][k], _mm256_madd_epi16(a, x));
                        }
                    }
                    j += 16;
                }
                for v in 0..2 {
                    for k in 0..2 {
                        total[v][k] += hsum_i32(acc[v][k]);
                    }
                }
            }
            let mut sums = [0i64; 2];
            for v in 0..2 {
                sums[v] = total[v][0] + (total[v][1] << 16);
                for (a, x) in row[full..n].iter().zip(&l.centred[v][full..n]) {
                    sums[v] += i64::from(*a) * i64::from(*x);
                }
            }
            (reduce(sums[0]), reduce(sums[1]))
        }

        /// `sum c' x` for both vectors, eight entries at a time: the products of the even
        /// and of the odd 32-bit lanes in u64 lanes (`vpmuludq` reads the low half of
        /// each; `c' < 2^32` and `x < 2^31`, so even + odd < 2^64), folded below 2^34
        /// (`2^31 = 1 mod p`) before they are summed; the least and greatest entries in
        /// i32 lanes for the bound.
        #[target_feature(enable = "avx2")]
        pub fn i32_row(row: &[i32], o: &Offset, bound: Option<i32>) -> (u32, u32, bool) {
            let (x0, x1) = (&o.x[0], &o.x[1]);
            let n = row.len().min(x0.len()).min(x1.len());
            let full = n / 8 * 8;
            let mask = _mm256_set1_epi64x(P as i64);
            let sign = _mm256_set1_epi32(i32::MIN);
            let fold = |p: __m256i| {
                _mm256_add_epi64(_mm256_and_si256(p, mask), _mm256_srli_epi64::<31>(p))
            };
            let (mut s0, mut s1) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            let mut hi = _mm256_set1_epi32(i32::MIN);
            let mut lo = _mm256_set1_epi32(i32::MAX);
            let mut j = 0;
            while j < full {
                prefetch(row.as_ptr().wrapping_add(j), PREFETCH_BYTES);
                // SAFETY: j + 8 <= full <= n <= every slice's length.
                let (c, v0, v1) = unsafe {
                    (
                        _mm256_loadu_si256(row.as_ptr().add(j).cast()),
                        _mm256_loadu_si256(x0.as_ptr().add(j).cast()),
                        _mm256_loadu_si256(x1.as_ptr().add(j).cast()),
                    )
                };
                hi = _mm256_max_epi32(hi, c);
                lo = _mm256_min_epi32(lo, c);
                let c_even = _mm256_xor_si256(c, sign);
                let c_odd = _mm256_srli_epi64::<32>(c_even);
                let products = |v: __m256i| {
                    fold(_mm256_add_epi64(
                        _mm256_mul_epu32(c_even, v),
                        _mm256_mul_epu32(c_odd, _mm256_srli_epi64::<32>(v)),
                    ))
                };
                s0 = _mm256_add_epi64(s0, products(v0));
                s1 = _mm256_add_epi64(s1, products(v1));
                j += 8;
            }
            let mut s = [hsum_u64(s0), hsum_u64(s1)];
            let mut max = lanes_i32(hi).into_iter().max().unwrap_or(i32::MIN);
            let mut min = lanes_i32(lo).into_iter().min().unwrap_or(i32::MAX);
            for (k, c) in row[full..n].iter().enumerate() {
                let c_off = u64::from(*c as u32 ^ 0x8000_0000);
                for (v, x) in [x0, x1].into_iter().enumerate() {
                    let p = c_off * u64::from(x[full + k]);
                    s[v] += (p & P) + (p >> 31);
                }
                max = max.max(*c);
                min = min.min(*c);
            }
            o.finish(s, min, max, bound)
        }
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
        use super::super::{i8_row_scalar, i32_row as portable_i32_row};
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
        fn the_simd_kernels_give_the_portable_residues() {
            if !avx2() {
                eprintln!("no AVX2 on this CPU: only the portable kernels run");
                return;
            }
            let p = crate::P as u32;
            // Vector entries at the limbs' extremes: centred -2^30 + 2^15 (low limb -2^15,
            // high limb -2^14 + 1), (p - 1) / 2 (high limb 2^14), 2^15 (low limb -2^15),
            // p - 1 and 0; and entries at or past p, which are reduced first.
            let extremes = [
                (1 << 30) + 32767,
                (p - 1) / 2,
                (p - 1) / 2 + 1,
                32768,
                p - 1,
                0,
                p,
                p + 1,
                u32::MAX,
            ];
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
                // Extremes (-128, 127), then random entries.
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
                            extremes[(j / 3) % extremes.len()]
                        } else {
                            (r() % u64::from(p)) as u32
                        }
                    })
                    .collect();
                let x1: Vec<u32> = (0..n)
                    .map(|j| {
                        if j % 5 == 0 {
                            extremes[(j / 5 + 4) % extremes.len()]
                        } else {
                            (r() % u64::from(p)) as u32
                        }
                    })
                    .collect();
                let limbs = Limbs::new(&x0, &x1).expect("avx2");
                assert_eq!(limbs.i8_row(&row), i8_row_scalar(&row, &x0, &x1), "n {n}");
                for x in extremes {
                    let worst = vec![-128i8; n];
                    let same = vec![x; n];
                    let limbs = Limbs::new(&same, &same).expect("avx2");
                    assert_eq!(
                        limbs.i8_row(&worst),
                        i8_row_scalar(&worst, &same, &same),
                        "n {n} x {x}"
                    );
                }
                let c: Vec<i32> = (0..n)
                    .map(|j| match j % 4 {
                        0 => i32::MIN,
                        1 => i32::MAX,
                        _ => r() as i32,
                    })
                    .collect();
                let offset = Offset::new(&x0, &x1).expect("avx2");
                for bound in [None, Some(1 << 20), Some(i32::MAX - 1), Some(i32::MAX)] {
                    assert_eq!(
                        offset.i32_row(&c, bound),
                        portable_i32_row(&c, &x0, &x1, bound),
                        "n {n} bound {bound:?}"
                    );
                }
                // One entry just out of bound, at each end of the row (the last one is in
                // the scalar tail when n is not a multiple of 8).
                for (at, value) in [(n - 1, (1 << 20) + 1), (0, -(1 << 20) - 1)] {
                    let mut spike = vec![7i32; n];
                    spike[at] = value;
                    let got = offset.i32_row(&spike, Some(1 << 20));
                    assert!(got.2, "n {n}: {value} at {at} is out of bound");
                    assert_eq!(got, portable_i32_row(&spike, &x0, &x1, Some(1 << 20)));
                }
                let small: Vec<i32> = c.iter().map(|v| v >> 12).collect();
                for bound in [Some(1 << 20), Some((1 << 19) - 1)] {
                    assert_eq!(
                        offset.i32_row(&small, bound),
                        portable_i32_row(&small, &x0, &x1, bound),
                        "n {n} bound {bound:?}"
                    );
                }
            }
            // Every limb at its largest magnitude against -128 and 127: the i32 lanes'
            // worst case, over more entries than one widening step allows (an i32
            // overflow shows).
            for a in [-128i8, 127] {
                let wide = vec![a; 8192];
                for x in extremes {
                    let same = vec![x; 8192];
                    let limbs = Limbs::new(&same, &same).expect("avx2");
                    assert_eq!(limbs.i8_row(&wide), i8_row_scalar(&wide, &same, &same));
                }
            }
            // C's extremes against the vectors' extremes, over a whole row of each.
            for c in [i32::MIN, i32::MAX, -1, 0, 1] {
                let row = vec![c; 8195];
                for x in extremes {
                    let same = vec![x; 8195];
                    let offset = Offset::new(&same, &same).expect("avx2");
                    assert_eq!(
                        offset.i32_row(&row, Some(1 << 30)),
                        portable_i32_row(&row, &same, &same, Some(1 << 30)),
                        "c {c} x {x}"
                    );
                }
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
        let r = par_random_vectors(&s.seed, s.b.cols, self.threads);
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
