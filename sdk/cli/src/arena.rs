//! `tao miner serve`, `tao validator run`, `tao model run`: the arena's neurons from the
//! command line, on the neuron runtime (`taochain-neuron`). Miners and validators read the
//! subnet's task from the chain; `tao model run` is each task's reference model, offline.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use serde_json::json;
use taochain_arena_msg::TaskKind;
use taochain_neuron::chain::Chain;
use taochain_neuron::miner::MinerSetup;
use taochain_neuron::model::Model;
use taochain_neuron::validator::{Round, Validator};
use taochain_tasks::SCORE_SCALE;

use crate::Ctx;
use crate::chain::signing_key;
use crate::output::{Output, emit, table};

/// `tao validator ...`
#[derive(Subcommand)]
pub enum ValidatorCmd {
    /// Challenge every serving miner of a subnet, score the answers, set weights.
    Run {
        /// Subnet (an arena).
        #[arg(long)]
        netuid: u16,
        /// Validator hotkey (key name; registered, with a validator permit to be heard).
        #[arg(long)]
        hotkey: String,
        /// Stop after this many rounds (default: run until interrupted).
        #[arg(long)]
        rounds: Option<u64>,
        /// Pause between rounds, milliseconds.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
    },
}

/// `tao model ...`
#[derive(Subcommand)]
pub enum ModelCmd {
    /// A task's reference model on one input file; prints the answer.
    Run {
        /// speech-to-text, image-to-text or text-correction.
        #[arg(long)]
        task: String,
        /// Input file (WAV, PNG or text).
        file: PathBuf,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: u64,
    },
}

/// A task kind from its command-line name.
pub fn task_kind(name: &str) -> anyhow::Result<TaskKind> {
    TaskKind::from_name(name).with_context(|| {
        let known: Vec<&str> = TaskKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown task `{name}`; known: {}", known.join(", "))
    })
}

/// Runs `tao model run`.
pub fn run_model(ctx: &Ctx, cmd: ModelCmd) -> anyhow::Result<()> {
    let ModelCmd::Run {
        task,
        file,
        timeout_ms,
    } = cmd;
    let kind = task_kind(&task)?;
    anyhow::ensure!(file.is_file(), "{} is not a file", file.display());
    let answer = taochain_tasks::run_reference(kind, &file, Duration::from_millis(timeout_ms))?;
    match ctx.output {
        Output::Json => println!("{}", json!({"task": kind.name(), "answer": answer})),
        Output::Text => println!("{answer}"),
    }
    Ok(())
}

/// Runs `tao miner serve` (`at`: the listen address and the one to announce, if another).
pub fn miner_serve(
    ctx: &Ctx,
    netuid: u16,
    hotkey: &str,
    at: (SocketAddr, Option<SocketAddr>),
    model: &str,
    model_timeout_ms: u64,
) -> anyhow::Result<()> {
    let key = signing_key(ctx, hotkey)?;
    let model = Model::from_command(model).map_err(anyhow::Error::msg)?;
    if let Model::Exe { program, .. } = &model {
        anyhow::ensure!(
            which(program),
            "model `{}` is not an executable file or on PATH",
            program.display()
        );
    }
    let setup = MinerSetup {
        chain: Chain::new(&ctx.node),
        key,
        netuid,
        listen: at.0,
        announce: at.1,
        model,
        model_timeout: Duration::from_millis(model_timeout_ms),
        log: true,
    };
    let rt = runtime()?;
    rt.block_on(async {
        let miner = setup.start().await?;
        println!(
            "miner: {}; UID {} serving on {}",
            miner.announced, miner.uid, miner.endpoint
        );
        let axon = miner.run(shutdown_signal()).await?;
        println!("miner: stopped; {}", axon.stats.summary());
        anyhow::Ok(())
    })
}

/// Rounds in a row that may fail (the node unreachable) before `tao validator run` gives up.
const MAX_FAILED_ROUNDS: u32 = 10;

/// Runs `tao validator run`.
pub fn run_validator(ctx: &Ctx, cmd: ValidatorCmd) -> anyhow::Result<()> {
    let ValidatorCmd::Run {
        netuid,
        hotkey,
        rounds,
        interval_ms,
    } = cmd;
    let key = signing_key(ctx, &hotkey)?;
    let rt = runtime()?;
    let output = ctx.output;
    rt.block_on(async {
        let mut v = Validator::connect(Chain::new(&ctx.node), key, netuid).await?;
        let spec = v.spec().clone();
        if output == Output::Text {
            println!(
                "validator: netuid {netuid}, task {} ({:?}), timeout {} ms",
                spec.kind.name(),
                spec.metric,
                spec.challenge_timeout_ms
            );
        }
        let (mut done, mut failures) = (0u64, 0u32);
        let mut stop = std::pin::pin!(shutdown_signal());
        while rounds.is_none_or(|k| done < k) {
            let round = tokio::select! {
                r = v.round() => r,
                () = &mut stop => break,
            };
            // A node that does not answer for a moment costs a round, not the validator.
            let round = match round {
                Ok(r) => {
                    failures = 0;
                    r
                }
                Err(e) if failures + 1 < MAX_FAILED_ROUNDS => {
                    failures += 1;
                    eprintln!("validator: round failed ({failures} in a row): {e}");
                    tokio::time::sleep(Duration::from_millis(interval_ms.max(500))).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            done += 1;
            print_round(output, done, &round);
            if rounds.is_none_or(|k| done < k) {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(interval_ms)) => {}
                    () = &mut stop => break,
                }
            }
        }
        let board: Vec<(u16, u64)> = (0..u16::MAX)
            .filter_map(|u| v.board.average(u).map(|a| (u, a)))
            .collect();
        let summary = format!(
            "validator: {done} rounds, {} weight transactions, averages {}",
            v.weights.sent,
            board
                .iter()
                .map(|(u, a)| format!("{u}:{}", pct(*a)))
                .collect::<Vec<_>>()
                .join(" ")
        );
        emit(
            output,
            &json!({"rounds": done, "weight_txs": v.weights.sent, "averages_ppm": board}),
            || summary.clone(),
        )
    })
}

fn pct(ppm: u64) -> String {
    format!("{:.1}%", ppm as f64 * 100.0 / f64::from(SCORE_SCALE))
}

fn print_round(output: Output, n: u64, r: &Round) {
    if output == Output::Json {
        let rows: Vec<_> = r
            .rows
            .iter()
            .map(|x| {
                json!({"uid": x.uid, "score_ppm": x.score, "average_ppm": x.average,
                       "latency_ms": x.latency.as_millis() as u64, "error": x.error})
            })
            .collect();
        println!(
            "{}",
            json!({"round": n, "miners": rows, "weights": r.weights})
        );
        return;
    }
    let cells: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|x| {
            vec![
                x.uid.to_string(),
                pct(u64::from(x.score)),
                pct(x.average),
                format!("{} ms", x.latency.as_millis()),
                x.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    println!(
        "round {n}: {} miners, challenge made in {} ms\n{}",
        r.rows.len(),
        r.challenge_time.as_millis(),
        table(&["UID", "SCORE", "AVERAGE", "LATENCY", "ERROR"], &cells)
    );
    if let Some(w) = &r.weights {
        println!("{w}");
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Completes on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// Whether `program` is a path to a file or found on PATH.
fn which(program: &Path) -> bool {
    if program.components().count() > 1 {
        return program.is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Runs `tao bench arena`.
pub fn bench(ctx: &Ctx, axons: usize, rounds: usize, challenges: usize) -> anyhow::Result<()> {
    let rt = runtime()?;
    let bar = crate::output::spinner(ctx.output, "a validator round over instant axons");
    let r = rt
        .block_on(taochain_neuron::bench::round(axons, rounds))
        .map_err(anyhow::Error::msg)?;
    bar.set_message("one axon on one core, 2000 requests");
    let one_core = taochain_neuron::bench::axon_on_one_core(2000, 8).map_err(anyhow::Error::msg)?;
    let mut tasks = vec![];
    for kind in TaskKind::ALL.into_iter().filter(|_| challenges > 0) {
        bar.set_message(format!("{}: {challenges} challenges", kind.name()));
        tasks.push(task_latency(kind, challenges)?);
    }
    bar.finish_and_clear();
    let value = json!({
        "round": {"axons": r.axons, "rounds": r.rounds, "median_ms": r.median.as_secs_f64() * 1e3,
                  "requests_per_s": r.requests_per_s},
        "axon_one_core_requests_per_s": one_core,
        "tasks": tasks.iter().map(|t| json!({"task": t.0, "challenge_ms": t.1, "reference_ms": t.2,
                  "reference_score": t.3})).collect::<Vec<_>>(),
    });
    emit(ctx.output, &value, || {
        let mut lines = vec![
            format!(
                "validator round over {} instant axons: median {:.1} ms, {:.0} requests/s",
                r.axons,
                r.median.as_secs_f64() * 1e3,
                r.requests_per_s
            ),
            format!(
                "one axon on one core (signature + permit + nonce checks): {one_core:.0} requests/s"
            ),
        ];
        for (name, gen_ms, ref_ms, score) in &tasks {
            lines.push(format!(
                "{name}: challenge {gen_ms:.0} ms, reference model {ref_ms:.0} ms, mean score {:.1}% (medians over {challenges})",
                score * 100.0
            ));
        }
        lines.join("\n")
    })
}

/// Median challenge-generation and reference-model times (ms) and the mean score.
fn task_latency(kind: TaskKind, n: usize) -> anyhow::Result<(&'static str, f64, f64, f64)> {
    let dir = tempfile::tempdir()?;
    let (mut gen_t, mut ref_t, mut score) = (vec![], vec![], 0u64);
    for i in 0..n {
        let t = std::time::Instant::now();
        let c = taochain_tasks::challenge(kind, &mut rand::rngs::OsRng)?;
        gen_t.push(t.elapsed().as_secs_f64() * 1e3);
        let f = dir.path().join(format!("c{i}.{}", c.ext));
        std::fs::write(&f, &c.input)?;
        let t = std::time::Instant::now();
        let answer = taochain_tasks::run_reference(kind, &f, Duration::from_secs(60))?;
        ref_t.push(t.elapsed().as_secs_f64() * 1e3);
        score += u64::from(taochain_tasks::score(kind, &c.truth, &answer));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((
        kind.name(),
        median(&mut gen_t),
        median(&mut ref_t),
        score as f64 / n as f64 / f64::from(SCORE_SCALE),
    ))
}
