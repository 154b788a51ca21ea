//! `tao soak` as CI runs it: 5 minutes of the seeded random workload (every message kind,
//! and transfer bursts) against its own 4 validators that audit every block. The soak must
//! pass, every required kind must have succeeded, every node's audit of every height must
//! have been read and compared, and the network must be stopped at the end.

use std::process::Command;

use taochain_localnet::process;

use crate::localnet::{Guard, ONE_LOCALNET, base_port};

#[test]
fn a_five_minute_soak_of_every_message_kind_never_forks_and_its_ledger_adds_up() {
    let _one = ONE_LOCALNET.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("soak");
    let _guard = Guard(home.clone());
    let out = Command::new(env!("CARGO_BIN_EXE_tao"))
        .arg("--tao-home")
        .arg(tmp.path())
        .args(["soak", "--minutes", "5", "--seed", "11", "--base-port"])
        .arg(base_port(2).to_string())
        .args(["--output", "json"])
        .env(
            "TAOCHAIN_TAOD",
            std::path::Path::new(env!("CARGO_BIN_EXE_tao")).with_file_name("taod"),
        )
        .output()
        .expect("tao runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "soak failed:\n{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .next()
        .expect("a report")
        .expect("JSON");
    assert_eq!(report["failures"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["never_ok"], serde_json::json!([]), "{report:#}");
    let kinds = report["kinds"].as_object().expect("kinds");
    for (kind, stats) in kinds {
        if kind != "reclaim_job" {
            assert!(stats["ok"].as_u64() > Some(0), "{kind}: {stats}");
        }
    }
    assert!(kinds.len() >= 31, "{}", kinds.len());
    let audited: Vec<u64> = report["audited"]
        .as_array()
        .expect("audited")
        .iter()
        .map(|a| a.as_u64().expect("count"))
        .collect();
    let compared = report["compared"].as_u64().expect("compared");
    assert_eq!(Some(&compared), audited.iter().min(), "{report:#}");
    // Every node followed the chain to its end (a node that stopped early would fail the
    // soak; this checks the report says so too).
    let spread = audited.iter().max().unwrap_or(&0) - audited.iter().min().unwrap_or(&0);
    assert!(spread <= 2, "nodes audited {audited:?} heights");
    assert!(compared >= 100, "{compared} heights compared");
    assert!(report["epochs"].as_u64() > Some(0));
    assert!(report["committed_txs"].as_u64() > Some(1000), "{report:#}");
    for i in 0..4 {
        let rpc = ("127.0.0.1", base_port(2) + 10 * i + 1);
        assert!(
            std::net::TcpStream::connect(rpc).is_err(),
            "node{i}'s RPC still answers after the soak"
        );
    }
    assert!(process::recorded(&home).is_empty());
}

#[test]
fn a_soak_fails_when_a_validator_dies_under_it() {
    let _one = ONE_LOCALNET.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("soak");
    let _guard = Guard(home.clone());
    let port = base_port(3);
    let child = Command::new(env!("CARGO_BIN_EXE_tao"))
        .arg("--tao-home")
        .arg(tmp.path())
        .args(["soak", "--minutes", "3", "--seed", "12", "--base-port"])
        .arg(port.to_string())
        .args(["--output", "json"])
        .env(
            "TAOCHAIN_TAOD",
            std::path::Path::new(env!("CARGO_BIN_EXE_tao")).with_file_name("taod"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tao runs");
    // Once the workload runs (node3 past height 10), kill node3's taod.
    let rpc = format!("http://127.0.0.1:{}", port + 31);
    let start = std::time::Instant::now();
    while taochain_client::Client::new(&rpc)
        .status()
        .map_or(true, |s| s.height < 10)
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(180),
            "the soak's network never came up"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let taod = process::recorded(&home)
        .into_iter()
        .find(|l| l.node == 3 && l.kind == "taod")
        .expect("node3's taod is recorded");
    let killed = Command::new("kill")
        .args(["-s", "KILL", &taod.pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().expect("the soak ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "the soak passed with node3 dead:\n{stdout}"
    );
    let report: serde_json::Value = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .next()
        .expect("a report")
        .expect("JSON");
    let failures = report["failures"].to_string();
    assert!(failures.contains("node3"), "{report:#}");
    // It stopped early (the stall), not after its 3 minutes.
    assert!(
        start.elapsed() < std::time::Duration::from_secs(170),
        "{:?}",
        start.elapsed()
    );
}
