//! `tao verify matmul`, `tao gemm` and `tao bench verify`: useful work from the command
//! line, with `.npy` files, on the CPU reference or the wgpu backend. `--backend auto`
//! (the default) uses a hardware GPU when there is one (`TAOCHAIN_GPU=off` disables it),
//! never a software adapter, which is slower than the CPU.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Subcommand, ValueEnum};
use taochain_wgpu::{GpuMode, GpuVerifier};
use taochain_work::{BlobKeys, CpuVerifier, MatmulStatement, Matrix, Verifier, gemm, npy};

use crate::Ctx;
use crate::output::emit;

/// Which verifier backend.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A hardware GPU if there is one, else the CPU reference.
    Auto,
    /// wgpu compute shaders (any adapter, software included); an error without one.
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

/// The chosen backend.
pub(crate) enum Chosen {
    Cpu(CpuVerifier),
    Gpu(Box<GpuVerifier>),
}

impl Chosen {
    fn verifier(&self) -> &dyn Verifier {
        match self {
            Chosen::Cpu(c) => c,
            Chosen::Gpu(g) => g.as_ref(),
        }
    }
}

/// The verifier (and GEMM device) for `--backend`.
pub(crate) fn choose(backend: Backend) -> Chosen {
    let cpu = || Chosen::Cpu(CpuVerifier::default());
    match backend {
        Backend::Cpu => cpu(),
        Backend::Gpu => match GpuVerifier::open(GpuMode::Required) {
            Ok(Some(g)) => Chosen::Gpu(Box::new(g)),
            Ok(None) => usage("no GPU adapter"),
            Err(e) => usage(e),
        },
        Backend::Auto => {
            let mode = GpuMode::from_env().unwrap_or_else(|e| usage(e));
            match GpuVerifier::open(mode) {
                Ok(Some(g)) if !g.is_software() || mode == GpuMode::Required => {
                    Chosen::Gpu(Box::new(g))
                }
                Ok(_) => cpu(),
                Err(e) => usage(e),
            }
        }
    }
}

fn read<T: npy::Element>(path: &Path) -> Matrix<T> {
    npy::read(path).unwrap_or_else(|e| usage(e))
}

/// The (rows, cols) a `.npy` header declares, checked against the file's size, without
/// reading the data.
fn shape<T: npy::Element>(path: &Path) -> (usize, usize) {
    let h = npy::read_header::<T>(path, taochain_work::MAX_DIM).unwrap_or_else(|e| usage(e));
    (h.rows, h.cols)
}

/// Refuses a statement beyond the limits from the headers alone (exit 2), before any
/// matrix is read or allocated.
fn check_files(a: &Path, b: &Path, c: Option<&Path>) {
    let c = c.map(shape::<i32>);
    taochain_work::check_shape(
        shape::<i8>(a),
        shape::<i8>(b),
        c,
        taochain_work::MAX_PRODUCT_BYTES,
    )
    .unwrap_or_else(|e| usage(e));
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
    let chosen = choose(backend);
    let verifier = chosen.verifier();
    let seed = match seed {
        None => [0u8; 32],
        Some(h) => hex::decode(h.trim_start_matches("0x"))
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .unwrap_or_else(|| usage("--seed must be 32 bytes of hex")),
    };
    check_files(&a, &b, Some(&c));
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
    check_files(a, b, None);
    let chosen = choose(backend);
    let (a, b): (Matrix<i8>, Matrix<i8>) = (read(a), read(b));
    let t = Instant::now();
    let (c, used) = match &chosen {
        Chosen::Cpu(_) => (gemm(&a, &b).unwrap_or_else(|e| usage(e)), "cpu".to_string()),
        Chosen::Gpu(g) => (g.gemm(&a, &b).unwrap_or_else(|e| usage(e)), g.name()),
    };
    let ms = t.elapsed().as_secs_f64() * 1e3;
    npy::write(out, &c)?;
    emit(
        ctx.output,
        &serde_json::json!({"out": out, "rows": c.rows, "cols": c.cols, "ms": ms, "backend": used}),
        || {
            format!(
                "wrote {} ({}x{} int32) in {ms:.1} ms on {used}",
                out.display(),
                c.rows,
                c.cols
            )
        },
    )
}

/// `tao bench verify --n N`: for each backend (CPU, and the GPU when an adapter exists),
/// verification time, GB/s of matrix bytes read, that as a share of the device's copy
/// bandwidth (read + write of a >= 256 MiB copy: the roofline), and the speedup over
/// recomputing C on the same device. The GPU is measured twice: uploading A, B and C for
/// every check, and with them resident on the device (checked by blob key, as the chain
/// does).
pub fn bench_verify(ctx: &Ctx, n: usize) -> anyhow::Result<()> {
    let (a, b) = (
        Matrix::pseudo_random(n, n, 1),
        Matrix::pseudo_random(n, n, 2),
    );
    let bytes = (2 * n * n + 4 * n * n) as f64;
    let mut rows = vec![];
    // The CPU reference: recompute with the CPU GEMM; roofline = a plain memcpy of the
    // same bytes (best of 5, buffers touched first).
    let t = Instant::now();
    let c = gemm(&a, &b)?;
    let recompute = t.elapsed().as_secs_f64();
    let s = MatmulStatement {
        a,
        b,
        c,
        seed: [7; 32],
    };
    let cpu = CpuVerifier::default();
    let verify = time_verify(|| cpu.verify(&s))?;
    // At least 512 MiB, so the copy measures memory, not cache.
    let copy_bytes = (bytes as usize).max(512 << 20);
    let src = vec![1u8; copy_bytes];
    let mut dst = vec![0u8; copy_bytes];
    let mut copy_s = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        dst.copy_from_slice(std::hint::black_box(&src));
        copy_s = copy_s.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&dst);
    rows.push(row(
        n,
        cpu.name(),
        verify,
        bytes,
        2.0 * copy_bytes as f64 / copy_s,
        recompute,
    ));
    // The GPU (any adapter, software included): recompute with the GPU GEMM; roofline = a
    // copy kernel on the device. Verification time includes uploading the matrices.
    match GpuVerifier::open(GpuMode::from_env()?)? {
        Some(g) => {
            let verify = time_verify(|| g.verify(&s))?;
            // Keyed as on chain: the sha256 of each matrix's .npy blob.
            let hash =
                |blob: Vec<u8>| -> [u8; 32] { <sha2::Sha256 as sha2::Digest>::digest(blob).into() };
            let keys = BlobKeys {
                a: hash(npy::encode(&s.a)),
                b: hash(npy::encode(&s.b)),
                c: hash(npy::encode(&s.c)),
            };
            let resident = time_verify(|| g.verify_blobs(&s, &keys))?;
            let t = Instant::now();
            let c = g.gemm(&s.a, &s.b)?;
            let recompute = t.elapsed().as_secs_f64();
            anyhow::ensure!(c == s.c, "GPU GEMM differs from the CPU's");
            let roof = g.copy_bandwidth((bytes as u64).max(256 << 20), 5)?;
            rows.push(row(n, g.name(), verify, bytes, roof, recompute));
            let name = format!("{}, inputs resident", g.name());
            rows.push(row(n, name, resident, bytes, roof, recompute));
        }
        None => eprintln!("no GPU adapter: CPU only"),
    }
    emit(ctx.output, &rows, || {
        let mut lines: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{}: verify {n}x{n} in {:.2} ms ({:.2} GB/s, {:.1}% of a {:.1} GB/s copy); recompute {:.1} ms; speedup {:.1}x",
                    r["backend"].as_str().unwrap_or(""),
                    r["verify_ms"].as_f64().unwrap_or(0.0),
                    r["gb_per_s"].as_f64().unwrap_or(0.0),
                    r["roofline_pct"].as_f64().unwrap_or(0.0),
                    r["copy_gb_per_s"].as_f64().unwrap_or(0.0),
                    r["recompute_ms"].as_f64().unwrap_or(0.0),
                    r["speedup"].as_f64().unwrap_or(0.0),
                )
            })
            .collect();
        lines.push(format!(
            "summary: {} backend(s) measured at n = {n}",
            rows.len()
        ));
        lines.join("\n")
    })
}

/// Best of 10 verifications (the first also warms caches and pipelines).
fn time_verify(
    verify: impl Fn() -> Result<taochain_work::Verdict, taochain_work::WorkError>,
) -> anyhow::Result<f64> {
    let mut best = f64::MAX;
    for _ in 0..10 {
        let t = Instant::now();
        let verdict = verify()?;
        best = best.min(t.elapsed().as_secs_f64());
        anyhow::ensure!(verdict.is_ok(), "benchmark statement must verify");
    }
    Ok(best)
}

fn row(
    n: usize,
    backend: String,
    verify: f64,
    bytes: f64,
    roof: f64,
    recompute: f64,
) -> serde_json::Value {
    let gbs = bytes / verify / 1e9;
    let roof_gbs = roof / 1e9;
    serde_json::json!({
        "n": n, "backend": backend, "verify_ms": verify * 1e3, "gb_per_s": gbs,
        "copy_gb_per_s": roof_gbs, "roofline_pct": 100.0 * gbs / roof_gbs,
        "recompute_ms": recompute * 1e3, "speedup": recompute / verify,
    })
}
