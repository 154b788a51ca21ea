//! A multi-machine testnet (`tao testnet generate --hosts`): the same homes, genesis and
//! settings as a localnet, with node `i` on `hosts[i % n]`, and for each node a start
//! script and a systemd unit, plus a `README.txt` saying how to deploy them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{LocalnetError, LocalnetSpec, node_home};

/// Blocks between state-sync snapshots on a testnet node.
pub const TESTNET_SNAPSHOT_INTERVAL: u64 = 100;
/// Where the systemd units expect a node's directory on its host.
pub const INSTALL_DIR: &str = "/opt/taochain";

/// Writes `node{i}/start.sh`, `node{i}/taochain-node{i}.service` and `README.txt`.
pub fn write_launchers(home: &Path, spec: &LocalnetSpec) -> Result<(), LocalnetError> {
    for i in 0..spec.nodes() {
        let nh = node_home(home, i);
        let script = nh.join("start.sh");
        write(&script, &start_script(spec, i))?;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| LocalnetError::io(&script, e))?;
        write(
            &nh.join(format!("taochain-node{i}.service")),
            &unit(spec, i),
        )?;
    }
    write(&home.join("README.txt"), &readme(spec))
}

fn write(path: &Path, text: &str) -> Result<(), LocalnetError> {
    std::fs::write(path, text).map_err(|e| LocalnetError::io(path, e))
}

/// Starts taod, waits for its ABCI socket, then runs cometbft; both log next to it.
fn start_script(spec: &LocalnetSpec, i: usize) -> String {
    let p = spec.ports(i);
    let format = if spec.log_format == "json" {
        "json"
    } else {
        "text"
    };
    format!(
        r#"#!/usr/bin/env bash
# node{i} of testnet `{chain}` on {host}: starts taod, waits for its ABCI socket, then runs
# cometbft. Logs: taod.log and cometbft.log next to this script. Binaries: $TAOD and
# $COMETBFT, else `taod` and `cometbft` on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
taod="${{TAOD:-taod}}"
cometbft="${{COMETBFT:-cometbft}}"
"$taod" --log-format {format} start --home "$here/taod" --abci 127.0.0.1:{abci} \
  --metrics 0.0.0.0:{metrics} --snapshot-interval {snap} >>"$here/taod.log" 2>&1 &
taod_pid=$!
trap 'kill "$taod_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  if (exec 3<>/dev/tcp/127.0.0.1/{abci}) 2>/dev/null; then break; fi
  kill -0 "$taod_pid" 2>/dev/null || {{ echo "taod exited; see $here/taod.log" >&2; exit 1; }}
  sleep 0.1
done
"$cometbft" start --home "$here" >>"$here/cometbft.log" 2>&1
"#,
        chain = spec.chain_id,
        host = p.host,
        abci = p.abci,
        metrics = p.metrics,
        snap = TESTNET_SNAPSHOT_INTERVAL,
    )
}

/// A systemd unit running `start.sh` from `INSTALL_DIR/node{i}`.
fn unit(spec: &LocalnetSpec, i: usize) -> String {
    format!(
        "[Unit]\nDescription=taochain node{i} of testnet {chain}\nAfter=network-online.target\nWants=network-online.target\n\n[Service]\nType=simple\nWorkingDirectory={INSTALL_DIR}/node{i}\nEnvironment=TAOD=/usr/local/bin/taod COMETBFT=/usr/local/bin/cometbft\nExecStart={INSTALL_DIR}/node{i}/start.sh\nRestart=on-failure\nRestartSec=2\nKillMode=control-group\nLimitNOFILE=65536\n\n[Install]\nWantedBy=multi-user.target\n",
        chain = spec.chain_id
    )
}

fn readme(spec: &LocalnetSpec) -> String {
    let mut rows = String::new();
    for p in spec.all_ports() {
        rows.push_str(&format!(
            "  node{}  {}  p2p {}  rpc {}  taod metrics {}  cometbft metrics {}\n",
            p.index, p.host, p.p2p, p.rpc, p.metrics, p.cometbft_metrics
        ));
    }
    format!(
        "taochain testnet `{chain}`: {n} validators\n\n{rows}\nOn each host: install `taod` and `cometbft` (v{version}) in /usr/local/bin, open the p2p\nport (and RPC if it should be public), copy node<i>/ to {INSTALL_DIR}/node<i>, then either\n\n  {INSTALL_DIR}/node<i>/start.sh\n\nor\n\n  cp {INSTALL_DIR}/node<i>/taochain-node<i>.service /etc/systemd/system/\n  systemctl daemon-reload && systemctl enable --now taochain-node<i>\n\nThe validators' private keys are in node<i>/config/priv_validator_key.json: keep each\nonly on its host. The funded dev accounts' keys are well known (test tokens only).\n",
        chain = spec.chain_id,
        n = spec.validators,
        version = crate::COMETBFT_VERSION,
    )
}
