//! `tao gemm` and `tao verify matmul` on real .npy files: exit codes and messages.

use std::process::Command;

use taochain_work::{Matrix, npy};

fn tao(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tao"))
        .args(args)
        .output()
        .expect("tao runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn gemm_then_verify_with_every_exit_code() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let a = Matrix::new(8, 16, (0..128).map(|i| (i * 7 % 255) as i8).collect()).expect("shape");
    let b = Matrix::new(16, 4, (0..64).map(|i| (i * 13 % 251) as i8).collect()).expect("shape");
    npy::write(dir.path().join("a.npy").as_path(), &a).expect("write");
    npy::write(dir.path().join("b.npy").as_path(), &b).expect("write");
    let (code, out) = tao(&[
        "gemm",
        "--a",
        &p("a.npy"),
        "--b",
        &p("b.npy"),
        "--out",
        &p("c.npy"),
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = tao(&[
        "verify",
        "matmul",
        "--a",
        &p("a.npy"),
        "--b",
        &p("b.npy"),
        "--c",
        &p("c.npy"),
        "--backend",
        "cpu",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("VALID") && out.contains("backend: cpu"),
        "{out}"
    );

    let mut c: Matrix<i32> = npy::read(dir.path().join("c.npy").as_path()).expect("read");
    c.data[5] += 1;
    npy::write(dir.path().join("bad.npy").as_path(), &c).expect("write");
    let (code, out) = tao(&[
        "verify",
        "matmul",
        "--a",
        &p("a.npy"),
        "--b",
        &p("b.npy"),
        "--c",
        &p("bad.npy"),
        "--seed",
        &"ab".repeat(32),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("INVALID: Freivalds check"), "{out}");

    let (pa, pb) = (p("a.npy"), p("b.npy"));
    for (args, why) in [
        (vec!["--c", p("missing.npy").as_str()], "No such file"),
        (vec!["--c", &p("a.npy")], "dtype"),
        (vec!["--c", &p("c.npy"), "--seed", "zz"], "32 bytes"),
    ] {
        let mut full = vec!["verify", "matmul", "--a", pa.as_str(), "--b", pb.as_str()];
        full.extend(args.iter().copied());
        let (code, out) = tao(&full);
        assert_eq!(code, 2, "{full:?}: {out}");
        assert!(out.contains(why), "{full:?}: {out}");
    }
    // The wgpu backend (lavapipe in CI, where TAOCHAIN_GPU=required): the same verdicts.
    if std::env::var("TAOCHAIN_GPU").as_deref() == Ok("required") {
        for (c, code, start) in [
            ("c.npy", 0, "VALID"),
            ("bad.npy", 1, "INVALID: Freivalds check"),
        ] {
            let (got, out) = tao(&[
                "verify",
                "matmul",
                "--a",
                &pa,
                "--b",
                &pb,
                "--c",
                &p(c),
                "--seed",
                &"ab".repeat(32),
                "--backend",
                "gpu",
            ]);
            assert_eq!(got, code, "{out}");
            assert!(
                out.starts_with(start) && out.contains("backend: wgpu"),
                "{out}"
            );
        }
        let (code, out) = tao(&[
            "gemm",
            "--a",
            &pa,
            "--b",
            &pb,
            "--out",
            &p("c_gpu.npy"),
            "--backend",
            "gpu",
        ]);
        assert_eq!(code, 0, "{out}");
        let gpu: Matrix<i32> = npy::read(dir.path().join("c_gpu.npy").as_path()).expect("read");
        let cpu: Matrix<i32> = npy::read(dir.path().join("c.npy").as_path()).expect("read");
        assert_eq!(gpu, cpu);
    }
    let (code, out) = tao(&[
        "verify",
        "matmul",
        "--a",
        &p("b.npy"),
        "--b",
        &p("b.npy"),
        "--c",
        &p("c.npy"),
    ]);
    assert_eq!(code, 2, "shape mismatch is bad input: {out}");
    assert!(out.contains("shape mismatch"), "{out}");
}

/// A `.npy` header declaring `shape`, with `data` bytes after it.
fn npy_with(descr: &str, shape: &str, data: usize) -> Vec<u8> {
    let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.resize(out.len() + data, 0);
    out
}

#[test]
fn statements_beyond_the_limits_are_refused_before_any_data_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path.to_string_lossy().into_owned()
    };
    let ok_a = write("a.npy", npy_with("|i1", "(2, 2)", 4));
    let ok_b = write("b.npy", npy_with("|i1", "(2, 2)", 4));
    let cases = [
        // The reproduction: 2^62 rows and no data (overflowed the size arithmetic).
        (
            ok_a.clone(),
            ok_b.clone(),
            write("huge.npy", npy_with("<i4", "(4611686018427387904, 1)", 0)),
            "dimension must be 1 to",
        ),
        // Zero dimensions, and a 2^40-wide B and C with no data.
        (
            write("a00.npy", npy_with("|i1", "(0, 0)", 0)),
            write("b0.npy", npy_with("|i1", "(0, 1099511627776)", 0)),
            write("c0.npy", npy_with("<i4", "(0, 1099511627776)", 0)),
            "dimension must be 1 to",
        ),
        // A shape whose data is missing.
        (
            ok_a.clone(),
            ok_b.clone(),
            write("short.npy", npy_with("<i4", "(2, 2)", 3)),
            "needs 16",
        ),
        // Shapes that do not chain.
        (
            ok_a.clone(),
            write("b3.npy", npy_with("|i1", "(3, 2)", 6)),
            write("c2.npy", npy_with("<i4", "(2, 2)", 16)),
            "shape mismatch",
        ),
    ];
    for (a, b, c, why) in cases {
        let (code, out) = tao(&["verify", "matmul", "--a", &a, "--b", &b, "--c", &c]);
        assert_eq!(code, 2, "{out}");
        assert!(out.contains(why), "expected `{why}`:\n{out}");
    }
    // tao gemm: a product too large to hold is refused before it is computed (65535 x 65535
    // int32 is 16 GiB; A and B are only 64 KiB each).
    let tall = write("tall.npy", npy_with("|i1", "(65535, 1)", 65_535));
    let wide = write("wide.npy", npy_with("|i1", "(1, 65535)", 65_535));
    let out_path = dir.path().join("c.npy");
    let (code, out) = tao(&[
        "gemm",
        "--a",
        &tall,
        "--b",
        &wide,
        "--out",
        &out_path.to_string_lossy(),
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("above the limit"), "{out}");
    assert!(!out_path.exists());
}
