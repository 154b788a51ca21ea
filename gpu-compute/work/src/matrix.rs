//! A dense row-major matrix.

/// `rows x cols` values, row-major (C order, as `.npy` stores them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix<T> {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows * cols` values.
    pub data: Vec<T>,
}

impl<T: Copy> Matrix<T> {
    /// A matrix from row-major data; `None` if the length does not match.
    pub fn new(rows: usize, cols: usize, data: Vec<T>) -> Option<Self> {
        (rows.checked_mul(cols)? == data.len()).then_some(Matrix { rows, cols, data })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Entry `(i, j)`.
    pub fn at(&self, i: usize, j: usize) -> T {
        self.data[i * self.cols + j]
    }
}

impl Matrix<i8> {
    /// A reproducible pseudo-random int8 matrix (xorshift64 from `seed`), for benchmarks,
    /// tests and demo jobs. Not for anything that needs unpredictability.
    pub fn pseudo_random(rows: usize, cols: usize, seed: u64) -> Self {
        let mut x = seed | 1;
        let data = (0..rows * cols)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as i8
            })
            .collect();
        Matrix { rows, cols, data }
    }
}
