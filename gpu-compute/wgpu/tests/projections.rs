//! The GPU backend against the CPU reference on a real adapter (lavapipe on machines
//! without a GPU): identical projections and verdicts on random, adversarial and edge-case
//! statements, also when matrices are streamed in many chunks. With `TAOCHAIN_GPU=required`
//! (what `scripts/test.sh` sets) a missing adapter fails these tests instead of skipping.

use proptest::prelude::*;
mod common;

use common::{gpu, statement};
use taochain_wgpu::GpuVerifier;
use taochain_work::{CpuVerifier, MatmulStatement, Matrix, Verifier, gemm};

/// Same projections and same verdict as the CPU.
fn agree(g: &GpuVerifier, s: &MatmulStatement) {
    let cpu = CpuVerifier::default();
    assert_eq!(
        g.projections(s).expect("gpu"),
        cpu.projections(s).expect("cpu"),
        "{}x{}x{}",
        s.a.rows,
        s.a.cols,
        s.b.cols
    );
    assert_eq!(g.verify(s).expect("gpu"), cpu.verify(s).expect("cpu"));
}

#[test]
fn adversarial_and_edge_cases_match_the_cpu_bit_for_bit() {
    let Some(g) = gpu() else { return };
    let p = taochain_work::P as i64;
    let base = statement(67, 45, 131, 7);
    let mut cases: Vec<MatmulStatement> = vec![base.clone()];
    let tweak = |f: &dyn Fn(&mut Matrix<i32>)| {
        let mut s = base.clone();
        f(&mut s.c);
        s
    };
    cases.push(tweak(&|c| c.data[5] += 1));
    cases.push(tweak(&|c| c.data[17] = c.data[17].wrapping_add(1 << 31)));
    cases.push(tweak(&|c| {
        c.data[17] = c.data[17].wrapping_add((1u32 << 31) as i32)
    }));
    cases.push(tweak(&|c| c.data[3] = (c.data[3] as i64 + p) as i32));
    cases.push(tweak(&|c| {
        let row: Vec<i32> = c.row(1).to_vec();
        let n = c.cols;
        c.data[..n].copy_from_slice(&row);
    }));
    cases.push(tweak(&|c| c.data[0] = i32::MIN));
    cases.push(tweak(&|c| c.data[9] = i32::MAX));
    // A * B^T (square), all zero, 1x1, k = 1, and the largest k the bound allows.
    let sq = statement(33, 33, 33, 3);
    let mut bt = sq.clone();
    bt.c = gemm(
        &sq.a,
        &Matrix::new(
            33,
            33,
            (0..33 * 33).map(|i| sq.b.at(i % 33, i / 33)).collect(),
        )
        .expect("bt"),
    )
    .expect("gemm");
    cases.push(bt);
    let zero = MatmulStatement {
        a: Matrix::new(3, 4, vec![0; 12]).expect("a"),
        b: Matrix::new(4, 5, vec![0; 20]).expect("b"),
        c: Matrix::new(3, 5, vec![0; 15]).expect("c"),
        seed: [1; 32],
    };
    cases.push(zero);
    cases.push(statement(1, 1, 1, 11));
    cases.push(statement(5, 1, 300, 12));
    let mut max_k = statement(2, taochain_work::MAX_K, 2, 13);
    max_k.a.data.iter_mut().for_each(|v| *v = -128);
    max_k.b.data.iter_mut().for_each(|v| *v = -128);
    max_k.c = gemm(&max_k.a, &max_k.b).expect("gemm");
    cases.push(max_k.clone());
    let mut beyond = max_k;
    beyond.c.data[0] += 1;
    cases.push(beyond);
    for s in &cases {
        agree(&g, s);
    }
    // The verdicts themselves: the honest ones pass, every tweak fails.
    assert!(g.verify(&cases[0]).expect("v").is_ok());
    for s in &cases[1..8] {
        assert!(g.verify(s).expect("v").is_err());
    }
}

#[test]
fn many_small_chunks_and_non_multiple_sizes() {
    let Some(g) = gpu() else { return };
    // 257 rows of 300 int8 / 1200 i32 bytes in 4 KiB chunks: many dispatches and partial
    // last chunks, rows that are not multiples of the 256-thread workgroup.
    let g = g.with_chunk_bytes(4096);
    agree(&g, &statement(257, 300, 300, 21));
    let mut bad = statement(129, 77, 300, 22);
    bad.c.data[128 * 300 + 299] -= 1;
    agree(&g, &bad);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn random_statements_agree(m in 1usize..70, k in 1usize..70, n in 1usize..70, seed in any::<u64>(), flip in any::<bool>()) {
        let Some(g) = gpu() else { return Ok(()) };
        let mut s = statement(m, k, n, seed);
        if flip {
            let i = (seed as usize) % s.c.data.len();
            s.c.data[i] = s.c.data[i].wrapping_add(1 + (seed % 1000) as i32);
        }
        agree(&g, &s);
    }
}

#[test]
fn gpu_gemm_equals_the_cpu_gemm() {
    let Some(g) = gpu() else { return };
    for (m, k, n, seed) in [(1, 1, 1, 1u64), (17, 33, 65, 2), (64, 300, 31, 3)] {
        let s = statement(m, k, n, seed);
        assert_eq!(g.gemm(&s.a, &s.b).expect("gpu gemm"), s.c, "{m}x{k}x{n}");
    }
    // Extremes (-128 * -128 summed over k) and many row chunks.
    let g = g.with_chunk_bytes(2048);
    let mut s = statement(40, 200, 9, 4);
    s.a.data.iter_mut().for_each(|v| *v = -128);
    s.c = gemm(&s.a, &s.b).expect("gemm");
    assert_eq!(g.gemm(&s.a, &s.b).expect("gpu gemm"), s.c);
}
