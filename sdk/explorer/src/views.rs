//! The explorer's JSON views, read from a node (and its peers, for their app hashes)
//! through the client SDK: blocking calls, made on tokio's blocking pool by the server.
//! Amounts are rao in decimal strings; fractions u16.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::{Value, json};
use taochain_client::Client;
use taochain_primitives::channel::Channel;
use taochain_primitives::subnet::{MetagraphRow, Proposal, SubnetView};
use taochain_primitives::{Address, TOTAL_SUPPLY_CAP, block_reward};

use crate::ExplorerError;

/// Most channels scanned (the newest) for the activity view and the usage per subnet.
pub const MAX_CHANNELS: u64 = 1_000;

/// Most blocks in the recent-blocks view.
pub const MAX_BLOCKS: u64 = 50;

/// Bytes of block views kept (a committed block never changes, so each is read from the
/// node once while it stays); the lowest heights go first. A block whose view alone is
/// larger than a quarter of this is not kept.
pub const BLOCK_CACHE_BYTES: usize = 64 << 20;

/// The nodes read.
pub struct Source {
    /// The node the explorer reads (`--node`).
    pub node: Client,
    /// Every node whose app hash is shown (the node first), by RPC URL.
    pub peers: Vec<(String, Client)>,
    /// A subnet's task name by its contract (new at each registration, so a subnet
    /// replaced on its netuid, even within one block, is asked again); `None`: neither an
    /// arena nor a market.
    tasks: Mutex<BTreeMap<Address, Option<String>>>,
    /// The last channel scan and when it was made (one scan serves every request for
    /// [`CHANNELS_TTL`]).
    channels: Mutex<Option<(std::time::Instant, Channels)>>,
    /// Block views by height, and their size in bytes in all.
    blocks: Mutex<BlockCache>,
    /// The most bytes of block views kept ([`BLOCK_CACHE_BYTES`]).
    block_cache_bytes: usize,
}

/// Block views by height with their sizes, and the bytes of all of them.
type BlockCache = (BTreeMap<u64, (Value, usize)>, usize);

/// Channels by id.
pub type Channels = Vec<(u64, Channel)>;

/// How long a channel scan is reused.
pub const CHANNELS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

fn decode<T: borsh::BorshDeserialize>(what: &str, raw: &[u8]) -> Result<T, ExplorerError> {
    borsh::from_slice(raw).map_err(|e| ExplorerError::Chain(format!("{what}: {e}")))
}

/// A CometBFT event as `{type, attributes: {key: value}}`.
fn event_json(e: &Value) -> Value {
    let attrs: BTreeMap<String, String> = e["attributes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let s = |k: &str| x[k].as_str().unwrap_or_default().to_string();
                    (s("key"), s("value"))
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"type": e["type"], "attributes": attrs})
}

fn events_json(list: &Value) -> Vec<Value> {
    list.as_array()
        .map(|a| a.iter().map(event_json).collect())
        .unwrap_or_default()
}

fn num(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

impl Source {
    /// Reads `node`; shows the app hashes of `peers` too (the node is added first).
    pub fn new(node: &str, peers: &[String]) -> Self {
        let mut all = vec![(node.to_string(), Client::new(node))];
        for p in peers {
            if p != node {
                all.push((p.clone(), Client::new(p)));
            }
        }
        Source {
            node: Client::new(node),
            peers: all,
            tasks: Mutex::new(BTreeMap::new()),
            channels: Mutex::new(None),
            blocks: Mutex::new((BTreeMap::new(), 0)),
            block_cache_bytes: BLOCK_CACHE_BYTES,
        }
    }

    /// The same source keeping at most `bytes` of block views (tests).
    #[cfg(test)]
    pub(crate) fn with_block_cache_bytes(mut self, bytes: usize) -> Self {
        self.block_cache_bytes = bytes;
        self
    }

    /// The latest height.
    pub fn height(&self) -> Result<u64, ExplorerError> {
        Ok(self.node.status()?.height)
    }

    /// A query's value; the node's "no such thing" (a bad argument: a subnet, account or
    /// channel that does not exist) is the explorer's 404, not a failing node.
    fn raw(&self, path: &str) -> Result<Vec<u8>, ExplorerError> {
        self.node.query_raw(path, 0).map_err(|e| match e {
            taochain_client::ClientError::Query { code, log, .. }
                if code == taochain_primitives::query::codes::BAD_ARGUMENT =>
            {
                ExplorerError::NotFound(log)
            }
            e => e.into(),
        })
    }

    /// The chain overview (without the sampler's block interval, which the server adds).
    pub fn overview(&self) -> Result<Value, ExplorerError> {
        let status = self.node.status()?;
        let h = status.height;
        let vals = self.node.rpc().call(
            "validators",
            json!({"height": h.to_string(), "per_page": "100"}),
        )?;
        let validators: Vec<Value> = vals["validators"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| json!({"address": v["address"], "power": num(&v["voting_power"])}))
                    .collect()
            })
            .unwrap_or_default();
        // The app hash every node reports in the header of the previous block (the
        // state after block h - 2... as CometBFT records it): one all nodes have.
        let at = h.saturating_sub(1).max(1);
        let nodes: Vec<Value> = self
            .peers
            .iter()
            .map(|(url, c)| {
                let height = c.status().ok().map(|s| s.height);
                let hash = c
                    .rpc()
                    .header(at)
                    .ok()
                    .and_then(|hd| hd["app_hash"].as_str().map(str::to_string));
                json!({"url": url, "height": height, "app_hash": hash})
            })
            .collect();
        let s = self.node.supply()?;
        let halvings: Vec<String> = (1..=8)
            .map(|k| (TOTAL_SUPPLY_CAP - (TOTAL_SUPPLY_CAP >> k)).to_string())
            .collect();
        Ok(json!({
            "chain_id": status.chain_id,
            "height": h,
            "validators": validators,
            "nodes": nodes,
            "app_hash_height": at,
            "supply": {
                "total_issuance": s.total_issuance.to_string(),
                "total_minted": s.total_minted.to_string(),
                "total_recycled": s.total_recycled.to_string(),
                "cap": TOTAL_SUPPLY_CAP.to_string(),
            },
            "schedule": {"halvings": halvings, "reward_now": block_reward(s.total_issuance).to_string()},
        }))
    }

    /// Total issuance now, rao.
    pub fn issuance(&self) -> Result<u64, ExplorerError> {
        Ok(self.node.supply()?.total_issuance)
    }

    /// Every subnet's record.
    pub fn subnet_views(&self) -> Result<Vec<SubnetView>, ExplorerError> {
        decode("subnets", &self.raw("/subnets")?)
    }

    /// A subnet's arena task (cached per contract), if it is an arena.
    fn task(&self, s: &SubnetView) -> Option<String> {
        let key = s.info.contract;
        if let Some(t) = self.tasks.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return t;
        }
        let q = borsh::to_vec(&taochain_arena_msg::QueryMsg::Task).ok()?;
        // Only a definite answer is remembered: the contract's own reply or refusal. A node
        // that could not be reached (restarting, timed out) is asked again next time.
        let definite = |r: Result<Vec<u8>, taochain_client::ClientError>| match r {
            Ok(raw) => Some(Some(raw)),
            Err(taochain_client::ClientError::Query { code, .. })
                if code == taochain_primitives::query::codes::CONTRACT_FAILED
                    || code == taochain_primitives::query::codes::BAD_ARGUMENT =>
            {
                Some(None)
            }
            Err(_) => None,
        };
        let arena = definite(self.node.smart_query(&s.info.contract, &q))?;
        let task = match arena
            .and_then(|raw| borsh::from_slice::<taochain_arena_msg::TaskSpec>(&raw).ok())
        {
            Some(t) => Some(t.kind.name().to_string()),
            None => {
                let q =
                    borsh::to_vec(&taochain_matmul_market_msg::QueryMsg::Jobs { start: 0 }).ok()?;
                definite(self.node.smart_query(&s.info.contract, &q))?
                    .and_then(|raw| {
                        borsh::from_slice::<Vec<(u64, taochain_matmul_market_msg::Job)>>(&raw).ok()
                    })
                    .map(|_| "matmul market".to_string())
            }
        };
        if let Ok(mut m) = self.tasks.lock() {
            m.insert(key, task.clone());
        }
        task
    }

    fn market_jobs(
        &self,
        contract: &Address,
    ) -> Option<Vec<(u64, taochain_matmul_market_msg::Job)>> {
        let q = borsh::to_vec(&taochain_matmul_market_msg::QueryMsg::Jobs { start: 0 }).ok()?;
        let raw = self.node.smart_query(contract, &q).ok()?;
        borsh::from_slice(&raw).ok()
    }

    /// The subnets with task, owner, share, pot and usage paid (channel redemptions).
    pub fn subnets(&self) -> Result<Value, ExplorerError> {
        let views = self.subnet_views()?;
        // No root weights yet: every subnet gets an equal share.
        let equal = views.iter().all(|s| s.share_q32 == 0);
        let share = |s: &SubnetView| {
            if equal {
                1.0 / views.len() as f64
            } else {
                s.share_q32 as f64 / 4_294_967_296.0
            }
        };
        // By the subnet a channel pays: a subnet dissolved and replaced on its netuid keeps
        // its usage to itself.
        let mut usage: BTreeMap<Address, u64> = BTreeMap::new();
        for (_, c) in self.channels()? {
            let u = usage.entry(c.subnet_contract).or_default();
            *u = u.saturating_add(c.redeemed);
        }
        Ok(Value::Array(
            views
                .iter()
                .map(|s| {
                    json!({
                        "netuid": s.netuid,
                        "task": self.task(s),
                        "owner": s.info.owner.to_string(),
                        "share": share(s),
                        "pot_rao": s.pot.to_string(),
                        "usage_rao": usage.get(&s.info.contract).copied().unwrap_or(0).to_string(),
                        "n": s.info.n,
                        "tempo": s.info.hyperparams.tempo,
                        "last_epoch": s.info.last_epoch,
                    })
                })
                .collect(),
        ))
    }

    /// A subnet's metagraph rows.
    pub fn metagraph_rows(&self, netuid: u16) -> Result<Vec<MetagraphRow>, ExplorerError> {
        decode("metagraph", &self.raw(&format!("/metagraph/{netuid}"))?)
    }

    /// The newest [`MAX_CHANNELS`] channels (ids are dense: a channel is never deleted), in
    /// id order, scanned at most once per [`CHANNELS_TTL`] (the lock is held while scanning:
    /// concurrent requests wait for one scan rather than each making their own).
    pub fn channels(&self) -> Result<Vec<(u64, Channel)>, ExplorerError> {
        let mut cache = self
            .channels
            .lock()
            .map_err(|_| ExplorerError::Chain("channel cache poisoned".into()))?;
        if let Some((at, list)) = cache.as_ref()
            && at.elapsed() < CHANNELS_TTL
        {
            return Ok(list.clone());
        }
        let list = self.scan_channels()?;
        *cache = Some((std::time::Instant::now(), list.clone()));
        Ok(list)
    }

    fn scan_channels(&self) -> Result<Vec<(u64, Channel)>, ExplorerError> {
        let raw = self.raw("/channel_seq")?;
        let last: u64 = if raw.is_empty() {
            0
        } else {
            decode("channel_seq", &raw)?
        };
        let mut out = vec![];
        for id in last.saturating_sub(MAX_CHANNELS - 1).max(1)..=last {
            let raw = self.raw(&format!("/channel/{id}"))?;
            if raw.is_empty() {
                break;
            }
            out.push((id, decode("channel", &raw)?));
        }
        Ok(out)
    }

    /// Jobs, channels and proposals.
    pub fn activity(&self) -> Result<Value, ExplorerError> {
        let channels: Vec<Value> = self
            .channels()?
            .iter()
            .map(|(id, c)| {
                json!({"id": id, "netuid": c.netuid, "user": c.user.to_string(),
                       "gateway": c.gateway.to_string(), "deposit_rao": c.deposit.to_string(),
                       "redeemed_rao": c.redeemed.to_string(), "expires_at": c.expires_at,
                       "closed": c.closed})
            })
            .collect();
        let proposals: Vec<Proposal> = decode("proposals", &self.raw("/proposals")?)?;
        let proposals: Vec<Value> = proposals
            .iter()
            .map(|p| {
                json!({"id": p.id, "proposer": p.proposer.to_string(), "action": format!("{:?}", p.action),
                       "voting_end": p.voting_end, "yes": p.yes.to_string(), "no": p.no.to_string(),
                       "status": format!("{:?}", p.status)})
            })
            .collect();
        let mut jobs = vec![];
        for s in self.subnet_views()? {
            for (id, j) in self.market_jobs(&s.info.contract).unwrap_or_default() {
                let (status, miner) = match &j.status {
                    taochain_matmul_market_msg::Status::Open => ("open", None),
                    taochain_matmul_market_msg::Status::Done { miner, .. } => {
                        ("done", Some(Address(*miner).to_string()))
                    }
                    taochain_matmul_market_msg::Status::Reclaimed => ("reclaimed", None),
                    taochain_matmul_market_msg::Status::Collected => ("collected", None),
                };
                jobs.push(json!({"netuid": s.netuid, "id": id, "requester": Address(j.requester).to_string(),
                                 "bounty_rao": j.bounty.to_string(), "deadline": j.deadline,
                                 "status": status, "miner": miner}));
            }
        }
        Ok(json!({"channels": channels, "proposals": proposals, "jobs": jobs}))
    }

    /// Block `h` (at most the latest height: committed, so final) with its transactions
    /// (results and events) and its block events: from the cache, or read and kept.
    pub fn block(&self, h: u64) -> Result<Value, ExplorerError> {
        if let Some((v, _)) = self.cached_blocks().0.get(&h) {
            return Ok(v.clone());
        }
        let v = self.read_block(h)?;
        let size = serde_json::to_vec(&v).map_or(usize::MAX, |b| b.len());
        if size <= self.block_cache_bytes / 4 {
            let mut cache = self.cached_blocks();
            let (map, total) = &mut *cache;
            if map.insert(h, (v.clone(), size)).is_none() {
                *total += size;
            }
            while *total > self.block_cache_bytes {
                let Some((_, (_, gone))) = map.pop_first() else {
                    break;
                };
                *total -= gone;
            }
        }
        Ok(v)
    }

    fn cached_blocks(&self) -> std::sync::MutexGuard<'_, BlockCache> {
        self.blocks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many block views are kept, and their bytes.
    #[cfg(test)]
    pub(crate) fn cached_block_views(&self) -> (usize, usize) {
        let cache = self.cached_blocks();
        (cache.0.len(), cache.1)
    }

    fn read_block(&self, h: u64) -> Result<Value, ExplorerError> {
        let b = self
            .node
            .rpc()
            .call("block", json!({"height": h.to_string()}))?;
        let r = self
            .node
            .rpc()
            .call("block_results", json!({"height": h.to_string()}))?;
        let header = &b["block"]["header"];
        let results = r["txs_results"].as_array().cloned().unwrap_or_default();
        let txs: Vec<Value> = b["block"]["data"]["txs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .zip(results.iter().chain(std::iter::repeat(&Value::Null)))
            .map(|(tx, res)| {
                let bytes = base64_decode(tx.as_str().unwrap_or_default());
                json!({
                    "hash": hex::encode_upper(sha256(&bytes)),
                    "height": h,
                    "code": num(&res["code"]),
                    "log": res["log"].as_str().unwrap_or_default(),
                    "gas_used": num(&res["gas_used"]),
                    "events": events_json(&res["events"]),
                })
            })
            .collect();
        Ok(json!({
            "height": h,
            "time": header["time"],
            "hash": b["block_id"]["hash"],
            "proposer": header["proposer_address"],
            "txs": txs,
            "events": events_json(&r["finalize_block_events"]),
        }))
    }

    /// The last `limit` blocks, newest first.
    pub fn blocks(&self, limit: u64) -> Result<Value, ExplorerError> {
        let h = self.height()?;
        let low = h.saturating_sub(limit.clamp(1, MAX_BLOCKS)) + 1;
        let blocks = (low.max(1)..=h)
            .rev()
            .map(|x| self.block(x))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Value::Array(blocks))
    }

    /// A transaction by hash (64 hex digits).
    pub fn tx(&self, hash: &str) -> Result<Value, ExplorerError> {
        let bytes: [u8; 32] = hex::decode(hash)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ExplorerError::BadRequest(format!("`{hash}` is not a tx hash")))?;
        let t = self
            .node
            .rpc()
            .tx(&bytes)?
            .ok_or_else(|| ExplorerError::NotFound(format!("no transaction {hash}")))?;
        let res = &t["tx_result"];
        Ok(json!({
            "hash": hash.to_uppercase(),
            "height": num(&t["height"]),
            "code": num(&res["code"]),
            "log": res["log"].as_str().unwrap_or_default(),
            "gas_used": num(&res["gas_used"]),
            "events": events_json(&res["events"]),
        }))
    }

    /// An account: balance and nonce, and its hotkey record and stake if it has them.
    pub fn account(&self, text: &str) -> Result<Value, ExplorerError> {
        let a: Address = text
            .parse()
            .map_err(|_| ExplorerError::BadRequest(format!("`{text}` is not an address")))?;
        let acct = self.node.account(&a)?;
        let mut v = json!({"address": a.to_string(), "balance_rao": acct.balance.to_string(), "nonce": acct.nonce});
        let hk = self.raw(&format!("/hotkey/{a}"))?;
        if !hk.is_empty() {
            let info: taochain_primitives::subnet::HotkeyInfo = decode("hotkey", &hk)?;
            v["hotkey_owner"] = json!(info.owner.to_string());
            v["hotkey_take_bps"] = json!(info.take_bps);
            v["hotkey_stake_rao"] = json!(info.total_stake.to_string());
        }
        let cs = self.raw(&format!("/coldstake/{a}"))?;
        if !cs.is_empty() {
            v["staked_as_coldkey_rao"] = json!(decode::<u64>("coldstake", &cs)?.to_string());
        }
        Ok(v)
    }

    /// Where a search leads: `{kind, target}` (`account`, `block`, `tx`, or `none` with a
    /// message).
    pub fn search(&self, q: &str) -> Result<Value, ExplorerError> {
        let q = q.trim();
        if !q.is_empty() && q.len() <= 20 && q.bytes().all(|b| b.is_ascii_digit()) {
            let h: u64 = q.parse().unwrap_or(u64::MAX);
            let latest = self.height()?;
            return Ok(if (1..=latest).contains(&h) {
                json!({"kind": "block", "target": h.to_string()})
            } else {
                json!({"kind": "none", "target": q, "message": format!("no block {q} (latest {latest})")})
            });
        }
        if q.parse::<Address>().is_ok() {
            return Ok(json!({"kind": "account", "target": q}));
        }
        if q.len() == 64 && q.bytes().all(|b| b.is_ascii_hexdigit()) {
            // Only the node's "no such transaction" is an answer; a failing node is an error.
            return match self.tx(q) {
                Ok(_) => Ok(json!({"kind": "tx", "target": q.to_uppercase()})),
                Err(ExplorerError::NotFound(_)) => Ok(
                    json!({"kind": "none", "target": q, "message": format!("no transaction {q}")}),
                ),
                Err(e) => Err(e),
            };
        }
        Ok(json!({"kind": "none", "target": q,
                  "message": "search by a tao1... address or hotkey, a 64-hex transaction hash or a block height"}))
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}
