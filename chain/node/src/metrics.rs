//! `taod start --metrics ADDR`: Prometheus metrics of the app, served over plain HTTP.
//!
//! [`Metrics`] is the app's [`Observer`]: it turns the app's marks into nanoseconds since
//! the node started and keeps histograms of each block phase, contract call and subnet
//! epoch, counters of transaction results by stage and code, contract gas, blob bytes,
//! and the last committed height. [`serve`] answers `GET /metrics` in the Prometheus
//! text format (0.0.4), one connection at a time, each given at most 2 s in all to send its
//! request and 2 s to take the answer, so a slow or hostile client holds it for seconds
//! at most and never touches block execution.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taochain_app::observe::{Observer, Phase, Stage, Started};
use taochain_primitives::RejectCode;

/// Histogram bucket bounds, in nanoseconds (100 µs to 10 s).
const BOUNDS_NS: [u64; 13] = [
    100_000,
    500_000,
    1_000_000,
    5_000_000,
    10_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// The longest request head read, and how long a client may take in all to send it (and,
/// separately, to read the answer).
const MAX_REQUEST: usize = 8 * 1024;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// A latency histogram with [`BOUNDS_NS`] buckets (cumulative when rendered).
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BOUNDS_NS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    fn observe(&self, ns: u64) {
        if let Some(i) = BOUNDS_NS.iter().position(|b| ns <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, bucket) in BOUNDS_NS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = seconds(*bound);
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let sum = seconds(self.sum_ns.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Nanoseconds as decimal seconds, without floats.
fn seconds(ns: u64) -> String {
    let frac = format!("{:09}", ns % 1_000_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{}", ns / 1_000_000_000)
    } else {
        format!("{}.{frac}", ns / 1_000_000_000)
    }
}

/// The node's metrics.
pub struct Metrics {
    origin: Instant,
    phases: [Histogram; Phase::ALL.len()],
    contract_calls: Histogram,
    contract_gas: AtomicU64,
    epochs: Histogram,
    blob_bytes: AtomicU64,
    height: AtomicU64,
    blocks: AtomicU64,
    block_txs: AtomicU64,
    mempool_pending: AtomicU64,
    results: Mutex<BTreeMap<(Stage, u32), u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            origin: Instant::now(),
            phases: Default::default(),
            contract_calls: Histogram::default(),
            contract_gas: AtomicU64::new(0),
            epochs: Histogram::default(),
            blob_bytes: AtomicU64::new(0),
            height: AtomicU64::new(0),
            blocks: AtomicU64::new(0),
            block_txs: AtomicU64::new(0),
            mempool_pending: AtomicU64::new(0),
            results: Mutex::default(),
        }
    }
}

impl Metrics {
    fn since(&self, started: Started) -> u64 {
        self.now().saturating_sub(started.0)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, kind: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        gauge(
            &mut out,
            "taochain_height",
            "gauge",
            "Last committed height.",
            self.height.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "taochain_blocks_total",
            "counter",
            "Blocks committed since the node started.",
            self.blocks.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "taochain_block_txs_total",
            "counter",
            "Transactions in blocks committed since the node started.",
            self.block_txs.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "taochain_mempool_pending",
            "gauge",
            "Transactions this node admitted that no committed block has included yet.",
            self.mempool_pending.load(Ordering::Relaxed),
        );
        out.push_str("# HELP taochain_block_phase_seconds Time in each phase of a block (check_tx: one transaction).\n# TYPE taochain_block_phase_seconds histogram\n");
        for (phase, h) in Phase::ALL.iter().zip(&self.phases) {
            h.render(
                &mut out,
                "taochain_block_phase_seconds",
                &format!("phase=\"{}\"", phase.name()),
            );
        }
        out.push_str("# HELP taochain_txs_total Transaction results by stage and code (0: ok).\n# TYPE taochain_txs_total counter\n");
        let results = self
            .results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for ((stage, code), n) in results {
            let stage = match stage {
                Stage::CheckTx => "check_tx",
                Stage::FinalizeBlock => "finalize_block",
            };
            let reason = if code == 0 {
                "ok"
            } else {
                RejectCode::from_code(code).map_or("unknown", RejectCode::name)
            };
            let _ = writeln!(
                out,
                "taochain_txs_total{{stage=\"{stage}\",code=\"{code}\",reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str("# HELP taochain_contract_call_seconds Time of each contract call (VM).\n# TYPE taochain_contract_call_seconds histogram\n");
        self.contract_calls
            .render(&mut out, "taochain_contract_call_seconds", "");
        gauge(
            &mut out,
            "taochain_contract_gas_total",
            "counter",
            "Gas used by contract calls.",
            self.contract_gas.load(Ordering::Relaxed),
        );
        out.push_str("# HELP taochain_epoch_seconds Time of each subnet epoch (hook, Yuma, payout).\n# TYPE taochain_epoch_seconds histogram\n");
        self.epochs.render(&mut out, "taochain_epoch_seconds", "");
        gauge(
            &mut out,
            "taochain_blob_bytes_total",
            "counter",
            "Bytes of new blobs stored by blocks.",
            self.blob_bytes.load(Ordering::Relaxed),
        );
        out
    }
}

impl Observer for Metrics {
    fn start(&self) -> Started {
        Started(self.now())
    }

    fn phase(&self, phase: Phase, started: Started) {
        if let Some(i) = Phase::ALL.iter().position(|p| *p == phase) {
            self.phases[i].observe(self.since(started));
        }
    }

    fn tx_result(&self, stage: Stage, code: u32) {
        let mut results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        *results.entry((stage, code)).or_default() += 1;
    }

    fn contract_call(&self, started: Started, gas: u64) {
        self.contract_calls.observe(self.since(started));
        self.contract_gas.fetch_add(gas, Ordering::Relaxed);
    }

    fn epoch(&self, _netuid: u16, started: Started) {
        self.epochs.observe(self.since(started));
    }

    fn blob_bytes(&self, bytes: u64) {
        self.blob_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn opened(&self, height: u64) {
        self.height.store(height, Ordering::Relaxed);
    }

    fn committed(&self, height: u64, txs: u64) {
        self.height.store(height, Ordering::Relaxed);
        self.blocks.fetch_add(1, Ordering::Relaxed);
        self.block_txs.fetch_add(txs, Ordering::Relaxed);
    }

    fn mempool_pending(&self, pending: u64) {
        self.mempool_pending.store(pending, Ordering::Relaxed);
    }
}

/// Serves `GET /metrics` on `listener` forever (in the calling thread).
pub fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // E.g. out of file descriptors: wait rather than spin.
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        if let Err(e) = answer(stream, &metrics) {
            tracing::debug!(error = %e, "metrics client");
        }
    }
}

/// Reads one request head (bounded in size and time) and answers it.
fn answer(mut stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        // One deadline for the whole head: a byte now and then does not extend it.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "too large\n",
            );
        }
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    match (parts.next(), parts.next()) {
        (Some(b"GET"), Some(b"/metrics")) => respond(&mut stream, "200 OK", &metrics.render()),
        (Some(b"GET"), Some(_)) => respond(&mut stream, "404 Not Found", "try /metrics\n"),
        _ => respond(&mut stream, "405 Method Not Allowed", "GET /metrics\n"),
    }
}

fn respond(stream: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_printed_exactly() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(1_500_000_000), "1.5");
        assert_eq!(seconds(100_000), "0.0001");
        assert_eq!(seconds(10_000_000_000), "10");
    }

    #[test]
    fn histograms_are_cumulative_and_results_labelled() {
        let m = Metrics::default();
        m.phases[1].observe(50_000);
        m.phases[1].observe(2_000_000);
        m.phases[1].observe(20_000_000_000);
        m.tx_result(Stage::FinalizeBlock, 0);
        m.tx_result(Stage::FinalizeBlock, 0);
        m.tx_result(Stage::CheckTx, RejectCode::NonceReplayed.code());
        m.committed(7, 3);
        m.mempool_pending(12);
        let text = m.render();
        let sig = "taochain_block_phase_seconds_bucket{phase=\"signatures\",";
        assert!(text.contains(&format!("{sig}le=\"0.0001\"}} 1")), "{text}");
        assert!(text.contains(&format!("{sig}le=\"0.005\"}} 2")), "{text}");
        assert!(text.contains(&format!("{sig}le=\"10\"}} 2")), "{text}");
        assert!(text.contains(&format!("{sig}le=\"+Inf\"}} 3")), "{text}");
        assert!(text.contains("taochain_block_phase_seconds_count{phase=\"signatures\"} 3"));
        assert!(text.contains("taochain_block_phase_seconds_sum{phase=\"signatures\"} 20.00205"));
        assert!(
            text.contains(
                "taochain_txs_total{stage=\"finalize_block\",code=\"0\",reason=\"ok\"} 2"
            )
        );
        let replay = RejectCode::NonceReplayed;
        assert!(text.contains(&format!(
            "taochain_txs_total{{stage=\"check_tx\",code=\"{}\",reason=\"{}\"}} 1",
            replay.code(),
            replay.name()
        )));
        assert!(text.contains("taochain_height 7\n"));
        assert!(text.contains("taochain_block_txs_total 3\n"));
        assert!(text.contains("taochain_mempool_pending 12\n"), "{text}");
    }

    fn request(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).expect("connects");
        s.write_all(bytes).expect("writes");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("reads");
        out
    }

    #[test]
    fn only_get_metrics_is_served_and_a_huge_head_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("addr");
        let m = Arc::new(Metrics::default());
        m.committed(3, 0);
        std::thread::spawn(move || serve(listener, m));
        let ok = request(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
        assert!(ok.contains("taochain_height 3"), "{ok}");
        assert!(request(addr, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        assert!(request(addr, b"POST /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405"));
        // A head over the limit is cut off (431, or a reset if the client still writes).
        let mut s = TcpStream::connect(addr).expect("connects");
        let _ = s.write_all(&vec![b'a'; 64 * 1024]);
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 431"), "{out}");
        // A client that sends nothing, or a byte at a time, is dropped after the one
        // deadline; others are then served.
        let _idle = TcpStream::connect(addr).expect("connects");
        let mut drip = TcpStream::connect(addr).expect("connects");
        let dripping = std::thread::spawn(move || {
            for _ in 0..40 {
                if drip.write_all(b"G").is_err() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            false
        });
        assert!(
            dripping.join().expect("drip"),
            "a dripping client was never cut off"
        );
        let after = request(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
        assert!(after.starts_with("HTTP/1.1 200 OK"), "{after}");
    }
}
