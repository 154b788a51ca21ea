//! The CPU reference verifier through the `Verifier` trait, `.npy` I/O, and GEMM.

use proptest::prelude::*;
use taochain_work::{
    CpuVerifier, Invalid, MatmulStatement, Matrix, Verifier, WorkError, gemm, npy,
};

/// A deterministic pseudo-random int8 matrix.
fn mat(rows: usize, cols: usize, seed: u64) -> Matrix<i8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    let data = (0..rows * cols)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as i8
        })
        .collect();
    Matrix::new(rows, cols, data).expect("shape")
}

fn statement(m: usize, k: usize, n: usize, seed: u64) -> MatmulStatement {
    let (a, b) = (mat(m, k, seed), mat(k, n, seed + 1));
    let c = gemm(&a, &b).expect("gemm");
    MatmulStatement {
        a,
        b,
        c,
        seed: [seed as u8; 32],
    }
}

fn verdict(s: &MatmulStatement) -> Result<(), Invalid> {
    CpuVerifier::default().verify(s).expect("checkable")
}

#[test]
fn correct_products_are_valid_for_many_shapes() {
    for (m, k, n) in [(1, 1, 1), (3, 5, 7), (16, 64, 9), (64, 64, 64), (1, 300, 2)] {
        assert_eq!(
            verdict(&statement(m, k, n, (m * k + n) as u64)),
            Ok(()),
            "{m}x{k}x{n}"
        );
    }
}

#[test]
fn zero_dimensions_are_not_statements() {
    for (m, k, n) in [(0, 4, 3), (2, 0, 3), (2, 4, 0)] {
        let s = statement(m, k, n, 1);
        assert!(
            matches!(
                CpuVerifier::default().verify(&s),
                Err(taochain_work::WorkError::Dimension(0))
            ),
            "{m}x{k}x{n}"
        );
    }
}

#[test]
fn gemm_matches_the_naive_product() {
    let (a, b) = (mat(7, 11, 1), mat(11, 5, 2));
    let c = gemm(&a, &b).expect("gemm");
    for i in 0..7 {
        for j in 0..5 {
            let want: i32 = (0..11)
                .map(|l| i32::from(a.at(i, l)) * i32::from(b.at(l, j)))
                .sum();
            assert_eq!(c.at(i, j), want);
        }
    }
    // The extreme values: -128 * -128 summed k times.
    let a = Matrix::new(1, 4, vec![-128i8; 4]).expect("shape");
    let b = Matrix::new(4, 1, vec![-128i8; 4]).expect("shape");
    assert_eq!(gemm(&a, &b).expect("gemm").data, vec![4 * 16384]);
}

#[test]
fn adversarial_results_are_caught() {
    let good = statement(32, 48, 24, 9);
    let with = |f: &dyn Fn(&mut Vec<i32>)| {
        let mut s = good.clone();
        f(&mut s.c.data);
        verdict(&s)
    };
    assert!(matches!(
        with(&|c| c[5] += 1),
        Err(Invalid::Mismatch { row: 0, .. })
    ));
    assert!(matches!(
        with(&|c| c[24 * 7] -= 1),
        Err(Invalid::Mismatch { row: 7, .. })
    ));
    // Wrapping-sized errors: caught by the exact bound before any modular arithmetic.
    assert!(matches!(
        with(&|c| c[3] = c[3].wrapping_add(1 << 31)),
        Err(Invalid::OutOfBound { row: 0, col: 3, .. })
    ));
    assert!(matches!(
        with(&|c| c[3] = c[3].wrapping_add(i32::MAX)),
        Err(Invalid::OutOfBound { .. })
    ));
    // An error equal to the prime would vanish mod p: also out of bound.
    assert!(matches!(
        with(&|c| c[10] = c[10].wrapping_add(2_147_483_647)),
        Err(Invalid::OutOfBound { .. })
    ));
    // A whole row wrong, two entries swapped, one entry at the exact bound.
    assert!(matches!(
        with(&|c| c[24..48].iter_mut().for_each(|v| *v += 3)),
        Err(Invalid::Mismatch { row: 1, .. })
    ));
    if good.c.data[0] != good.c.data[1] {
        assert!(matches!(
            with(&|c| c.swap(0, 1)),
            Err(Invalid::Mismatch { .. })
        ));
    }
    assert!(matches!(
        with(&|c| c[0] = 48 * 16384),
        Err(Invalid::Mismatch { row: 0, .. })
    ));
    assert!(matches!(
        with(&|c| c[0] = 48 * 16384 + 1),
        Err(Invalid::OutOfBound { .. })
    ));
    // All zero.
    assert!(with(&|c| c.iter_mut().for_each(|v| *v = 0)).is_err());
}

#[test]
fn projections_do_not_depend_on_the_thread_count() {
    let s = statement(33, 17, 29, 4);
    let one = CpuVerifier::with_threads(1)
        .projections(&s)
        .expect("projections");
    let many = CpuVerifier::with_threads(5)
        .projections(&s)
        .expect("projections");
    assert_eq!(one, many);
    assert_eq!(one.abr, one.cr, "a correct product projects equally");
}

#[test]
fn bad_shapes_and_huge_k_are_input_errors() {
    let mut s = statement(4, 5, 6, 1);
    s.b = mat(6, 6, 2);
    assert!(matches!(
        CpuVerifier::default().verify(&s),
        Err(WorkError::Shape { .. })
    ));
    let a = Matrix::new(1, 65_536, vec![0i8; 65_536]).expect("shape");
    let b = Matrix::new(65_536, 1, vec![0i8; 65_536]).expect("shape");
    let c = Matrix::new(1, 1, vec![0i32]).expect("shape");
    let s = MatmulStatement {
        a,
        b,
        c,
        seed: [0; 32],
    };
    assert_eq!(
        CpuVerifier::default().verify(&s),
        Err(WorkError::KTooLarge(65_536))
    );
}

#[test]
fn npy_roundtrips_and_refuses_what_it_cannot_read() {
    let a = mat(3, 4, 5);
    let bytes = npy::encode(&a);
    assert_eq!(
        (bytes.len() - a.data.len()) % 64,
        0,
        "data starts on a 64-byte boundary"
    );
    assert_eq!(npy::parse::<i8>(&bytes).expect("parses"), a);
    let c = Matrix::new(2, 2, vec![i32::MIN, -1, 0, i32::MAX]).expect("shape");
    assert_eq!(npy::parse::<i32>(&npy::encode(&c)).expect("parses"), c);
    // What NumPy itself writes for np.zeros((2, 3), dtype=np.int8).
    let mut numpy =
        b"\x93NUMPY\x01\x00v\x00{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3), }"
            .to_vec();
    numpy.resize(10 + 0x76 - 1, b' ');
    numpy.push(b'\n');
    numpy.extend_from_slice(&[0u8; 6]);
    assert_eq!(
        npy::parse::<i8>(&numpy).expect("numpy's own header").rows,
        2
    );
    assert!(matches!(npy::parse::<i32>(&bytes), Err(WorkError::Npy(m)) if m.contains("dtype")));
    assert!(
        matches!(npy::parse::<i8>(&bytes[..bytes.len() - 1]), Err(WorkError::Npy(m)) if m.contains("needs"))
    );
    assert!(matches!(
        npy::parse::<i8>(b"not numpy at all"),
        Err(WorkError::Npy(_))
    ));
    let replace = |from: &[u8], to: &[u8]| {
        let mut b = bytes.clone();
        let at = b
            .windows(from.len())
            .position(|w| w == from)
            .expect("in header");
        b[at..at + from.len()].copy_from_slice(to);
        b
    };
    let fortran = replace(b"False", b"True ");
    let got = npy::parse::<i8>(&fortran);
    assert!(
        matches!(got, Err(WorkError::Npy(ref m)) if m.contains("C-order")),
        "{got:?}"
    );
    let three_d = replace(b"(3, 4)", b"(3,4,1");
    assert!(npy::parse::<i8>(&three_d).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_wrong_entry_within_the_bound_is_caught(
        m in 1usize..12, k in 1usize..40, n in 1usize..12, seed in 0u64..1000, pos in 0usize..1000, delta in 1i32..100_000,
    ) {
        let mut s = statement(m, k, n, seed);
        let pos = pos % s.c.data.len();
        let bound = (k as i32) * 16384;
        let new = (s.c.data[pos] + delta).clamp(-bound, bound);
        prop_assume!(new != s.c.data[pos]);
        s.c.data[pos] = new;
        prop_assert!(verdict(&s).is_err());
    }

    #[test]
    fn npy_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut with_magic = b"\x93NUMPY\x01\x00".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = npy::parse::<i8>(&bytes);
        let _ = npy::parse::<i32>(&with_magic);
    }
}

#[test]
fn the_first_out_of_bound_entry_in_row_major_order_is_reported() {
    let a = Matrix::pseudo_random(300, 8, 1);
    let b = Matrix::pseudo_random(8, 301, 2);
    let mut c = gemm(&a, &b).expect("gemm");
    // Two bad entries far apart (different scan chunks); the earlier one is named.
    c.data[250 * 301 + 7] = i32::MAX;
    c.data[40 * 301 + 300] = i32::MIN;
    let s = MatmulStatement {
        a,
        b,
        c,
        seed: [0; 32],
    };
    for threads in [1, 2, 7] {
        assert_eq!(
            CpuVerifier::with_threads(threads)
                .verify(&s)
                .expect("checks"),
            Err(Invalid::OutOfBound {
                row: 40,
                col: 300,
                value: i32::MIN
            })
        );
    }
}

/// A backend that always fails to run (a GPU whose device was lost).
struct Broken;

impl taochain_work::Verifier for Broken {
    fn name(&self) -> String {
        "broken".into()
    }
    fn projections(
        &self,
        _: &MatmulStatement,
    ) -> Result<taochain_work::Projections, taochain_work::WorkError> {
        Err(taochain_work::WorkError::Backend("device lost".into()))
    }
}

#[test]
fn a_failing_backend_falls_back_to_the_cpu_verdict() {
    let good = statement(5, 7, 3, 11);
    let mut bad = good.clone();
    bad.c.data[4] += 1;
    assert!(Broken.verify(&good).is_err(), "the backend itself fails");
    for s in [&good, &bad] {
        assert_eq!(
            taochain_work::verify_or_cpu(&Broken, s, None).expect("checkable"),
            CpuVerifier::default().verify(s).expect("checkable")
        );
    }
    // A bad statement is still an error, not a verdict.
    let mut shapeless = good.clone();
    shapeless.b.cols = 0;
    assert!(taochain_work::verify_or_cpu(&Broken, &shapeless, None).is_err());
}
