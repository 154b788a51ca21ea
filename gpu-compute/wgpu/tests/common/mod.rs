//! What the GPU integration tests share: the adapter (a missing one skips, or fails under
//! `TAOCHAIN_GPU=required`) and a consistent statement of any shape.

use taochain_wgpu::{GpuMode, GpuVerifier};
use taochain_work::{MatmulStatement, Matrix, gemm};

/// The adapter `TAOCHAIN_GPU` asks for; `None` (skip) only when it allows none.
pub fn gpu() -> Option<GpuVerifier> {
    let mode = GpuMode::from_env().expect("TAOCHAIN_GPU");
    let g = GpuVerifier::open(mode).expect("TAOCHAIN_GPU=required needs an adapter");
    if g.is_none() {
        eprintln!("no GPU adapter and TAOCHAIN_GPU != required: skipping");
    }
    g
}

/// A valid statement `C = A * B` of `m x k` times `k x n` pseudo-random matrices.
pub fn statement(m: usize, k: usize, n: usize, seed: u64) -> MatmulStatement {
    let a = Matrix::pseudo_random(m, k, seed);
    let b = Matrix::pseudo_random(k, n, seed.wrapping_add(1));
    let c = gemm(&a, &b).expect("gemm");
    MatmulStatement {
        a,
        b,
        c,
        seed: [seed as u8; 32],
    }
}
