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
        gw.serve(listener, crate::arena::shutdown_signal()).await?;
        println!("gateway: stopped; {}", gw.stats.summary());
        anyhow::Ok(())
    })
}
