//! `tao gateway serve`: a validator's paid HTTP front to its subnets' miners, on the
//! neuron runtime's gateway (`taochain_neuron::gateway`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use taochain_neuron::chain::Chain;
use taochain_neuron::gateway::{Gateway, GatewayConfig};
use taochain_primitives::{format_tao, parse_amount};

use crate::Ctx;
use crate::chain::signing_key;

/// `tao gateway ...`
#[derive(Subcommand)]
pub enum GatewayCmd {
    /// Serve `POST /v1/subnets/{netuid}/ask` and the router `POST /v1/ask` (OpenAPI at
    /// `/openapi.json`), paid by vouchers, redeemed on chain periodically.
    Serve {
        /// A subnet to serve (repeat for several; the router uses them all). The hotkey
        /// must hold a validator permit on each.
        #[arg(long, required = true)]
        netuid: Vec<u16>,
        /// The gateway's validator hotkey (key name); channels pay it.
        #[arg(long)]
        hotkey: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: SocketAddr,
        /// Price of one request on one subnet (`0.01TAO`, `1000rao`).
        #[arg(long)]
        price: String,
        /// Miners asked per request.
        #[arg(long, default_value_t = 3)]
        top_k: usize,
        /// Redeem an earned voucher once it is this many blocks old (and always before its
        /// channel expires).
        #[arg(long, default_value_t = 100)]
        redeem_every_blocks: u64,
        /// Where the gateway keeps its books (default: `{tao home}/gateway/{hotkey}.json`).
        #[arg(long)]
        books: Option<PathBuf>,
    },
}

/// Runs `tao gateway ...`.
pub fn run(ctx: &Ctx, cmd: GatewayCmd) -> anyhow::Result<()> {
    let GatewayCmd::Serve {
        netuid,
        hotkey,
        listen,
        price,
        top_k,
        redeem_every_blocks,
        books,
    } = cmd;
    let key = signing_key(ctx, &hotkey)?;
    let price = parse_amount(&price).with_context(|| format!("`{price}` is not an amount"))?;
    let mut config = GatewayConfig::new(netuid, price);
    config.top_k = top_k;
    config.redeem_every_blocks = redeem_every_blocks;
    let me = taochain_client::keys::address_of(&key);
    let books = books.unwrap_or_else(|| ctx.home.join("gateway").join(format!("{me}.json")));
    if let Some(dir) = books.parent() {
        std::fs::create_dir_all(dir)?;
    }
    config.books = Some(books);
    config.log = true;
    let rt = crate::arena::runtime()?;
    rt.block_on(async {
        let chain = Arc::new(Chain::new(&ctx.node));
        let gw = Gateway::connect(chain, key, config.clone()).await?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let at = listener.local_addr()?;
        let subnets: Vec<String> = gw
            .info()
            .subnets
            .iter()
            .map(|s| format!("{} ({})", s.netuid, s.task))
            .collect();
        println!(
            "gateway: {me} serving netuids {} on http://{at} at {} per request (OpenAPI: http://{at}/openapi.json)",
            subnets.join(", "),
            format_tao(price)
        );
        for w in gw.warnings().await {
            eprintln!("gateway: warning: {w}");
        }
        gw.serve(listener, crate::arena::shutdown_signal()).await?;
        println!("gateway: stopped; {}", gw.stats.summary());
        anyhow::Ok(())
    })
}

fn percentile(sorted: &[std::time::Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

/// Runs `tao bench gateway`.
pub fn bench(ctx: &Ctx, task: &str, questions: usize, vouchers: u64) -> anyhow::Result<()> {
    use taochain_neuron::gateway::bench;
    let kind = crate::arena::task_kind(task)?;
    let bar = crate::output::spinner(ctx.output, "vouchers on one core");
    let (verify, admit) = bench::vouchers_per_second(vouchers);
    let exe = std::env::current_exe()?;
    let model = taochain_neuron::model::Model::Exe {
        program: exe,
        args: vec![
            "model".into(),
            "run".into(),
            "--task".into(),
            kind.name().into(),
        ],
    };
    let rt = crate::arena::runtime()?;
    let mut rows = vec![];
    for k in [1, 3] {
        bar.set_message(format!("{questions} {} questions, top {k}", kind.name()));
        let mut lat = rt
            .block_on(bench::question_latencies(kind, model.clone(), questions, k))
            .map_err(anyhow::Error::msg)?;
        lat.sort();
        rows.push((k, percentile(&lat, 50), percentile(&lat, 99)));
    }
    bar.finish_and_clear();
    let value = serde_json::json!({
        "vouchers_verified_per_s": verify, "vouchers_admitted_per_s": admit,
        "task": kind.name(), "questions": questions,
        "latency": rows.iter().map(|(k, p50, p99)| serde_json::json!({"top_k": k, "p50_ms": p50, "p99_ms": p99})).collect::<Vec<_>>(),
    });
    crate::output::emit(ctx.output, &value, || {
        let mut lines = vec![format!(
            "vouchers on one core: {verify:.0} signature checks/s, {admit:.0} admissions/s (signature + books)"
        )];
        for (k, p50, p99) in &rows {
            let how = if *k == 1 {
                "direct to one miner"
            } else {
                "top 3 with agreement"
            };
            lines.push(format!(
                "{} through the gateway, {how}: p50 {p50:.0} ms, p99 {p99:.0} ms ({questions} questions)",
                kind.name()
            ));
        }
        lines.join("\n")
    })
}
