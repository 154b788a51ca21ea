//! The demo network as a newcomer gets it from `tao localnet up`: the chain, then the AI
//! subnets' miners and validators, a gateway, a paying user, the matmul market and the
//! explorer, all as recorded processes. The user gets paid answers; the explorer's page,
//! in headless Chromium, shows the text subnet's metagraph as `tao metagraph` does (see
//! `explorer.rs`); `status` lists every process with its role and reports one that died;
//! `down` stops exactly what `up` started.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::localnet::{base_port, start_with, tao};

/// Stops the demo (neurons and nodes) when the test ends, pass or fail.
struct Down(PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = tao(&self.0, &["localnet", "down"]);
    }
}

fn status(home: &std::path::Path) -> Value {
    let (ok, out) = tao(home, &["localnet", "status", "--output", "json"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).expect("status JSON")
}

fn alive(pid: u64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
}

#[test]
fn the_demo_network_runs_pays_and_stops_exactly_what_it_started() {
    let net = start_with(0, &[]);
    let _down = Down(net.home.clone());
    let st = status(&net.home);
    let neurons = st["neurons"].as_array().expect("neurons").clone();
    let roles: Vec<&str> = neurons.iter().filter_map(|n| n["role"].as_str()).collect();
    for role in [
        "explorer",
        "gateway",
        "validator, speech-to-text",
        "reference miner, image-to-text",
        "lazy miner, text-correction",
        "matmul miner",
    ] {
        assert!(
            roles.iter().any(|r| r.starts_with(role)),
            "{role} in {roles:?}"
        );
    }
    assert!(neurons.len() >= 18, "{neurons:?}");

    // The user pays for answers through the gateway.
    let log = net.home.join("localnet/neurons/user.log");
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().any(|l| l.contains(" paid ")) {
            break;
        }
        assert!(Instant::now() < deadline, "no paid answer:\n{text}");
        std::thread::sleep(Duration::from_secs(1));
    }
    // The explorer, in a browser, once the text subnet's validators have been paid for
    // scoring (an epoch with weights).
    let url = format!("http://127.0.0.1:{}", base_port(0) + 50);
    let metagraph = || {
        let (ok, out) = tao(
            &net.home,
            &["--node", &net.node, "metagraph", "3", "--output", "json"],
        );
        assert!(ok, "{out}");
        serde_json::from_str::<Vec<Value>>(&out).expect("rows")
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    while !metagraph()
        .iter()
        .any(|r| r["incentive"].as_u64() > Some(0))
    {
        assert!(
            Instant::now() < deadline,
            "no incentive on netuid 3: {:?}",
            metagraph()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let last_epoch = || {
        let raw = taochain_client::Client::new(&net.node)
            .query_raw("/subnet/3", 0)
            .expect("subnet");
        borsh::from_slice::<taochain_primitives::subnet::SubnetInfo>(&raw)
            .expect("decodes")
            .last_epoch
    };
    let miner = net.spec.dev_accounts[3].1.clone();
    crate::explorer::check_in_browser(
        &url,
        3,
        &miner,
        || crate::explorer::cli_rows(&metagraph()),
        last_epoch,
    );

    // A neuron that dies is reported, not hidden.
    let lazy = neurons
        .iter()
        .find(|n| n["name"] == "miner-lazy-3")
        .expect("lazy miner");
    let pid = lazy["pid"].as_u64().expect("pid");
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = status(&net.home);
        let state = st["neurons"].as_array().and_then(|a| {
            a.iter()
                .find(|n| n["name"] == "miner-lazy-3")
                .map(|n| n["state"].clone())
        });
        if state == Some(Value::from("exited")) {
            break;
        }
        assert!(Instant::now() < deadline, "still shown running: {st}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Down stops every recorded process: the neurons and the nodes.
    let pids: Vec<u64> = neurons.iter().filter_map(|n| n["pid"].as_u64()).collect();
    let (ok, out) = tao(&net.home, &["localnet", "down", "--output", "json"]);
    assert!(ok, "{out}");
    let down: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(down["stopped"], 8, "{down}");
    assert_eq!(
        down["neurons_stopped"].as_u64(),
        Some(pids.len() as u64 - 1),
        "{down}"
    );
    let left: Vec<u64> = pids.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "still running: {left:?}");
    drop(net);
}
