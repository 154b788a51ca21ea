//! Benchmarks of the neuron runtime, printed by `tao bench arena` (never asserted in
//! tests): a validator round over many axons whose models answer instantly (the
//! runtime's own cost: signing, HTTP, verification, scoring), and one axon's admitted
//! requests per second on one core (signature, permit and nonce checks included).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use taochain_arena_msg::TaskKind;
use taochain_primitives::Address;

use crate::axon::{Axon, AxonConfig, Permits};
use crate::dendrite::{Dendrite, Target};
use crate::model::Model;

const CHAIN: &str = "bench";
const NETUID: u16 = 1;

/// What a round benchmark measured.
#[derive(Debug, Clone)]
pub struct RoundBench {
    /// Axons queried per round.
    pub axons: usize,
    /// Rounds run.
    pub rounds: usize,
    /// Median wall time of a round.
    pub median: Duration,
    /// Requests answered per second over all rounds.
    pub requests_per_s: f64,
}

fn echo_model() -> Model {
    Model::Func(Arc::new(|input: &[u8]| {
        Ok(format!("{} bytes", input.len()))
    }))
}

fn key(i: u64) -> SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    SigningKey::from_bytes(&seed)
}

fn address(k: &SigningKey) -> Address {
    Address::from_public_key(&k.verifying_key().to_bytes())
}

/// Starts `n` axons on loopback (in this runtime) admitting `validator`.
async fn axons(n: usize, validator: &SigningKey) -> Result<Vec<Target>, String> {
    let permits = Arc::new(Permits::fixed([address(validator)]));
    let mut targets = vec![];
    for i in 0..n {
        let miner = key(1000 + i as u64);
        let mut config = AxonConfig::new(NETUID, CHAIN, TaskKind::TextCorrection);
        config.per_validator = 64;
        let ax = Axon::new(config, miner.clone(), echo_model(), Arc::clone(&permits));
        let at = ax
            .spawn("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
            .await
            .map_err(|e| format!("bind: {e}"))?;
        targets.push(Target {
            uid: i as u16,
            hotkey: address(&miner),
            endpoint: format!("http://{at}"),
        });
    }
    Ok(targets)
}

/// `rounds` validator rounds over `n` instant axons; every answer must verify.
pub async fn round(n: usize, rounds: usize) -> Result<RoundBench, String> {
    let validator = key(1);
    let targets = axons(n, &validator).await?;
    let d = Dendrite::new(validator, CHAIN, NETUID)?;
    let input = b"the quick brwon fox".to_vec();
    let mut times = vec![];
    let started = Instant::now();
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let replies = d
            .query_all(
                TaskKind::TextCorrection,
                &input,
                &targets,
                Duration::from_secs(10),
            )
            .await;
        times.push(t.elapsed());
        if let Some(bad) = replies.iter().find(|r| r.answer.is_err()) {
            return Err(format!("axon {} failed: {:?}", bad.uid, bad.answer));
        }
    }
    let total = started.elapsed();
    times.sort();
    Ok(RoundBench {
        axons: n,
        rounds: times.len(),
        median: times[times.len() / 2],
        requests_per_s: (n * times.len()) as f64 / total.as_secs_f64(),
    })
}

/// One axon on a one-thread runtime of its own, `requests` signed requests from
/// `concurrency` clients on another thread; admitted and answered requests per second.
pub fn axon_on_one_core(requests: usize, concurrency: usize) -> Result<f64, String> {
    let validator = key(1);
    let (tx, rx) = std::sync::mpsc::channel();
    let permits = Arc::new(Permits::fixed([address(&validator)]));
    let miner = key(2);
    let hotkey = address(&miner);
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(format!("runtime: {e}")));
                return;
            }
        };
        rt.block_on(async move {
            let mut config = AxonConfig::new(NETUID, CHAIN, TaskKind::TextCorrection);
            config.per_validator = concurrency.max(1);
            let ax = Axon::new(config, miner, echo_model(), permits);
            let bound = match "127.0.0.1:0".parse() {
                Ok(a) => ax.spawn(a).await.map_err(|e| format!("bind: {e}")),
                Err(e) => Err(format!("{e}")),
            };
            let _ = tx.send(bound);
            std::future::pending::<()>().await;
        });
    });
    let at = rx.recv().map_err(|e| format!("axon thread: {e}"))??;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let d = Dendrite::new(validator, CHAIN, NETUID)?;
        let target = vec![Target {
            uid: 0,
            hotkey,
            endpoint: format!("http://{at}"),
        }];
        let per = requests.div_ceil(concurrency.max(1));
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let (d, target) = (d.clone(), target.clone());
            set.spawn(async move {
                let mut ok = 0usize;
                for _ in 0..per {
                    let r = d
                        .query_all(
                            TaskKind::TextCorrection,
                            b"x",
                            &target,
                            Duration::from_secs(10),
                        )
                        .await;
                    ok += usize::from(r[0].answer.is_ok());
                }
                ok
            });
        }
        let mut ok = 0;
        while let Some(n) = set.join_next().await {
            ok += n.unwrap_or(0);
        }
        Ok(ok as f64 / started.elapsed().as_secs_f64())
    })
}
