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
fn par_rows(rows: usize, threads: usize, f: impl Fn(usize) -> u32 + Sync) -> Vec<u32> {
    let mut out = vec![0u32; rows];
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
    out
}

/// `M v mod p` for an int8 matrix (products < 2^38, so an i64 sum of up to 2^25 terms is
/// exact; k and n are far below that).
fn mat_vec_i8(m: &Matrix<i8>, v: &[u32], threads: usize) -> Vec<u32> {
    par_rows(m.rows, threads, |i| {
        let sum: i64 = m
            .row(i)
            .iter()
            .zip(v)
            .map(|(a, x)| i64::from(*a) * i64::from(*x))
            .sum();
        reduce(i128::from(sum))
    })
}

impl Verifier for CpuVerifier {
    fn name(&self) -> String {
        format!("cpu ({} threads)", self.threads)
    }

    fn projections(&self, s: &MatmulStatement) -> Result<Projections, WorkError> {
        check_shapes(s)?;
        let vectors = random_vectors(&s.seed, s.b.cols);
        let mut abr = vec![];
        let mut cr = vec![];
        for r in &vectors {
            let br = mat_vec_i8(&s.b, r, self.threads);
            abr.push(mat_vec_i8(&s.a, &br, self.threads));
            cr.push(par_rows(s.c.rows, self.threads, |i| {
                // |C_ij * r_j| < 2^62: accumulate in i128.
                let sum: i128 =
                    s.c.row(i)
                        .iter()
                        .zip(r)
                        .map(|(c, x)| i128::from(*c) * i128::from(*x))
                        .sum();
                reduce(sum)
            }));
        }
        Ok(Projections { abr, cr })
    }
}

/// The first `C_ij` outside `[-k*128*128, k*128*128]`, in row-major order.
pub fn first_out_of_bound(s: &MatmulStatement) -> Option<Invalid> {
    let bound = (s.a.cols as i64) * 128 * 128;
    s.c.data
        .iter()
        .position(|v| i64::from(*v).abs() > bound)
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
