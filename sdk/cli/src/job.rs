//! `tao job post|collect|show|list` and `tao miner run`: paying TAO for matrix products on a
//! subnet run by the `matmul-market` contract, and mining them. Matrices travel as `.npy`
//! blobs stored on chain; the contract checks results with the chain's `verify_matmul`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use borsh::BorshDeserialize;
use clap::Subcommand;
use sha2::{Digest, Sha256};
use taochain_client::Client;
use taochain_matmul_market_msg::{ExecuteMsg, Job, QueryMsg, Status};
use taochain_primitives::subnet::SubnetInfo;
use taochain_primitives::{Address, Msg, format_tao, parse_amount};
use taochain_work::{Matrix, gemm, npy};

use crate::Ctx;
use crate::chain::signing_key;
use crate::output::{emit, spinner, table};
use crate::work::{Backend, Chosen, choose};

/// `tao job ...`
#[derive(Subcommand)]
pub enum JobCmd {
    /// Store A and B as blobs and post a job with a bounty.
    Post {
        /// Requester key.
        #[arg(long)]
        from: String,
        /// Subnet running matmul-market.
        #[arg(long)]
        netuid: u16,
        /// A (m x k, int8 .npy).
        #[arg(long)]
        a: PathBuf,
        /// B (k x n, int8 .npy).
        #[arg(long)]
        b: PathBuf,
        /// Bounty (`1.5TAO`, `100rao`).
        #[arg(long)]
        bounty: String,
        /// Blocks until the deadline.
        #[arg(long, default_value_t = 200)]
        blocks: u64,
    },
    /// Download a paid job's C to a `.npy` file and release its blob (ends the job).
    Collect {
        /// Requester key.
        #[arg(long)]
        from: String,
        /// Subnet.
        #[arg(long)]
        netuid: u16,
        /// Job id.
        id: u64,
        /// Where to write C.
        #[arg(long)]
        out: PathBuf,
    },
    /// One job.
    Show {
        /// Subnet.
        #[arg(long)]
        netuid: u16,
        /// Job id.
        id: u64,
    },
    /// Jobs of a subnet.
    List {
        /// Subnet.
        #[arg(long)]
        netuid: u16,
    },
}

/// `tao miner ...`
#[derive(Subcommand)]
pub enum MinerCmd {
    /// Serve a model on an AI subnet: announce the axon on chain, then answer validators.
    Serve {
        /// Subnet (an arena).
        #[arg(long)]
        netuid: u16,
        /// Miner hotkey (key name; registered on the subnet).
        #[arg(long)]
        hotkey: String,
        /// Address to listen on (announced as http://IP:PORT unless --announce).
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// The address validators dial, when it is not the listen address (listening on
        /// 0.0.0.0, or behind NAT).
        #[arg(long)]
        announce: Option<std::net::SocketAddr>,
        /// The model: a command run with the input file's path appended, printing the
        /// answer (e.g. `tao model run --task speech-to-text`).
        #[arg(long)]
        model: String,
        /// How long the model may take per request, milliseconds.
        #[arg(long, default_value_t = 10_000)]
        model_timeout_ms: u64,
    },
    /// Poll open jobs, compute C on the GPU or CPU, store it, submit it.
    Run {
        /// Miner hotkey key name (registered on the subnet; signs and is paid).
        #[arg(long)]
        from: String,
        /// Subnet running matmul-market.
        #[arg(long)]
        netuid: u16,
        /// Backend for the GEMM.
        #[arg(long, value_enum, default_value_t = Backend::Auto)]
        backend: Backend,
        /// Handle the open jobs once and exit (default: keep polling).
        #[arg(long)]
        once: bool,
    },
}

fn contract(c: &Client, netuid: u16) -> anyhow::Result<Address> {
    let raw = c.query_raw(&format!("/subnet/{netuid}"), 0)?;
    anyhow::ensure!(!raw.is_empty(), "no subnet {netuid}");
    Ok(borsh::from_slice::<SubnetInfo>(&raw)?.contract)
}

fn jobs(c: &Client, market: &Address) -> anyhow::Result<Vec<(u64, Job)>> {
    let mut all = vec![];
    let mut start = 1;
    loop {
        let page: Vec<(u64, Job)> =
            borsh::from_slice(&c.smart_query(market, &borsh::to_vec(&QueryMsg::Jobs { start })?)?)?;
        let done = page.len() < 100;
        start = page.last().map_or(start, |j| j.0 + 1);
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}

/// Stores `bytes` as a blob unless it is already stored; returns its hash.
pub fn store_blob(
    c: &Client,
    key: &ed25519_dalek::SigningKey,
    bytes: Vec<u8>,
) -> anyhow::Result<[u8; 32]> {
    let hash: [u8; 32] = Sha256::digest(&bytes).into();
    if c.query_raw(&format!("/blob/{}", hex::encode(hash)), 0)?
        .is_empty()
    {
        c.send(key, vec![Msg::StoreBlob { bytes }], None)?;
    }
    Ok(hash)
}

fn status_text(s: &Status) -> String {
    match s {
        Status::Open => "open".into(),
        Status::Done { miner, height, .. } => {
            format!("paid to {} at block {height}", Address(*miner))
        }
        Status::Reclaimed => "reclaimed".into(),
        Status::Collected => "collected".into(),
    }
}

fn job_json(id: u64, j: &Job) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "requester": Address(j.requester).to_string(),
        "a": hex::encode(j.a),
        "b": hex::encode(j.b),
        "bounty_rao": j.bounty.to_string(),
        "deadline": j.deadline,
        "status": status_text(&j.status),
        "open": matches!(j.status, Status::Open),
        "result": match &j.status { Status::Done { c, .. } => Some(hex::encode(c)), _ => None },
    })
}

/// Runs `tao job`.
pub fn run_job(ctx: &Ctx, cmd: JobCmd) -> anyhow::Result<()> {
    match cmd {
        JobCmd::Post {
            from,
            netuid,
            a,
            b,
            bounty,
            blocks,
        } => post_job(ctx, &from, netuid, &a, &b, &bounty, blocks),
        JobCmd::Collect {
            from,
            netuid,
            id,
            out,
        } => collect_job(ctx, &from, netuid, id, &out),
        JobCmd::Show { netuid, id } => show_job(ctx, netuid, id),
        JobCmd::List { netuid } => list_jobs(ctx, netuid),
    }
}

/// Reads A and B from `.npy` files and checks that A * B is defined.
fn read_operands(a: &Path, b: &Path) -> anyhow::Result<(Matrix<i8>, Matrix<i8>)> {
    let (am, bm): (Matrix<i8>, Matrix<i8>) = (npy::read(a)?, npy::read(b)?);
    anyhow::ensure!(
        am.cols == bm.rows,
        "A is {}x{}, B is {}x{}: they do not chain",
        am.rows,
        am.cols,
        bm.rows,
        bm.cols
    );
    Ok((am, bm))
}

/// `tao job post`: stores A and B as blobs and posts the job with its bounty.
fn post_job(
    ctx: &Ctx,
    from: &str,
    netuid: u16,
    a: &Path,
    b: &Path,
    bounty: &str,
    blocks: u64,
) -> anyhow::Result<()> {
    let c = ctx.client();
    let key = signing_key(ctx, from)?;
    let market = contract(&c, netuid)?;
    let (am, bm) = read_operands(a, b)?;
    // Everything that can be refused is checked before the blobs are paid for.
    let funds = parse_amount(bounty)?;
    anyhow::ensure!(blocks > 0, "--blocks must be at least 1");
    let deadline_after = |height: u64| {
        height
            .checked_add(blocks)
            .context("--blocks is too large: the deadline would overflow")
    };
    deadline_after(c.status()?.height)?;
    let bar = spinner(ctx.output, "storing A and B, posting the job");
    let ah = store_blob(&c, &key, npy::encode(&am))?;
    let bh = store_blob(&c, &key, npy::encode(&bm))?;
    // Counted from after the blobs are stored: miners get the blocks asked for.
    let deadline = deadline_after(c.status()?.height)?;
    let msg = borsh::to_vec(&ExecuteMsg::PostJob {
        a: ah,
        b: bh,
        deadline,
    })?;
    let done = c.send(
        &key,
        vec![Msg::Execute {
            contract: market,
            msg,
            funds,
        }],
        None,
    );
    bar.finish_and_clear();
    let done = done?;
    let id = u64::try_from_slice(&hex::decode(&done.data)?)?;
    emit(
        ctx.output,
        &serde_json::json!({"id": id, "height": done.height, "deadline": deadline}),
        || {
            format!(
                "posted job {id}: {}x{} * {}x{} for {} (deadline block {deadline})",
                am.rows,
                am.cols,
                bm.rows,
                bm.cols,
                format_tao(funds)
            )
        },
    )
}

/// One job, as the market contract reports it.
fn fetch_job(c: &Client, market: &Address, id: u64) -> anyhow::Result<Job> {
    Ok(borsh::from_slice(&c.smart_query(
        market,
        &borsh::to_vec(&QueryMsg::Job { id })?,
    )?)?)
}

/// `tao job collect`: writes a paid job's C to `out` and releases its blob.
fn collect_job(ctx: &Ctx, from: &str, netuid: u16, id: u64, out: &Path) -> anyhow::Result<()> {
    let c = ctx.client();
    let key = signing_key(ctx, from)?;
    let market = contract(&c, netuid)?;
    let j = fetch_job(&c, &market, id)?;
    let Status::Done { c: hash, .. } = j.status else {
        bail!(
            "job {id} has no result to collect ({})",
            status_text(&j.status)
        );
    };
    let bytes = c.query_raw(&format!("/blob/{}/bytes", hex::encode(hash)), 0)?;
    anyhow::ensure!(
        <[u8; 32]>::from(Sha256::digest(&bytes)) == hash,
        "the node returned bytes that do not hash to the result"
    );
    let product: Matrix<i32> = npy::parse(&bytes)?;
    npy::write(out, &product)?;
    let msg = borsh::to_vec(&ExecuteMsg::Collect { job: id })?;
    let done = c.send(
        &key,
        vec![Msg::Execute {
            contract: market,
            msg,
            funds: 0,
        }],
        None,
    )?;
    emit(
        ctx.output,
        &serde_json::json!({"id": id, "out": out, "rows": product.rows, "cols": product.cols, "height": done.height}),
        || {
            format!(
                "wrote C of job {id} ({}x{} int32) to {}; its blob is released",
                product.rows,
                product.cols,
                out.display()
            )
        },
    )
}

/// `tao job show`: one job as JSON.
fn show_job(ctx: &Ctx, netuid: u16, id: u64) -> anyhow::Result<()> {
    let c = ctx.client();
    let market = contract(&c, netuid)?;
    let j = fetch_job(&c, &market, id)?;
    let js = job_json(id, &j);
    emit(ctx.output, &js, || {
        serde_json::to_string_pretty(&js).unwrap_or_default()
    })
}

/// `tao job list`: every job of a subnet, as a table.
fn list_jobs(ctx: &Ctx, netuid: u16) -> anyhow::Result<()> {
    let c = ctx.client();
    let market = contract(&c, netuid)?;
    let all = jobs(&c, &market)?;
    let js: Vec<serde_json::Value> = all.iter().map(|(id, j)| job_json(*id, j)).collect();
    emit(ctx.output, &js, || {
        let rows: Vec<Vec<String>> = all
            .iter()
            .map(|(id, j)| {
                vec![
                    id.to_string(),
                    format_tao(j.bounty),
                    j.deadline.to_string(),
                    status_text(&j.status),
                ]
            })
            .collect();
        table(&["JOB", "BOUNTY", "DEADLINE", "STATUS"], &rows)
    })
}

/// Runs `tao miner run`.
pub fn run_miner(ctx: &Ctx, cmd: MinerCmd) -> anyhow::Result<()> {
    let (from, netuid, backend, once) = match cmd {
        MinerCmd::Serve {
            netuid,
            hotkey,
            listen,
            announce,
            model,
            model_timeout_ms,
        } => {
            return crate::arena::miner_serve(
                ctx,
                netuid,
                &hotkey,
                (listen, announce),
                &model,
                model_timeout_ms,
            );
        }
        MinerCmd::Run {
            from,
            netuid,
            backend,
            once,
        } => (from, netuid, backend, once),
    };
    let miner = Miner::new(ctx, &from, netuid, backend)?;
    let mut tried = BTreeSet::new();
    let (mut paid, mut failed) = (0u64, 0u64);
    loop {
        for (id, j) in miner.open_jobs(&tried)? {
            tried.insert(id);
            if miner.work(id, &j)? {
                paid += j.bounty;
            } else {
                failed += 1;
            }
        }
        if once {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    if failed > 0 && paid == 0 {
        bail!("{failed} submissions failed");
    }
    eprintln!(
        "summary: {} jobs attempted, {} earned, {failed} failed",
        tried.len(),
        format_tao(paid)
    );
    Ok(())
}

/// A miner's fixed state: the node, its hotkey, the market and the GEMM backend.
struct Miner<'a> {
    ctx: &'a Ctx,
    c: Client,
    key: ed25519_dalek::SigningKey,
    market: Address,
    chosen: Chosen,
    device: String,
}

impl<'a> Miner<'a> {
    /// Loads the key, finds the subnet's market and picks the backend.
    fn new(ctx: &'a Ctx, from: &str, netuid: u16, backend: Backend) -> anyhow::Result<Self> {
        let c = ctx.client();
        let key = signing_key(ctx, from)?;
        let market = contract(&c, netuid)?;
        let chosen = choose(backend);
        let device = match &chosen {
            Chosen::Cpu(_) => "cpu".to_string(),
            Chosen::Gpu(g) => g.adapter(),
        };
        Ok(Miner {
            ctx,
            c,
            key,
            market,
            chosen,
            device,
        })
    }

    /// Jobs still open at the current height and not tried yet.
    fn open_jobs(&self, tried: &BTreeSet<u64>) -> anyhow::Result<Vec<(u64, Job)>> {
        let height = self.c.status()?.height;
        Ok(jobs(&self.c, &self.market)?
            .into_iter()
            .filter(|(id, j)| {
                matches!(j.status, Status::Open) && j.deadline > height && !tried.contains(id)
            })
            .collect())
    }

    /// An int8 matrix stored as a blob.
    fn fetch(&self, h: &[u8; 32]) -> anyhow::Result<Matrix<i8>> {
        let bytes = self
            .c
            .query_raw(&format!("/blob/{}/bytes", hex::encode(h)), 0)?;
        Ok(npy::parse(&bytes)?)
    }

    /// Computes and submits one job's C; `Ok(true)` when it was paid, `Ok(false)` when
    /// it was skipped, refused or rejected.
    fn work(&self, id: u64, j: &Job) -> anyhow::Result<bool> {
        let (a, b) = (self.fetch(&j.a)?, self.fetch(&j.b)?);
        // C must fit in a blob to be submitted: refuse before computing it.
        let limit = taochain_primitives::state::MAX_BLOB_BYTES as u64 - 128;
        if let Err(e) = taochain_work::check_shape((a.rows, a.cols), (b.rows, b.cols), None, limit)
        {
            eprintln!("job {id}: skipped: {e}");
            return Ok(false);
        }
        let t = Instant::now();
        let product = match &self.chosen {
            Chosen::Cpu(_) => gemm(&a, &b)?,
            Chosen::Gpu(g) => g.gemm(&a, &b)?,
        };
        let compute_ms = t.elapsed().as_millis();
        match self.submit(id, &product) {
            Ok(done) => self.report(id, j, (&a, &b), compute_ms, &done),
            Err(e) => {
                eprintln!("job {id}: not paid: {e:#}");
                Ok(false)
            }
        }
    }

    /// Stores C as a blob and submits it for job `id`.
    fn submit(&self, id: u64, product: &Matrix<i32>) -> anyhow::Result<taochain_client::Committed> {
        let bar = spinner(self.ctx.output, "storing C and submitting");
        let result = store_blob(&self.c, &self.key, npy::encode(product)).and_then(|ch| {
            let msg = borsh::to_vec(&ExecuteMsg::SubmitResult { job: id, c: ch })?;
            Ok(self.c.send(
                &self.key,
                vec![Msg::Execute {
                    contract: self.market,
                    msg,
                    funds: 0,
                }],
                None,
            )?)
        });
        bar.finish_and_clear();
        result
    }

    /// Prints one submission's line; returns whether the contract accepted C.
    fn report(
        &self,
        id: u64,
        j: &Job,
        (a, b): (&Matrix<i8>, &Matrix<i8>),
        compute_ms: u128,
        done: &taochain_client::Committed,
    ) -> anyhow::Result<bool> {
        let device = &self.device;
        let valid = hex::decode(&done.data)
            .ok()
            .and_then(|d| bool::try_from_slice(&d).ok())
            .unwrap_or(false);
        let line = serde_json::json!({
            "job": id, "m": a.rows, "k": a.cols, "n": b.cols, "device": device,
            "compute_ms": compute_ms, "height": done.height, "bounty_rao": j.bounty.to_string(),
            "valid": valid,
        });
        emit(self.ctx.output, &line, || {
            format!(
                "job {id}: {}x{}x{} on {device} in {compute_ms} ms, submitted in block {}, {} {}",
                a.rows,
                a.cols,
                b.cols,
                done.height,
                if valid { "paid" } else { "REJECTED, bounty" },
                format_tao(j.bounty)
            )
        })?;
        Ok(valid)
    }
}
