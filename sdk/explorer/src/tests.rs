//! The explorer against a fake CometBFT RPC (an in-process HTTP server answering `status`,
//! `block` and `block_results`, counting what it is asked): committed blocks are read from
//! the node once, and a request that finds every read slot taken is answered 503.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use taochain_primitives::Address;
use taochain_primitives::channel::Channel;

use super::*;

/// A fake node at a loopback port: `status` answers height `height` after `status_delay`;
/// `abci_query` knows channels 1..=`channels`.
struct FakeNode {
    url: String,
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
}

fn fake_node(height: u64, status_delay: Duration) -> FakeNode {
    fake_node_with_channels(height, status_delay, 0)
}

fn fake_node_with_channels(height: u64, status_delay: Duration, channels: u64) -> FakeNode {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let calls = Arc::new(Mutex::new(BTreeMap::new()));
    let counted = Arc::clone(&calls);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || answer(conn, height, status_delay, channels, &counted));
        }
    });
    FakeNode { url, calls }
}

fn answer(
    conn: TcpStream,
    height: u64,
    status_delay: Duration,
    channels: u64,
    calls: &Mutex<BTreeMap<String, u64>>,
) {
    let mut reader = BufReader::new(conn);
    loop {
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let req: Value = serde_json::from_slice(&body).unwrap_or_default();
        let method = req["method"].as_str().unwrap_or_default().to_string();
        let h = match method.as_str() {
            "abci_query" => req["params"]["path"].as_str(),
            _ => req["params"]["height"].as_str(),
        }
        .unwrap_or_default()
        .to_string();
        *calls
            .lock()
            .expect("calls")
            .entry(format!("{method} {h}"))
            .or_default() += 1;
        let result = match method.as_str() {
            "status" => {
                std::thread::sleep(status_delay);
                json!({"node_info": {"network": "fake", "id": "f"},
                       "sync_info": {"latest_block_height": height.to_string()}})
            }
            "block" => json!({"block_id": {"hash": format!("H{h}")},
                              "block": {"header": {"time": "t", "proposer_address": "P"},
                                        "data": {"txs": []}}}),
            "block_results" => json!({"txs_results": [], "finalize_block_events": []}),
            "abci_query" => {
                let value = fake_state(&h, channels);
                json!({"response": {"code": 0, "log": "", "key": "", "height": height.to_string(),
                                    "value": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, value)}})
            }
            _ => json!({}),
        };
        let out = json!({"jsonrpc": "2.0", "id": 1, "result": result}).to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            out.len()
        );
        let conn = reader.get_mut();
        // One write: a head and body sent apart wait on the peer's delayed ACK.
        if conn.write_all(format!("{head}{out}").as_bytes()).is_err() {
            return;
        }
    }
}

/// The contract of the subnet on netuid 1, and of the one dissolved there before it.
const SUBNET: Address = Address([4; 20]);
const OLD_SUBNET: Address = Address([5; 20]);

/// The raw value at `path` in a state holding subnet 1 and channels 1..=`channels` (each
/// has redeemed its id in rao; the even ones paid the subnet netuid 1 had before; empty:
/// absent).
fn fake_state(path: &str, channels: u64) -> Vec<u8> {
    if path == "/channel_seq" {
        return borsh::to_vec(&channels).expect("encodes");
    }
    if path == "/subnets" {
        let info = taochain_primitives::subnet::SubnetInfo {
            owner: Address([6; 20]),
            owner_hotkey: Address([7; 20]),
            contract: SUBNET,
            locked: 0,
            registered_at: 1,
            hyperparams: Default::default(),
            burn: 0,
            burn_block: 0,
            last_epoch: 0,
            n: 1,
        };
        let view = taochain_primitives::subnet::SubnetView {
            netuid: 1,
            info,
            pot: 0,
            burn: 0,
            share_q32: 0,
        };
        return borsh::to_vec(&vec![view]).expect("encodes");
    }
    match path
        .strip_prefix("/channel/")
        .and_then(|id| id.parse::<u64>().ok())
    {
        Some(id) if (1..=channels).contains(&id) => borsh::to_vec(&Channel {
            user: Address([1; 20]),
            user_key: [2; 32],
            gateway: Address([3; 20]),
            netuid: 1,
            subnet_contract: if id % 2 == 0 { OLD_SUBNET } else { SUBNET },
            gateway_share_bps: 1_000,
            deposit: id,
            redeemed: id,
            expires_at: 100,
            closed: false,
        })
        .expect("encodes"),
        _ => vec![],
    }
}

/// Each path the explorer read from the node, and how often.
fn queries(node: &FakeNode) -> BTreeMap<String, u64> {
    node.calls
        .lock()
        .expect("calls")
        .iter()
        .filter_map(|(k, n)| Some((k.strip_prefix("abci_query ")?.to_string(), *n)))
        .collect()
}

#[test]
fn the_channel_scan_reads_the_newest_channels_once_each_and_usage_counts_by_subnet() {
    let node = fake_node_with_channels(10, Duration::ZERO, views::MAX_CHANNELS + 500);
    let source = views::Source::new(&node.url, &[]);
    let list = source.channels().expect("channels");
    let ids: Vec<u64> = list.iter().map(|(id, _)| *id).collect();
    let first = 501;
    assert_eq!(ids, (first..=views::MAX_CHANNELS + 500).collect::<Vec<_>>());
    assert!(list.iter().all(|(id, c)| c.deposit == *id));
    let read = queries(&node);
    assert_eq!(
        read.len() as u64,
        views::MAX_CHANNELS + 1,
        "the newest and the last id"
    );
    assert!(read.values().all(|n| *n == 1));
    assert!(!read.contains_key("/channel/500"));
    // A chain with fewer channels than the cap: all of them, from 1; none: an empty list.
    let node = fake_node_with_channels(10, Duration::ZERO, 3);
    let ids: Vec<u64> = views::Source::new(&node.url, &[])
        .channels()
        .expect("channels")
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids, vec![1, 2, 3]);
    // Usage is what channels paid the subnet on netuid 1 now: channels 1 and 3, not 2.
    let subnets = views::Source::new(&node.url, &[])
        .subnets()
        .expect("subnets");
    assert_eq!(subnets[0]["netuid"], 1);
    assert_eq!(subnets[0]["usage_rao"], "4");
    let node = fake_node_with_channels(10, Duration::ZERO, 0);
    assert!(
        views::Source::new(&node.url, &[])
            .channels()
            .expect("none")
            .is_empty()
    );
}

fn block_reads(node: &FakeNode) -> u64 {
    node.calls
        .lock()
        .expect("calls")
        .iter()
        .filter(|(k, _)| k.starts_with("block "))
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn committed_blocks_are_read_from_the_node_once() {
    let node = fake_node(30, Duration::ZERO);
    let source = views::Source::new(&node.url, &[]);
    let first = source.blocks(5).expect("blocks");
    assert_eq!(first.as_array().map(Vec::len), Some(5));
    assert_eq!(first[0]["height"], 30);
    assert_eq!(block_reads(&node), 5);
    // The same view again, and a longer one: only the blocks not seen are read.
    assert_eq!(source.blocks(5).expect("blocks"), first);
    assert_eq!(block_reads(&node), 5);
    source.blocks(8).expect("blocks");
    assert_eq!(block_reads(&node), 8);
    assert_eq!(source.cached_block_views().0, 8);
}

#[test]
fn the_block_cache_keeps_the_newest_views_within_its_bytes_and_no_oversized_one() {
    let node = fake_node(30, Duration::ZERO);
    let full = views::Source::new(&node.url, &[]);
    full.blocks(8).expect("blocks");
    let (n, bytes) = full.cached_block_views();
    assert_eq!(n, 8);
    let view = bytes / 8;
    // Room for four views: the newest four stay, the oldest are dropped.
    let cap = 4 * view + view / 2;
    let node = fake_node(30, Duration::ZERO);
    let source = views::Source::new(&node.url, &[]).with_block_cache_bytes(cap);
    source.blocks(8).expect("blocks");
    let (kept, kept_bytes) = source.cached_block_views();
    assert_eq!(kept, 4);
    assert!(kept_bytes <= cap, "{kept_bytes} > {cap}");
    assert_eq!(block_reads(&node), 8);
    source.blocks(4).expect("the newest four");
    assert_eq!(block_reads(&node), 8, "the newest are kept");
    source.block(23).expect("the oldest");
    assert_eq!(block_reads(&node), 9, "the oldest was dropped");
    // A view larger than a quarter of the cache is never kept.
    let node = fake_node(30, Duration::ZERO);
    let small = views::Source::new(&node.url, &[]).with_block_cache_bytes(2 * view);
    small.block(30).expect("block");
    small.block(30).expect("block");
    assert_eq!(block_reads(&node), 2);
    assert_eq!(small.cached_block_views(), (0, 0));
}

/// `GET path` on the explorer at `addr`: status code and body.
fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .expect("sends");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

#[test]
fn a_request_that_finds_every_read_slot_taken_is_answered_busy() {
    // Every status call takes longer than a request waits for a slot.
    let node = fake_node(3, BUSY_WAIT + Duration::from_secs(2));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let addr = rt
        .block_on(Explorer::new(&node.url, &[]).spawn("127.0.0.1:0".parse().expect("addr")))
        .expect("serves");
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let requests: Vec<_> = (0..MAX_READS + 2)
            .map(|_| s.spawn(move || get(addr, "/api/height")))
            .collect();
        requests
            .into_iter()
            .map(|r| r.join().expect("request"))
            .collect()
    });
    let codes: Vec<u16> = answers.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        codes.iter().filter(|c| **c == 200).count(),
        MAX_READS,
        "{codes:?}"
    );
    let busy: Vec<&String> = answers
        .iter()
        .filter(|(c, _)| *c == 503)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(busy.len(), 2, "{codes:?}");
    assert!(busy[0].contains("the explorer is busy"), "{}", busy[0]);
}
