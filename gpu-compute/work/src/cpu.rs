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
/// up to 2^25 terms is exact; k and n are far below that).
fn mat_vec2_i8(m: &Matrix<i8>, x0: &[u32], x1: &[u32], threads: usize) -> [Vec<u32>; 2] {
    par_rows(m.rows, threads, |i| {
        let (mut s0, mut s1) = (0i64, 0i64);
        for ((a, v0), v1) in m.row(i).iter().zip(x0).zip(x1) {
            let a = i64::from(*a);
            s0 += a * i64::from(*v0);
            s1 += a * i64::from(*v1);
        }
        (reduce(i128::from(s0)), reduce(i128::from(s1)))
    })
}

/// `[C x0, C x1] mod p` for an i32 matrix in one pass, in u64 arithmetic: a negative `c`
/// is `c_u - 2^32` with `c_u` its two's-complement bits and `2^32 = 2 (mod p)`, so
/// `sum c x = sum c_u x - 2 * sum_{c < 0} x`. Each `c_u * x < 2^63` is folded
/// (`2^31 = 1 mod p`) below 2^33 before it is summed, so nothing overflows for any n
/// a matrix can have.
fn mat_vec2_i32(m: &Matrix<i32>, x0: &[u32], x1: &[u32], threads: usize) -> [Vec<u32>; 2] {
    const MASK: u64 = P;
    let fold = |v: u64| (v & MASK) + (v >> 31);
    par_rows(m.rows, threads, |i| {
        let (mut s0, mut s1, mut n0, mut n1) = (0u64, 0u64, 0u64, 0u64);
        for ((c, v0), v1) in m.row(i).iter().zip(x0).zip(x1) {
            let cu = u64::from(*c as u32);
            let neg = 0u64.wrapping_sub(u64::from(*c < 0));
            let (v0, v1) = (u64::from(*v0), u64::from(*v1));
            s0 += fold(cu * v0);
            s1 += fold(cu * v1);
            n0 += v0 & neg;
            n1 += v1 & neg;
        }
        let combine = |s: u64, n: u64| ((s % P + P - (2 * (n % P)) % P) % P) as u32;
        (combine(s0, n0), combine(s1, n1))
    })
}

impl Verifier for CpuVerifier {
    fn name(&self) -> String {
        format!("cpu ({} threads)", self.threads)
    }

    fn projections(&self, s: &MatmulStatement) -> Result<Projections, WorkError> {
        check_shapes(s)?;
        let r = random_vectors(&s.seed, s.b.cols);
        let [br0, br1] = mat_vec2_i8(&s.b, &r[0], &r[1], self.threads);
        let [a0, a1] = mat_vec2_i8(&s.a, &br0, &br1, self.threads);
        let [c0, c1] = mat_vec2_i32(&s.c, &r[0], &r[1], self.threads);
        Ok(Projections {
            abr: vec![a0, a1],
            cr: vec![c0, c1],
        })
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
