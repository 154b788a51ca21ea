//! The explorer (`tao explorer --node URL --listen ADDR`): one axum process serving the
//! page built from `web/` (TypeScript, Vite, uPlot; embedded at compile time by `build.rs`,
//! so no Node.js at run time) and the JSON API it reads under `/api/` ([`views`]). A
//! sampler follows the chain in the background ([`sampler`]): the block interval, issuance
//! as blocks arrive, and each subnet's incentives per epoch for the plots.
//!
//! Read-only: it holds no key and sends no transaction. Every view is bounded (at most
//! [`views::MAX_BLOCKS`] blocks, [`views::MAX_CHANNELS`] channels, [`sampler::KEEP`]
//! samples).

pub mod sampler;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use self::sampler::Sampler;
use self::views::Source;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// Whether the page was built into this binary (`scripts/build-explorer.sh`).
pub fn page_built() -> bool {
    assets::BUILT
}

/// What can go wrong serving a view.
#[derive(Debug, thiserror::Error)]
pub enum ExplorerError {
    /// Talking to the node.
    #[error(transparent)]
    Client(#[from] taochain_client::ClientError),
    /// The chain's answer does not decode.
    #[error("{0}")]
    Chain(String),
    /// Nothing there.
    #[error("{0}")]
    NotFound(String),
    /// A malformed argument.
    #[error("{0}")]
    BadRequest(String),
    /// Every read slot stayed taken for [`BUSY_WAIT`].
    #[error("{0}")]
    Busy(String),
}

impl IntoResponse for ExplorerError {
    fn into_response(self) -> Response {
        let status = match &self {
            ExplorerError::NotFound(_) => StatusCode::NOT_FOUND,
            ExplorerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ExplorerError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        };
        (status, axum::Json(json!({"error": self.to_string()}))).into_response()
    }
}

/// API requests reading the chain at once; more wait (the node is not the explorer's to
/// flood), each at most [`BUSY_WAIT`], then get 503.
pub const MAX_READS: usize = 8;

/// How long a request waits for a read slot before it is answered 503 (busy).
pub const BUSY_WAIT: Duration = Duration::from_secs(5);

/// The explorer's state.
pub struct Explorer {
    source: Arc<Source>,
    sampler: Arc<Sampler>,
}

static READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_READS);

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ExplorerError> + Send + 'static,
) -> Result<T, ExplorerError> {
    let _slot = tokio::time::timeout(BUSY_WAIT, READS.acquire())
        .await
        .map_err(|_| {
            ExplorerError::Busy(format!(
                "the explorer is busy: {MAX_READS} reads of the chain in progress for {} s; try again",
                BUSY_WAIT.as_secs()
            ))
        })?
        .map_err(|e| ExplorerError::Chain(format!("read limit: {e}")))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ExplorerError::Chain(format!("blocking task: {e}")))?
}

type Shared = State<Arc<Explorer>>;

fn reply(r: Result<Value, ExplorerError>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

impl Explorer {
    /// An explorer of `node`, showing the app hashes of `peers` too.
    pub fn new(node: &str, peers: &[String]) -> Arc<Self> {
        let source = Arc::new(Source::new(node, peers));
        Arc::new(Explorer {
            sampler: Arc::new(Sampler::default()),
            source,
        })
    }

    /// The routes: `/api/...` and the page.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/api/height", get(height))
            .route("/api/overview", get(overview))
            .route("/api/issuance", get(issuance))
            .route("/api/subnets", get(subnets))
            .route("/api/metagraph/{netuid}", get(metagraph))
            .route("/api/history/{netuid}", get(history))
            .route("/api/blocks", get(blocks))
            .route("/api/block/{height}", get(block))
            .route("/api/tx/{hash}", get(tx))
            .route("/api/account/{addr}", get(account))
            .route("/api/activity", get(activity))
            .route("/api/search", get(search))
            .fallback(get(asset))
            .with_state(Arc::clone(self))
    }

    /// Serves on `listener` (and samples the chain) until `shutdown`.
    pub async fn serve(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sampling = tokio::spawn(
            Arc::clone(&self.sampler).run(Arc::clone(&self.source), Duration::from_millis(1000)),
        );
        let r = axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await;
        sampling.abort();
        r
    }

    /// Binds `addr` and serves in the background; the bound address.
    pub async fn spawn(self: &Arc<Self>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let _ = me.serve(listener, std::future::pending()).await;
        });
        Ok(bound)
    }
}

async fn height(State(x): Shared) -> Response {
    let s = Arc::clone(&x.source);
    reply(blocking(move || Ok(json!({"height": s.height()?}))).await)
}

async fn overview(State(x): Shared) -> Response {
    let s = Arc::clone(&x.source);
    let mut r = blocking(move || s.overview()).await;
    if let Ok(v) = &mut r {
        v["block_interval_ms"] = json!(x.sampler.block_interval_ms());
    }
    reply(r)
}

async fn issuance(State(x): Shared) -> Response {
    reply(Ok(x.sampler.issuance_json()))
}

async fn subnets(State(x): Shared) -> Response {
    let s = Arc::clone(&x.source);
    reply(blocking(move || s.subnets()).await)
}

fn netuid(text: &str) -> Result<u16, ExplorerError> {
    text.parse()
        .map_err(|_| ExplorerError::BadRequest(format!("`{text}` is not a netuid")))
}

async fn metagraph(State(x): Shared, Path(n): Path<String>) -> Response {
    let s = Arc::clone(&x.source);
    reply(
        blocking(move || {
            let rows = s.metagraph_rows(netuid(&n)?)?;
            Ok(Value::Array(
                rows.iter()
                    .map(taochain_client::views::metagraph_json)
                    .collect(),
            ))
        })
        .await,
    )
}

async fn history(State(x): Shared, Path(n): Path<String>) -> Response {
    reply(netuid(&n).map(|n| x.sampler.history_json(n)))
}

#[derive(serde::Deserialize)]
struct Limit {
    limit: Option<u64>,
}

async fn blocks(State(x): Shared, Query(q): Query<Limit>) -> Response {
    let s = Arc::clone(&x.source);
    reply(blocking(move || s.blocks(q.limit.unwrap_or(20))).await)
}

async fn block(State(x): Shared, Path(h): Path<String>) -> Response {
    let s = Arc::clone(&x.source);
    reply(
        blocking(move || {
            let h: u64 = h
                .parse()
                .map_err(|_| ExplorerError::BadRequest(format!("`{h}` is not a height")))?;
            let latest = s.height()?;
            if h == 0 || h > latest {
                return Err(ExplorerError::NotFound(format!(
                    "no block {h} (latest {latest})"
                )));
            }
            s.block(h)
        })
        .await,
    )
}

async fn tx(State(x): Shared, Path(hash): Path<String>) -> Response {
    let s = Arc::clone(&x.source);
    reply(blocking(move || s.tx(&hash)).await)
}

async fn account(State(x): Shared, Path(a): Path<String>) -> Response {
    let s = Arc::clone(&x.source);
    reply(blocking(move || s.account(&a)).await)
}

async fn activity(State(x): Shared) -> Response {
    let s = Arc::clone(&x.source);
    reply(blocking(move || s.activity()).await)
}

#[derive(serde::Deserialize)]
struct Search {
    q: Option<String>,
}

async fn search(State(x): Shared, Query(q): Query<Search>) -> Response {
    let s = Arc::clone(&x.source);
    let text: String = q.q.unwrap_or_default().chars().take(128).collect();
    reply(blocking(move || s.search(&text)).await)
}

async fn asset(uri: axum::http::Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    match assets::ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, bytes, mime)) => ([(header::CONTENT_TYPE, *mime)], *bytes).into_response(),
        None if path == "index.html" => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<h1>The explorer's page was not built</h1><p>Run <code>scripts/build-explorer.sh</code> and rebuild.</p>",
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests;
