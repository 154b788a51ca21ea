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
