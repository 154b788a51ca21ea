//! The gateway's benchmarks, printed by `tao bench gateway` (never asserted in tests):
//! vouchers checked per second on one core (the signature alone, and the whole admission:
//! signature and books), and the latency of a paid question with real models, asked of one
//! miner directly versus of the top 3 with agreement. The chain is the in-memory [`Fixed`];
//! miners are real axons on loopback running `model`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use taochain_arena_msg::{TaskKind, TaskSpec};
use taochain_primitives::Address;
use taochain_primitives::axon::AxonInfo;
use taochain_primitives::channel::{Channel, Voucher};
use taochain_primitives::subnet::MetagraphRow;

use super::api::VoucherWire;
use super::client::GatewayClient;
use super::ledger::{Books, Terms, check_signature};
use super::source::Fixed;
use super::{Gateway, GatewayConfig};
use crate::axon::{Axon, AxonConfig, Permits};
use crate::model::Model;

const CHAIN: &str = "bench";
const NETUID: u16 = 1;
const PRICE: u64 = 1;
/// The served subnet's contract.
const CONTRACT: Address = Address([9; 20]);

fn key(i: u8) -> SigningKey {
    SigningKey::from_bytes(&[i; 32])
}

fn address(k: &SigningKey) -> Address {
    Address::from_public_key(&k.verifying_key().to_bytes())
}

fn channel(deposit: u64) -> Channel {
    Channel {
        user: address(&key(2)),
        user_key: key(2).verifying_key().to_bytes(),
        gateway: address(&key(1)),
        netuid: NETUID,
        subnet_contract: CONTRACT,
        gateway_share_bps: 1_000,
        deposit,
        redeemed: 0,
        expires_at: u64::MAX,
        closed: false,
    }
}

fn sign(id: u64, cumulative: u64) -> [u8; 64] {
    key(2)
        .sign(
            &Voucher {
                channel: id,
                cumulative,
            }
            .digest(CHAIN, NETUID),
        )
        .to_bytes()
}

/// Vouchers per second on this thread: `(signature checks, whole admissions)`, over `n`
/// distinct vouchers each.
pub fn vouchers_per_second(n: u64) -> (f64, f64) {
    let n = n.max(1);
    let c = channel(u64::MAX);
    let signed: Vec<[u8; 64]> = (1..=n).map(|i| sign(7, i * PRICE)).collect();
    let t = Instant::now();
    let ok = signed
        .iter()
        .enumerate()
        .filter(|(i, s)| check_signature(&c, 7, (*i as u64 + 1) * PRICE, s, CHAIN).is_ok())
        .count();
    let verify = ok as f64 / t.elapsed().as_secs_f64();
    let mut books = Books::default();
    let t = Instant::now();
    let mut admitted = 0u64;
    for (i, s) in signed.iter().enumerate() {
        let amount = (i as u64 + 1) * PRICE;
        let terms = Terms {
            me: c.gateway,
            netuid: NETUID,
            subnet_contract: c.subnet_contract,
            chain_id: CHAIN,
            price: PRICE,
            height: 1,
            margin: 5,
        };
        if check_signature(&c, 7, amount, s, CHAIN).is_ok()
            && let Ok(ticket) = books.admit(7, &c, amount, *s, &terms)
        {
            books.settle(&ticket, 1);
            admitted += 1;
        }
    }
    (verify, admitted as f64 / t.elapsed().as_secs_f64())
}

/// Latencies of `questions` paid questions of `kind` (fresh challenges) through a gateway
/// asking the top `k` of three miners running `model`.
pub async fn question_latencies(
    kind: TaskKind,
    model: Model,
    questions: usize,
    k: usize,
) -> Result<Vec<Duration>, String> {
    let gateway = key(1);
    let permits = Arc::new(Permits::fixed([address(&gateway)]));
    let mut rows = vec![];
    for uid in 0..3u16 {
        let miner = key(10 + uid as u8);
        let ax = Axon::new(
            AxonConfig::new(NETUID, CHAIN, kind),
            miner.clone(),
            model.clone(),
            Arc::clone(&permits),
        );
        let at = ax
            .spawn("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
            .await
            .map_err(|e| e.to_string())?;
        rows.push(MetagraphRow {
            uid,
            hotkey: address(&miner),
            coldkey: Address::default(),
            stake: 0,
            permit: false,
            active: true,
            consensus: 0,
            incentive: 100 - uid,
            dividends: 0,
            trust: 0,
            emission: 0,
            last_update: 0,
            registered_at: 0,
            axon: Some(AxonInfo {
                endpoint: format!("http://{at}"),
                protocol: 1,
                block: 1,
            }),
        });
    }
    let chain = Arc::new(Fixed {
        chain_id: CHAIN.into(),
        height: 1.into(),
        tasks: BTreeMap::from([(NETUID, (CONTRACT, TaskSpec::new(kind, 60_000, 500_000)))]).into(),
        channels: BTreeMap::from([(7, channel(u64::MAX))]).into(),
        metagraphs: BTreeMap::from([(NETUID, rows)]),
        ..Fixed::default()
    });
    let mut config = GatewayConfig::new(vec![NETUID], PRICE);
    config.top_k = k;
    let gw = Gateway::connect(chain, gateway, config)
        .await
        .map_err(|e| e.to_string())?;
    let at = gw
        .spawn("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?)
        .await
        .map_err(|e| e.to_string())?;
    let client = GatewayClient::new(&format!("http://{at}"), Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    let mut out = vec![];
    // Question 1 warms the models' files into the page cache; it is not counted.
    for q in 1..=questions as u64 + 1 {
        let c =
            taochain_tasks::challenge(kind, &mut rand::rngs::OsRng).map_err(|e| e.to_string())?;
        let v = VoucherWire {
            channel: 7,
            cumulative_rao: (q * PRICE).to_string(),
            signature: hex::encode(sign(7, q * PRICE)),
        };
        let t = Instant::now();
        client
            .ask(NETUID, &c.input, v)
            .await
            .map_err(|e| e.to_string())?;
        if q > 1 {
            out.push(t.elapsed());
        }
    }
    Ok(out)
}
