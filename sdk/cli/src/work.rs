//! `tao verify matmul`, `tao gemm` and `tao bench verify`: useful work from the command
//! line, with `.npy` files. The CPU reference backend is built; the wgpu backend is not yet
//! (asking for it is a usage error that says so).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use taochain_work::{CpuVerifier, MatmulStatement, Matrix, Verifier, gemm, npy};

use crate::Ctx;
use crate::output::emit;

/// Which verifier backend.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The best available (today: the CPU reference).
    Auto,
    /// wgpu compute shaders (not built yet).
    Gpu,
    /// The multi-threaded CPU reference.
    Cpu,
}

/// `tao verify ...`.
#[derive(Subcommand)]
pub enum VerifyCmd {
    /// Check C = A * B with Freivalds' algorithm. Exit 0 VALID, 1 INVALID, 2 bad input.
    Matmul {
        /// A (m x k, int8 .npy).
        #[arg(long)]
        a: PathBuf,
        /// B (k x n, int8 .npy).
        #[arg(long)]
        b: PathBuf,
        /// C (m x n, int32 .npy).
        #[arg(long)]
        c: PathBuf,
        /// 32-byte seed in hex (default: all zeros; on chain, the block hash).
        #[arg(long)]
        seed: Option<String>,
        /// Backend.
        #[arg(long, value_enum, default_value_t = Backend::Auto)]
        backend: Backend,
    },
}

fn usage(e: impl std::fmt::Display) -> ! {
    eprintln!("bad input: {e}");
    std::process::exit(2)
}

fn verifier(backend: Backend) -> CpuVerifier {
    if backend == Backend::Gpu {
        usage("the wgpu backend is not built yet (gpu-compute/wgpu); use --backend cpu");
    }
    CpuVerifier::default()
}

fn read<T: npy::Element>(path: &Path) -> Matrix<T> {
    npy::read(path).unwrap_or_else(|e| usage(e))
}

/// Runs `tao verify`.
pub fn run_verify(ctx: &Ctx, cmd: VerifyCmd) -> anyhow::Result<()> {
    let VerifyCmd::Matmul {
        a,
        b,
        c,
        seed,
        backend,
    } = cmd;
    let verifier = verifier(backend);
    let seed = match seed {
        None => [0u8; 32],
        Some(h) => hex::decode(h.trim_start_matches("0x"))
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .unwrap_or_else(|| usage("--seed must be 32 bytes of hex")),
    };
    let s = MatmulStatement {
        a: read(&a),
        b: read(&b),
        c: read(&c),
        seed,
    };
    let t = Instant::now();
    let verdict = verifier.verify(&s).unwrap_or_else(|e| usage(e));
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let json = serde_json::json!({
        "valid": verdict.is_ok(), "reason": verdict.as_ref().err().map(ToString::to_string),
        "backend": verifier.name(), "ms": ms,
    });
    emit(ctx.output, &json, || match &verdict {
        Ok(()) => format!("VALID\nbackend: {}\ntime: {ms:.3} ms", verifier.name()),
        Err(why) => format!(
            "INVALID: {why}\nbackend: {}\ntime: {ms:.3} ms",
            verifier.name()
        ),
    })?;
    if verdict.is_err() {
        std::process::exit(1);
    }
    Ok(())
}

/// `tao gemm`: C = A * B to a `.npy`.
pub fn run_gemm(ctx: &Ctx, a: &Path, b: &Path, out: &Path, backend: Backend) -> anyhow::Result<()> {
    let _ = verifier(backend);
    let (a, b): (Matrix<i8>, Matrix<i8>) = (read(a), read(b));
    let t = Instant::now();
    let c = gemm(&a, &b).unwrap_or_else(|e| usage(e));
    let ms = t.elapsed().as_secs_f64() * 1e3;
    npy::write(out, &c)?;
    emit(
        ctx.output,
        &serde_json::json!({"out": out, "rows": c.rows, "cols": c.cols, "ms": ms, "backend": "cpu"}),
        || {
            format!(
                "wrote {} ({}x{} int32) in {ms:.1} ms on the cpu",
                out.display(),
                c.rows,
                c.cols
            )
        },
    )
}

/// `tao bench verify --n N`: verification vs recomputation on the CPU, and the memory
/// roofline (a plain copy of the same bytes).
pub fn bench_verify(ctx: &Ctx, n: usize) -> anyhow::Result<()> {
    let random = |seed: u64| {
        let mut x = seed | 1;
        let data: Vec<i8> = (0..n * n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as i8
            })
            .collect();
        Matrix::new(n, n, data).ok_or_else(|| anyhow::anyhow!("shape"))
    };
    let (a, b) = (random(1)?, random(2)?);
    let t = Instant::now();
    let c = gemm(&a, &b)?;
    let recompute = t.elapsed().as_secs_f64();
    let s = MatmulStatement {
        a,
        b,
        c,
        seed: [7; 32],
    };
    let v = CpuVerifier::default();
    let t = Instant::now();
    let verdict = v.verify(&s)?;
    let verify = t.elapsed().as_secs_f64();
    anyhow::ensure!(verdict.is_ok(), "benchmark statement must verify");
    let bytes = (2 * n * n + 4 * n * n) as f64;
    // The roofline: the best of 5 plain copies of the same number of bytes (buffers
    // touched first, so page faults are not measured).
    let src = vec![1u8; bytes as usize];
    let mut dst = vec![0u8; bytes as usize];
    let mut copy_s = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        dst.copy_from_slice(std::hint::black_box(&src));
        copy_s = copy_s.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&dst);
    let gbs = bytes / verify / 1e9;
    let roof = bytes / copy_s / 1e9;
    let json = serde_json::json!({
        "n": n, "backend": v.name(), "verify_ms": verify * 1e3, "gb_per_s": gbs, "copy_gb_per_s": roof,
        "roofline_pct": 100.0 * gbs / roof, "recompute_ms": recompute * 1e3, "speedup": recompute / verify,
    });
    emit(ctx.output, &json, || {
        format!(
            "{}: verify {n}x{n} in {:.2} ms ({gbs:.2} GB/s, {:.1}% of a {roof:.1} GB/s copy); recompute {:.1} ms; speedup {:.1}x\nsummary: gpu backend not built yet, cpu only",
            v.name(),
            verify * 1e3,
            100.0 * gbs / roof,
            recompute * 1e3,
            recompute / verify
        )
    })
}
