//! `tao explorer`: the explorer's web page and API (`taochain-explorer`) for the node at
//! `--node`, showing the app hash of every localnet node (or of each `--peer`).

use std::net::SocketAddr;

use anyhow::Context;

use crate::Ctx;

/// Runs `tao explorer`.
pub fn run(ctx: &Ctx, listen: SocketAddr, peers: Vec<String>) -> anyhow::Result<()> {
    if !taochain_explorer::page_built() {
        eprintln!(
            "explorer: the page was not built into this binary; run scripts/build-explorer.sh and rebuild"
        );
    }
    let peers = if peers.is_empty() {
        localnet_rpcs(ctx)
    } else {
        peers
    };
    let rt = crate::arena::runtime()?;
    rt.block_on(async {
        let x = taochain_explorer::Explorer::new(&ctx.node, &peers);
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        println!(
            "explorer: http://{} (node {}, {} nodes compared)",
            listener.local_addr()?,
            ctx.node,
            peers.len().max(1)
        );
        x.serve(listener, crate::arena::shutdown_signal()).await?;
        println!("explorer: stopped");
        anyhow::Ok(())
    })
}

/// The RPC URLs of the localnet in the tao home, if there is one.
fn localnet_rpcs(ctx: &Ctx) -> Vec<String> {
    let dir = ctx.home.join("localnet");
    taochain_localnet::LocalnetSpec::load(&dir)
        .map(|spec| {
            (0..spec.validators)
                .map(|i| spec.ports(i).rpc_url())
                .collect()
        })
        .unwrap_or_default()
}
