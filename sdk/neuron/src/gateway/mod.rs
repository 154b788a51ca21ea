//! The gateway: a validator's paid HTTP front to its subnets' miners (`tao gateway serve`).
//!
//! `POST /v1/subnets/{netuid}/ask` takes an input and a voucher ([`api`]); the gateway
//! checks the voucher off chain against the channel ([`ledger`]), asks the top-k miners
//! by its own validator's scores ([`rank`]) through the same signed dendrite validators
//! use, returns the answer they agree on with who answered and how long it took, and
//! charges the voucher only when an answer goes back. `POST /v1/ask` is the mixture of
//! experts: the gating rule (`taochain_tasks::route`) picks the experts and chains them,
//! each paid by its own voucher. In the background the gateway follows the chain (height,
//! metagraphs, its weights) and redeems earned vouchers every `redeem_every_blocks` and
//! before a channel expires, and once more when it stops.

pub mod api;
pub mod bench;
pub mod client;
pub mod ledger;
pub mod pace;
pub mod rank;
pub mod source;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use taochain_arena_msg::{TaskKind, TaskSpec};
use taochain_primitives::Address;
use taochain_primitives::channel::Channel;
use tokio::sync::Semaphore;

use self::api::{
    Answer, ApiError, AskRequest, ChannelBooks, ErrorBody, GatewayInfo, MinerRef, RouteAnswer,
    RouteRequest, RouteVoucher, SubnetEntry, VoucherWire,
};
use self::ledger::{Books, Refusal, Terms, Ticket};
use self::pace::Pace;
use self::source::GatewayChain;
use crate::NeuronError;
use crate::dendrite::{Dendrite, Target};
use crate::validator::blocking;

/// The largest input a request may carry (raw bytes): its challenge to a miner, in base64,
/// must fit the axon's 1 MiB body limit.
pub const MAX_INPUT: usize = 512 * 1024;

pub use ledger::REDEEM_BATCH;

/// Redemption transactions a round sends after a refused batch (its halves included).
const RESENDS: usize = 6;

/// The largest request body (base64 of [`MAX_INPUT`] and the vouchers).
pub const MAX_BODY: usize = 768 * 1024;

/// Requests the gateway handles at once.
pub const MAX_IN_FLIGHT: usize = 256;

/// How long a request's body may take to arrive.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most vouchers in a routed request.
pub const MAX_ROUTE_VOUCHERS: usize = 4;

/// Paid requests (and channel-book reads) one client address may have in flight (bodies
/// being read included), so one address holding connections open cannot take every
/// [`MAX_IN_FLIGHT`] slot. An IPv6 client counts by its /64.
pub const PER_PEER: usize = 32;

/// Requests this gateway has in flight at one miner at most: one less than an axon's
/// default per-validator limit (`AxonConfig::per_validator`, 4), so the validator that
/// shares the gateway's hotkey always finds a slot for its challenges (a refused
/// challenge scores the miner 0). A miner with none free is skipped for the next ranked.
pub const PER_MINER: usize = 3;

/// How a gateway runs.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The subnets served (the gateway hotkey must hold a validator permit on each, or
    /// miners refuse it).
    pub netuids: Vec<u16>,
    /// Price of one request on one subnet, rao.
    pub price: u64,
    /// Miners asked per request.
    pub top_k: usize,
    /// Redeem an earned voucher once it is this many blocks old.
    pub redeem_every_blocks: u64,
    /// Refuse vouchers of channels expiring within this many blocks, and redeem theirs.
    pub expiry_margin: u64,
    /// How often to poll the chain.
    pub poll: Duration,
    /// Where the books are kept across restarts.
    pub books: Option<PathBuf>,
    /// Print a line per request and redemption.
    pub log: bool,
}

impl GatewayConfig {
    /// Defaults: top 3, redeem every 100 blocks, the ledger's margin, poll every 500 ms.
    pub fn new(netuids: Vec<u16>, price: u64) -> Self {
        GatewayConfig {
            netuids,
            price,
            top_k: 3,
            redeem_every_blocks: 100,
            expiry_margin: ledger::EXPIRY_MARGIN_BLOCKS,
            poll: Duration::from_millis(500),
            books: None,
            log: false,
        }
    }
}

/// A served subnet.
struct Served {
    /// The subnet on the netuid now (read again when its contract changes).
    now: RwLock<SubnetNow>,
    dendrite: Dendrite,
    ranked: RwLock<Vec<Target>>,
}

/// The subnet holding a served netuid.
#[derive(Clone)]
struct SubnetNow {
    /// Its contract: channels opened to a subnet that held the netuid before (or after
    /// this gateway last looked) are refused.
    contract: Address,
    task: TaskSpec,
}

impl Served {
    fn now(&self) -> SubnetNow {
        match self.now.read() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Counters.
#[derive(Debug, Default)]
pub struct GatewayStats {
    /// Requests received.
    pub requests: AtomicU64,
    /// Requests answered (and charged).
    pub answered: AtomicU64,
    /// Requests refused or failed.
    pub refused: AtomicU64,
    /// rao charged.
    pub charged: AtomicU64,
    /// rao redeemed on chain.
    pub redeemed: AtomicU64,
    /// Redemption transactions that failed.
    pub redeem_failures: AtomicU64,
    /// rao earned but lost: the channel closed before its redemption.
    pub written_off: AtomicU64,
}

impl GatewayStats {
    /// One line.
    pub fn summary(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{} requests: {} answered, {} refused or failed; {} rao charged, {} rao redeemed ({} redemptions failed, {} rao lost to closed channels)",
            g(&self.requests),
            g(&self.answered),
            g(&self.refused),
            g(&self.charged),
            g(&self.redeemed),
            g(&self.redeem_failures),
            g(&self.written_off)
        )
    }
}

/// A gateway's shared state.
pub struct Gateway {
    config: GatewayConfig,
    key: SigningKey,
    hotkey: Address,
    chain_id: String,
    chain: Arc<dyn GatewayChain>,
    subnets: BTreeMap<u16, Served>,
    books: Mutex<Books>,
    channels: Mutex<BTreeMap<u64, Channel>>,
    height: AtomicU64,
    /// When `height` was last read from the chain, and the pace of blocks.
    pace: Mutex<Pace>,
    everyone: Arc<Semaphore>,
    /// Requests in flight per miner hotkey ([`PER_MINER`] each).
    at_miner: Mutex<BTreeMap<Address, Arc<Semaphore>>>,
    /// Paid requests in flight per client address ([`PER_PEER`] each).
    from_peer: Mutex<BTreeMap<std::net::IpAddr, Arc<Semaphore>>>,
    /// Its counters.
    pub stats: GatewayStats,
}

/// An HTTP error: status, code, message.
#[derive(Debug)]
pub struct ApiErr(StatusCode, &'static str, String);

impl ApiErr {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiErr(status, code, message.into())
    }

    fn bad(message: impl Into<String>) -> Self {
        ApiErr::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl From<Refusal> for ApiErr {
    fn from(r: Refusal) -> Self {
        ApiErr(r.status, r.code, r.message)
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let body = ApiError {
            error: ErrorBody {
                code: self.1.into(),
                message: self.2,
            },
        };
        (self.0, axum::Json(body)).into_response()
    }
}

impl Gateway {
    /// Reads the chain id, each subnet's task and the first rankings, and builds the
    /// gateway for `key`.
    pub async fn connect(
        chain: Arc<dyn GatewayChain>,
        key: SigningKey,
        config: GatewayConfig,
    ) -> Result<Arc<Self>, NeuronError> {
        if config.netuids.is_empty() {
            return Err(NeuronError::Chain("serve at least one netuid".into()));
        }
        if config.top_k == 0 {
            return Err(NeuronError::Chain("--top-k must be at least 1".into()));
        }
        let c = Arc::clone(&chain);
        let netuids = config.netuids.clone();
        let (chain_id, height, tasks) = blocking(move || {
            let tasks = netuids
                .iter()
                .map(|&n| Ok((n, c.task(n)?)))
                .collect::<Result<Vec<_>, NeuronError>>()?;
            Ok((c.chain_id()?, c.height()?, tasks))
        })
        .await?;
        let mut subnets = BTreeMap::new();
        for (netuid, (contract, task)) in tasks {
            let dendrite =
                Dendrite::new(key.clone(), &chain_id, netuid).map_err(NeuronError::Http)?;
            let served = Served {
                now: RwLock::new(SubnetNow { contract, task }),
                dendrite,
                ranked: RwLock::new(vec![]),
            };
            subnets.insert(netuid, served);
        }
        let books = match &config.books {
            Some(p) => Books::load(p, &chain_id).map_err(NeuronError::Chain)?,
            None => Books::default(),
        };
        let gw = Arc::new(Gateway {
            hotkey: Address::from_public_key(&key.verifying_key().to_bytes()),
            config,
            key,
            chain_id,
            chain,
            subnets,
            books: Mutex::new(books),
            channels: Mutex::new(BTreeMap::new()),
            height: AtomicU64::new(height),
            pace: Mutex::new(Pace::new(height, Instant::now())),
            everyone: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            at_miner: Mutex::new(BTreeMap::new()),
            from_peer: Mutex::new(BTreeMap::new()),
            stats: GatewayStats::default(),
        });
        gw.refresh_rankings().await;
        Ok(gw)
    }

    /// What will keep miners from answering this gateway: its hotkey without a
    /// validator permit or the minimum stake on a served subnet.
    pub async fn warnings(&self) -> Vec<String> {
        let mut out = vec![];
        for &netuid in self.subnets.keys() {
            let c = Arc::clone(&self.chain);
            let Ok(rows) = blocking(move || c.metagraph(netuid)).await else {
                continue;
            };
            let me = rows.iter().find(|r| r.hotkey == self.hotkey);
            let min = crate::chain::MIN_VALIDATOR_STAKE;
            match me {
                None => out.push(format!(
                    "{} is not registered on netuid {netuid}: its miners will refuse this gateway",
                    self.hotkey
                )),
                Some(r) if !r.permit || r.stake < min => out.push(format!(
                    "{} holds no validator permit with {min} rao of stake on netuid {netuid} (yet): its miners refuse this gateway until it does",
                    self.hotkey
                )),
                Some(_) => {}
            }
        }
        out
    }

    /// The gateway hotkey.
    pub fn hotkey(&self) -> Address {
        self.hotkey
    }

    /// What `GET /v1/subnets` returns.
    pub fn info(&self) -> GatewayInfo {
        GatewayInfo {
            chain_id: self.chain_id.clone(),
            gateway: self.hotkey.to_string(),
            price_rao: self.config.price.to_string(),
            top_k: self.config.top_k as u32,
            expiry_margin_blocks: self.config.expiry_margin,
            subnets: self
                .subnets
                .iter()
                .map(|(n, s)| SubnetEntry {
                    netuid: *n,
                    task: s.now().task.kind.name().into(),
                })
                .collect(),
        }
    }

    /// The HTTP routes (`api::ROUTES`).
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/v1/subnets/{netuid}/ask", post(ask_subnet))
            .route("/v1/ask", post(ask_route))
            .route("/v1/subnets", get(info))
            .route("/v1/channels/{id}", get(channel_books))
            .route("/openapi.json", get(openapi))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(Arc::clone(self))
    }

    /// Serves on `listener` until `shutdown`, following the chain and redeeming in the
    /// background; then redeems every earned voucher once more.
    pub async fn serve(
        self: &Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let follower = tokio::spawn(Arc::clone(self).follow());
        let redeemer = tokio::spawn(Arc::clone(self).redeem_loop());
        let app = self
            .router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        follower.abort();
        redeemer.abort();
        self.redeem(true).await;
        served
    }

    /// Binds `addr` and serves in the background until the runtime stops; the bound
    /// address.
    pub async fn spawn(
        self: &Arc<Self>,
        addr: std::net::SocketAddr,
    ) -> std::io::Result<std::net::SocketAddr> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let me = Arc::clone(self);
        tokio::spawn(async move {
            let _ = me.serve(listener, std::future::pending()).await;
        });
        Ok(bound)
    }

    fn log(&self, line: impl FnOnce() -> String) {
        if self.config.log {
            println!("gateway: {}", line());
        }
    }

    /// Polls the height; on a new block, refreshes the rankings. Never waits on a
    /// transaction, so the height it keeps stays fresh.
    async fn follow(self: Arc<Self>) {
        let mut last = self.height.load(Ordering::Relaxed);
        loop {
            tokio::time::sleep(self.config.poll).await;
            let c = Arc::clone(&self.chain);
            let Ok(Ok(h)) = tokio::task::spawn_blocking(move || c.height()).await else {
                continue;
            };
            self.height.store(h, Ordering::Relaxed);
            if let Ok(mut p) = self.pace.lock() {
                p.observe(h, Instant::now());
            }
            if h != last {
                last = h;
                self.refresh_rankings().await;
            }
        }
    }

    /// Redeems what is due whenever the height moves (in its own task: a redemption waits
    /// for its block).
    async fn redeem_loop(self: Arc<Self>) {
        let mut last = 0;
        loop {
            tokio::time::sleep(self.config.poll).await;
            let h = self.height.load(Ordering::Relaxed);
            if h != last {
                last = h;
                self.redeem(false).await;
            }
        }
    }

    /// The height to judge a voucher by: the latest read, projected forward at the
    /// observed block pace when the chain has not answered for a while; refused once it
    /// is older than [`pace::STALE_HEIGHT`].
    fn fresh_height(&self) -> Result<u64, ApiErr> {
        let h = self.height.load(Ordering::Relaxed);
        let projected = match self.pace.lock() {
            Ok(p) => p.projected(h, Instant::now(), self.config.poll),
            Err(_) => Err(Duration::MAX),
        };
        projected.map_err(|age| {
            ApiErr::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "chain_unavailable",
                format!("the chain has not been read for {} s", age.as_secs()),
            )
        })
    }

    /// Re-ranks each subnet's miners from the metagraph and this hotkey's weights, and
    /// reads a subnet's task again when another contract holds its netuid; keeps what it
    /// had when the chain cannot be read.
    async fn refresh_rankings(&self) {
        for (&netuid, served) in &self.subnets {
            let c = Arc::clone(&self.chain);
            let held = served.now().contract;
            let replaced = blocking(move || match c.subnet_contract(netuid)? {
                contract if contract == held => Ok(None),
                _ => c.task(netuid).map(Some),
            });
            if let Ok(Some((contract, task))) = replaced.await
                && let Ok(mut now) = served.now.write()
            {
                self.log(|| format!("netuid {netuid} is now contract {contract}'s"));
                *now = SubnetNow { contract, task };
            }
            let (c, me) = (Arc::clone(&self.chain), self.hotkey);
            let fetched = blocking(move || Ok((c.metagraph(netuid)?, c.weights(netuid, &me)?)));
            if let Ok((rows, weights)) = fetched.await
                && let Ok(mut r) = served.ranked.write()
            {
                *r = rank::rank(&rows, &weights, &me);
            }
        }
    }

    /// Redeems one transaction of vouchers, the [`REDEEM_BATCH`] nearest their expiry,
    /// when any is due ([`Books::due`]; the loop comes back at the next block, so the
    /// nearest deadlines always go first); every unredeemed one, a transaction each
    /// [`REDEEM_BATCH`], when `all`. A refused batch is settled from the chain and sent
    /// again, then halved (`redeem_after_refusal`).
    async fn redeem(&self, all: bool) {
        let height = self.height.load(Ordering::Relaxed);
        let (every, margin) = (self.config.redeem_every_blocks, self.config.expiry_margin);
        let due = match self.books.lock() {
            Ok(b) if all => b.all_unredeemed(),
            Ok(b) => b.due(height, every, margin),
            Err(_) => return,
        };
        for batch in due.chunks(REDEEM_BATCH) {
            match self.send_batch(batch).await {
                Ok(()) => {}
                Err(_) if batch.len() > 1 => self.redeem_after_refusal(batch).await,
                Err(e) => {
                    for r in batch {
                        self.redemption_failed(r.channel, r.cumulative, &e).await;
                    }
                }
            }
        }
        let height = self.height.load(Ordering::Relaxed);
        if let Ok(mut b) = self.books.lock() {
            b.prune(height);
        }
        if let Ok(mut c) = self.channels.lock() {
            c.retain(|_, ch| ch.expires_at >= height);
        }
        self.save();
    }

    /// Books a redemption the chain committed at block `h`.
    fn redeemed(&self, id: u64, cumulative: u64, h: u64) {
        let paid = self
            .books
            .lock()
            .map_or(0, |mut b| b.redeemed(id, cumulative, h));
        self.stats.redeemed.fetch_add(paid, Ordering::Relaxed);
        self.log(|| format!("redeemed channel {id} up to {cumulative} rao (block {h})"));
    }

    /// A refused batch: what the chain shows closed or redeemed already is settled from
    /// it and the rest goes again in one transaction; refused again, it is split in
    /// halves, each settled and sent the same way (a bad voucher costs the others a few
    /// blocks, not one each). At most [`RESENDS`] transactions a round: what is left waits
    /// for the next.
    async fn redeem_after_refusal(&self, batch: &[ledger::Redemption]) {
        let mut parts = vec![batch.to_vec()];
        let mut sent = 0;
        while let Some(part) = parts.pop() {
            let mut rest = vec![];
            for r in part {
                if self.reconcile(r.channel, r.cumulative).await {
                    rest.push(r);
                }
            }
            if rest.is_empty() {
                continue;
            }
            if sent == RESENDS {
                return;
            }
            sent += 1;
            match self.send_batch(&rest).await {
                Ok(()) => {}
                Err(e) if rest.len() == 1 => {
                    self.redemption_failed(rest[0].channel, rest[0].cumulative, &e)
                        .await;
                }
                Err(_) => {
                    let later = rest.split_off(rest.len() / 2);
                    parts.push(later);
                    parts.push(rest);
                }
            }
        }
    }

    /// Redeems `batch` in one transaction and books it.
    async fn send_batch(&self, batch: &[ledger::Redemption]) -> Result<(), NeuronError> {
        let (c, key) = (Arc::clone(&self.chain), self.key.clone());
        let vouchers: Vec<(u64, u64, [u8; 64])> = batch
            .iter()
            .map(|r| (r.channel, r.cumulative, r.signature))
            .collect();
        let h = blocking(move || c.redeem_all(&key, &vouchers)).await?;
        for r in batch {
            self.redeemed(r.channel, r.cumulative, h);
        }
        Ok(())
    }

    /// A redemption failed: what the chain says settles it (redeemed already, closed for
    /// good); otherwise it is tried again at the next block.
    async fn redemption_failed(&self, id: u64, cumulative: u64, e: &NeuronError) {
        self.stats.redeem_failures.fetch_add(1, Ordering::Relaxed);
        eprintln!("gateway: redeeming channel {id} up to {cumulative} rao failed: {e}");
        self.reconcile(id, cumulative).await;
    }

    /// Books channel `id` as the chain shows it: closed (what was earned above its
    /// redemption is lost, never tried again) or redeemed up to some amount. Whether a
    /// voucher for `cumulative` is still to redeem (also when the chain cannot be read).
    async fn reconcile(&self, id: u64, cumulative: u64) -> bool {
        let c = Arc::clone(&self.chain);
        let Ok(Some(ch)) = blocking(move || c.channel(id)).await else {
            return true;
        };
        let Ok(mut b) = self.books.lock() else {
            return true;
        };
        if ch.closed {
            let lost = b.give_up(id, ch.redeemed);
            self.stats.written_off.fetch_add(lost, Ordering::Relaxed);
            eprintln!("gateway: channel {id} closed before redemption: {lost} rao earned are lost");
            return false;
        }
        b.redeemed(id, ch.redeemed, self.height.load(Ordering::Relaxed));
        ch.redeemed < cumulative
    }

    fn save(&self) {
        let Some(path) = &self.config.books else {
            return;
        };
        if let Ok(b) = self.books.lock()
            && let Err(e) = b.save(path)
        {
            eprintln!("gateway: saving the books: {e}");
        }
    }

    /// The channel `id`, from the cache or the chain (cached only when it pays this
    /// gateway: its deposit, key and expiry never change, and it can close only after the
    /// expiry, from which its vouchers are refused anyway).
    async fn channel(&self, id: u64) -> Result<Channel, ApiErr> {
        if let Some(c) = self.channels.lock().ok().and_then(|m| m.get(&id).cloned()) {
            return Ok(c);
        }
        let c = Arc::clone(&self.chain);
        let fetched = blocking(move || c.channel(id)).await.map_err(|e| {
            ApiErr::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "chain_unavailable",
                e.to_string(),
            )
        })?;
        let Some(ch) = fetched else {
            return Err(ApiErr::new(
                StatusCode::NOT_FOUND,
                "unknown_channel",
                format!("no channel {id} on chain {}", self.chain_id),
            ));
        };
        if ch.gateway == self.hotkey
            && let Ok(mut m) = self.channels.lock()
        {
            m.insert(id, ch.clone());
        }
        Ok(ch)
    }

    /// Admits `voucher` for a request on `netuid`: the channel's terms, then the signature.
    async fn admit(&self, netuid: u16, voucher: &VoucherWire) -> Result<Ticket, ApiErr> {
        let served = self.served(netuid)?;
        let (cumulative, signature) = voucher.parse().map_err(ApiErr::bad)?;
        let ch = self.channel(voucher.channel).await?;
        let terms = Terms {
            me: self.hotkey,
            netuid,
            subnet_contract: served.now().contract,
            chain_id: &self.chain_id,
            price: self.config.price,
            height: self.fresh_height()?,
            margin: self.config.expiry_margin,
        };
        ledger::check_signature(&ch, voucher.channel, cumulative, &signature, &self.chain_id)?;
        let mut books = self
            .books
            .lock()
            .map_err(|_| ApiErr::new(StatusCode::SERVICE_UNAVAILABLE, "poisoned", "books"))?;
        Ok(books.admit(voucher.channel, &ch, cumulative, signature, &terms)?)
    }

    fn settle(&self, t: &Ticket) {
        let h = self.height.load(Ordering::Relaxed);
        if let Ok(mut b) = self.books.lock() {
            b.settle(t, h);
        }
        self.stats.charged.fetch_add(t.charge, Ordering::Relaxed);
        self.save();
    }

    /// Whether an answer on `t` may still be charged (the chain's height, projected, and
    /// the redemption queue leave time to redeem it before the channel's expiry).
    fn in_time(&self, t: &Ticket) -> bool {
        let Ok(height) = self.fresh_height() else {
            return false;
        };
        self.books
            .lock()
            .is_ok_and(|b| b.in_time(t.channel, height, self.config.expiry_margin))
    }

    fn release(&self, t: &Ticket) {
        if let Ok(mut b) = self.books.lock() {
            b.release(t);
        }
    }

    /// Asks the top-k miners of `netuid`; the chosen answer (not yet charged).
    async fn query(&self, netuid: u16, served: &Served, input: &[u8]) -> Result<Answer, ApiErr> {
        let (targets, _slots) = match served.ranked.read() {
            Ok(ranked) if !ranked.is_empty() => self.free_miners(&ranked),
            _ => {
                return Err(ApiErr::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no_miners",
                    format!("no miner of netuid {netuid} serves an axon"),
                ));
            }
        };
        if targets.is_empty() {
            return Err(ApiErr::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "miners_busy",
                format!(
                    "every miner of netuid {netuid} already has {PER_MINER} of this gateway's requests in flight"
                ),
            ));
        }
        let task = served.now().task;
        let timeout = Duration::from_millis(u64::from(task.challenge_timeout_ms));
        let started = Instant::now();
        let replies = served
            .dendrite
            .query_all(task.kind, input, &targets, timeout)
            .await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let texts: Vec<Option<&str>> = replies.iter().map(|r| r.answer.as_deref().ok()).collect();
        let Some(choice) = rank::choose(&texts) else {
            let why: Vec<String> = replies
                .iter()
                .map(|r| {
                    format!(
                        "UID {}: {}",
                        r.uid,
                        r.answer.as_ref().err().map_or("", |e| e)
                    )
                })
                .collect();
            return Err(ApiErr::new(
                StatusCode::BAD_GATEWAY,
                "no_answer",
                format!("no miner of netuid {netuid} answered ({})", why.join("; ")),
            ));
        };
        let t = &targets[choice.index];
        Ok(Answer {
            netuid,
            task: task.kind.name().into(),
            answer: texts[choice.index].unwrap_or_default().to_string(),
            miner: MinerRef {
                uid: t.uid,
                hotkey: t.hotkey.to_string(),
            },
            asked: targets.len() as u32,
            answered: choice.answered,
            agreed: choice.agreed,
            latency_ms,
            charged_rao: String::new(),
            cumulative_rao: String::new(),
            channel: 0,
        })
    }

    /// The best `top_k` of `ranked` with a free [`PER_MINER`] slot, and the slots (held
    /// until the query ends).
    fn free_miners(
        &self,
        ranked: &[Target],
    ) -> (Vec<Target>, Vec<tokio::sync::OwnedSemaphorePermit>) {
        let (mut targets, mut slots) = (vec![], vec![]);
        let Ok(mut at) = self.at_miner.lock() else {
            return (targets, slots);
        };
        // Forget idle miners once many were seen (churned hotkeys; a subnet holds at most
        // 4,096 UIDs).
        if at.len() > 8_192 {
            at.retain(|_, s| s.available_permits() < PER_MINER);
        }
        for t in ranked {
            if targets.len() == self.config.top_k {
                break;
            }
            let sem = at
                .entry(t.hotkey)
                .or_insert_with(|| Arc::new(Semaphore::new(PER_MINER)));
            if let Ok(slot) = Arc::clone(sem).try_acquire_owned() {
                slots.push(slot);
                targets.push(t.clone());
            }
        }
        (targets, slots)
    }

    fn served(&self, netuid: u16) -> Result<&Served, ApiErr> {
        self.subnets.get(&netuid).ok_or_else(|| {
            ApiErr::new(
                StatusCode::NOT_FOUND,
                "unknown_subnet",
                format!(
                    "this gateway serves netuids {:?}, not {netuid}",
                    self.config.netuids
                ),
            )
        })
    }

    /// One paid request to one subnet.
    pub async fn ask(
        &self,
        netuid: u16,
        input: &[u8],
        voucher: &VoucherWire,
    ) -> Result<Answer, ApiErr> {
        let served = self.served(netuid)?;
        check_input(served.now().task.kind, input)?;
        let ticket = self.admit(netuid, voucher).await?;
        self.answer_with(netuid, served, input, &ticket).await
    }

    /// Serves an admitted request: charged on an answer, released on a failure.
    async fn answer_with(
        &self,
        netuid: u16,
        served: &Served,
        input: &[u8],
        t: &Ticket,
    ) -> Result<Answer, ApiErr> {
        match self.query(netuid, served, input).await {
            Ok(_) if !self.in_time(t) => {
                self.release(t);
                Err(ApiErr::new(
                    StatusCode::PAYMENT_REQUIRED,
                    "channel_expiring",
                    format!(
                        "the answer came too near channel {}'s expiry to be redeemed: not sent, not charged",
                        t.channel
                    ),
                ))
            }
            Ok(mut a) => {
                self.settle(t);
                a.charged_rao = t.charge.to_string();
                a.cumulative_rao = t.cumulative.to_string();
                a.channel = t.channel;
                Ok(a)
            }
            Err(e) => {
                self.release(t);
                Err(e)
            }
        }
    }

    /// The subnet this gateway serves for `kind` (the lowest netuid).
    fn expert(&self, kind: TaskKind) -> Result<u16, ApiErr> {
        self.subnets
            .iter()
            .find(|(_, s)| s.now().task.kind == kind)
            .map(|(n, _)| *n)
            .ok_or_else(|| {
                ApiErr::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_input",
                    format!("this gateway serves no {} subnet", kind.name()),
                )
            })
    }

    /// A routed request: gate, admit every step's voucher, run the experts in order.
    pub async fn ask_route(
        &self,
        input: &[u8],
        vouchers: &[RouteVoucher],
    ) -> Result<RouteAnswer, ApiErr> {
        let kinds = taochain_tasks::route::route(input)
            .map_err(|e| ApiErr::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_input", e))?;
        let steps = kinds
            .iter()
            .map(|k| self.expert(*k))
            .collect::<Result<Vec<u16>, _>>()?;
        check_input(kinds[0], input)?;
        if vouchers.len() > MAX_ROUTE_VOUCHERS {
            return Err(ApiErr::bad(format!(
                "at most {MAX_ROUTE_VOUCHERS} vouchers"
            )));
        }
        for v in vouchers {
            if !steps.contains(&v.netuid) {
                return Err(ApiErr::bad(format!(
                    "a voucher for netuid {}, which is not on the route {steps:?}",
                    v.netuid
                )));
            }
        }
        let mut tickets: Vec<Ticket> = vec![];
        for &netuid in &steps {
            let admitted = match vouchers.iter().find(|v| v.netuid == netuid) {
                None => Err(ApiErr::new(
                    StatusCode::PAYMENT_REQUIRED,
                    "voucher_missing",
                    format!("the route {steps:?} needs a voucher for netuid {netuid}"),
                )),
                Some(v) => self.admit(netuid, &v.voucher).await,
            };
            match admitted {
                Ok(t) => tickets.push(t),
                Err(e) => {
                    tickets.iter().for_each(|t| self.release(t));
                    return Err(e);
                }
            }
        }
        self.run_route(input, &steps, &tickets).await
    }

    async fn run_route(
        &self,
        input: &[u8],
        steps: &[u16],
        tickets: &[Ticket],
    ) -> Result<RouteAnswer, ApiErr> {
        let started = Instant::now();
        let mut route: Vec<Answer> = vec![];
        let mut next = input.to_vec();
        for (i, (&netuid, t)) in steps.iter().zip(tickets).enumerate() {
            let served = self.served(netuid)?;
            // An expert's answer with no words (an empty transcript) ends the route; the
            // rest is not charged.
            if i > 0 && check_input(served.now().task.kind, &next).is_err() {
                tickets[i..].iter().for_each(|t| self.release(t));
                break;
            }
            match self.answer_with(netuid, served, &next, t).await {
                Ok(a) => {
                    next = a.answer.clone().into_bytes();
                    route.push(a);
                }
                Err(ApiErr(status, code, message)) => {
                    tickets[i + 1..].iter().for_each(|t| self.release(t));
                    let done: Vec<String> = route
                        .iter()
                        .map(|a| format!("{} answered `{}` (charged)", a.task, a.answer))
                        .collect();
                    return Err(ApiErr(
                        status,
                        code,
                        format!(
                            "step {} of the route: {message}; before it: {done:?}",
                            i + 1
                        ),
                    ));
                }
            }
        }
        Ok(RouteAnswer {
            answer: route.last().map(|a| a.answer.clone()).unwrap_or_default(),
            route,
            latency_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// `GET /v1/channels/{id}`.
    async fn books_of(&self, id: u64) -> Result<ChannelBooks, ApiErr> {
        let ch = self.channel(id).await?;
        let (charged, redeemed) = self
            .books
            .lock()
            .ok()
            .and_then(|b| b.get(id))
            .unwrap_or((ch.redeemed, ch.redeemed));
        Ok(ChannelBooks {
            channel: id,
            charged_rao: charged.max(ch.redeemed).to_string(),
            redeemed_rao: redeemed.max(ch.redeemed).to_string(),
            deposit_rao: ch.deposit.to_string(),
            expires_at: ch.expires_at,
        })
    }
}

/// The input is what `kind` takes (by the gating rule's detector) and within size.
fn check_input(kind: TaskKind, input: &[u8]) -> Result<(), ApiErr> {
    if input.len() > MAX_INPUT {
        return Err(ApiErr::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the input is over {MAX_INPUT} bytes"),
        ));
    }
    let unsupported = |why: String| {
        ApiErr::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_input",
            format!("{} takes {}: {why}", kind.name(), kind.input_type()),
        )
    };
    match taochain_tasks::route::input_kind(input) {
        Ok(k) if k == kind => Ok(()),
        Ok(k) => Err(unsupported(format!("this input is for {}", k.name()))),
        Err(e) => Err(unsupported(e)),
    }
}

/// The request's input and its JSON fields, from a JSON or a multipart body.
struct Incoming {
    input: Vec<u8>,
    fields: BTreeMap<String, String>,
    json: Option<Vec<u8>>,
}

async fn read_body(req: Request) -> Result<Incoming, ApiErr> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("multipart/form-data"));
    let read = async move {
        if !multipart {
            let bytes = to_bytes(req.into_body(), MAX_BODY)
                .await
                .map_err(|_| too_large())?;
            return Ok(Incoming {
                input: vec![],
                fields: BTreeMap::new(),
                json: Some(bytes.to_vec()),
            });
        }
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiErr::bad(format!("multipart: {e}")))?;
        let (mut input, mut fields) = (None, BTreeMap::new());
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiErr::bad(format!("multipart: {e}")))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ApiErr::bad(format!("multipart field `{name}`: {e}")))?;
            if name == "file" {
                input = Some(bytes.to_vec());
            } else if fields.len() < 8 {
                let text = String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiErr::bad(format!("field `{name}` is not UTF-8")))?;
                fields.insert(name, text);
            }
        }
        let input = input.ok_or_else(|| ApiErr::bad("multipart: no `file` part"))?;
        Ok(Incoming {
            input,
            fields,
            json: None,
        })
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| {
            ApiErr::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("body not received within {} s", BODY_TIMEOUT.as_secs()),
            )
        })?
}

fn too_large() -> ApiErr {
    ApiErr::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the body is over {MAX_BODY} bytes"),
    )
}

fn decode_input(b64: &str) -> Result<Vec<u8>, ApiErr> {
    B64.decode(b64)
        .map_err(|e| ApiErr::bad(format!("input is not base64: {e}")))
}

fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, ApiErr> {
    fields
        .get(name)
        .map(|s| s.trim())
        .ok_or_else(|| ApiErr::bad(format!("multipart: no `{name}` field")))
}

fn parse_ask(b: Incoming) -> Result<(Vec<u8>, VoucherWire), ApiErr> {
    if let Some(json) = b.json {
        let r: AskRequest = serde_json::from_slice(&json)
            .map_err(|e| ApiErr::bad(format!("malformed request: {e}")))?;
        return Ok((decode_input(&r.input)?, r.voucher));
    }
    let f = &b.fields;
    let voucher = VoucherWire {
        channel: field(f, "channel")?
            .parse()
            .map_err(|_| ApiErr::bad("field `channel` is not a channel id"))?,
        cumulative_rao: field(f, "cumulative_rao")?.to_string(),
        signature: field(f, "signature")?.to_string(),
    };
    Ok((b.input, voucher))
}

fn parse_route(b: Incoming) -> Result<(Vec<u8>, Vec<RouteVoucher>), ApiErr> {
    if let Some(json) = b.json {
        let r: RouteRequest = serde_json::from_slice(&json)
            .map_err(|e| ApiErr::bad(format!("malformed request: {e}")))?;
        return Ok((decode_input(&r.input)?, r.vouchers));
    }
    let vouchers = serde_json::from_str(field(&b.fields, "vouchers")?)
        .map_err(|e| ApiErr::bad(format!("field `vouchers`: {e}")))?;
    Ok((b.input, vouchers))
}

/// Counts, limits and logs a request; `run` does the work.
async fn handle<T: serde::Serialize>(
    gw: &Gateway,
    what: String,
    run: impl std::future::Future<Output = Result<T, ApiErr>>,
) -> Response {
    gw.stats.requests.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let Ok(_slot) = Arc::clone(&gw.everyone).try_acquire_owned() else {
        gw.stats.refused.fetch_add(1, Ordering::Relaxed);
        return ApiErr::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("{MAX_IN_FLIGHT} requests in flight"),
        )
        .into_response();
    };
    let result = run.await;
    let ms = started.elapsed().as_millis();
    match result {
        Ok(v) => {
            gw.stats.answered.fetch_add(1, Ordering::Relaxed);
            gw.log(|| format!("{what}: 200 in {ms} ms"));
            axum::Json(v).into_response()
        }
        Err(e) => {
            gw.stats.refused.fetch_add(1, Ordering::Relaxed);
            gw.log(|| format!("{what}: {} {} in {ms} ms: {}", e.0.as_u16(), e.1, e.2));
            e.into_response()
        }
    }
}

/// The client address as [`PER_PEER`] counts it: an IPv4 address (an IPv4-mapped IPv6
/// one included), or an IPv6 /64 (what one host is usually given).
fn peer_key(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.into(),
            None => std::net::Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX)).into(),
        },
        v4 => v4,
    }
}

/// A slot for a paid request from `req`'s client address (none to take when the router
/// runs without connection info), or 429 when it has [`PER_PEER`] in flight.
fn peer_slot(
    gw: &Gateway,
    req: &Request,
) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, ApiErr> {
    let Some(axum::extract::ConnectInfo(addr)) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    else {
        return Ok(None);
    };
    let ip = peer_key(addr.ip());
    let sem = gw.from_peer.lock().map(|mut m| {
        // Forget idle addresses once many were seen.
        if m.len() > 4_096 {
            m.retain(|_, s| s.available_permits() < PER_PEER);
        }
        Arc::clone(
            m.entry(ip)
                .or_insert_with(|| Arc::new(Semaphore::new(PER_PEER))),
        )
    });
    let Ok(sem) = sem else {
        return Ok(None);
    };
    sem.try_acquire_owned().map(Some).map_err(|_| {
        gw.stats.refused.fetch_add(1, Ordering::Relaxed);
        ApiErr::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("{ip} already has {PER_PEER} requests in flight"),
        )
    })
}

/// Runs a paid request in its own task: a client that hangs up mid-request cannot leave
/// its channel busy or an answered request unsettled.
async fn detached(work: impl std::future::Future<Output = Response> + Send + 'static) -> Response {
    tokio::spawn(work).await.unwrap_or_else(|e| {
        ApiErr::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("request task: {e}"),
        )
        .into_response()
    })
}

async fn ask_subnet(
    State(gw): State<Arc<Gateway>>,
    Path(netuid): Path<String>,
    req: Request,
) -> Response {
    let peer = match peer_slot(&gw, &req) {
        Ok(slot) => slot,
        Err(busy) => return busy.into_response(),
    };
    detached(async move {
        let _peer = peer;
        let g = gw;
        let what = format!("ask netuid {netuid}");
        handle(&g, what, async {
            let netuid: u16 = netuid
                .parse()
                .map_err(|_| ApiErr::new(StatusCode::NOT_FOUND, "unknown_subnet", "bad netuid"))?;
            g.served(netuid)?;
            let (input, voucher) = parse_ask(read_body(req).await?)?;
            g.ask(netuid, &input, &voucher).await
        })
        .await
    })
    .await
}

async fn ask_route(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let peer = match peer_slot(&gw, &req) {
        Ok(slot) => slot,
        Err(busy) => return busy.into_response(),
    };
    detached(async move {
        let _peer = peer;
        let g = gw;
        handle(&g, "ask (routed)".into(), async {
            let (input, vouchers) = parse_route(read_body(req).await?)?;
            g.ask_route(&input, &vouchers).await
        })
        .await
    })
    .await
}

async fn info(State(gw): State<Arc<Gateway>>) -> Response {
    axum::Json(gw.info()).into_response()
}

async fn channel_books(
    State(gw): State<Arc<Gateway>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let _peer = match peer_slot(&gw, &req) {
        Ok(slot) => slot,
        Err(busy) => return busy.into_response(),
    };
    handle(&gw, format!("books of channel {id}"), async {
        let id: u64 = id
            .parse()
            .map_err(|_| ApiErr::bad(format!("`{id}` is not a channel id")))?;
        gw.books_of(id).await
    })
    .await
}

async fn openapi() -> Response {
    axum::Json(api::openapi()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_counted_by_its_ipv4_address_or_its_ipv6_slash_64() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect("ip");
        assert_eq!(peer_key(ip("10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(peer_key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(peer_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            peer_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            peer_key(ip("2001:db8:1:2::7"))
        );
        assert_ne!(
            peer_key(ip("2001:db8:1:3::7")),
            peer_key(ip("2001:db8:1:2::7"))
        );
    }
}
