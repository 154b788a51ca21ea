//! The explorer in a real browser: a localnet with a text-correction arena (a validator and
//! two miners, so the metagraph has incentives), `tao explorer` serving the embedded page,
//! and headless Chromium (Debian's, driven by playwright-core from
//! `sdk/explorer/web/tests/browser.mjs`). The metagraph table's numbers match
//! `tao metagraph --output json`, the height advances while the page is open, the plots
//! draw, the table sorts, a search finds an address, all nodes are shown agreeing, and the
//! page logs no error. Screenshots land in `$CARGO_TARGET_DIR/explorer-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::arena::{Arena, Subnet, tao_bin};
use crate::localnet::{base_port, start};

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../explorer/web")
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("explorer-screenshots")
}

/// The metagraph's numbers a person reads, keyed by UID, from `tao metagraph --output json`.
fn cli_rows(a: &Arena, netuid: u16) -> Vec<[String; 7]> {
    a.metagraph(netuid)
        .iter()
        .map(|r| {
            let s = |k: &str| match &r[k] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            [
                s("uid"),
                s("stake_rao"),
                s("trust"),
                s("consensus"),
                s("incentive"),
                s("dividends"),
                s("emission_rao"),
            ]
        })
        .collect()
}

/// The same numbers from the page's table (`data-raw` of each cell).
fn page_rows(seen: &Value) -> Vec<[String; 7]> {
    seen["metagraph"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            [
                s("uid"),
                s("stake"),
                s("trust"),
                s("consensus"),
                s("incentive"),
                s("dividends"),
                s("emission"),
            ]
        })
        .collect()
}

#[test]
fn the_explorer_page_shows_the_living_chain_in_a_real_browser() {
    assert!(
        taochain_explorer::page_built(),
        "the page is not built: run scripts/build-explorer.sh"
    );
    let net = start(1, &["--dev-accounts", "6"]);
    let mut a = Arena::new(&net, 6, base_port(1) + 40);
    let tao = tao_bin();
    let text = Subnet {
        netuid: 1,
        validators: vec![1],
        miners: vec![(2, "text-reference"), (3, "text-fixed")],
    };
    a.create(0, "text-correction", 8_000, &text, &[]);
    let models = vec![
        a.model(
            "text-reference",
            &format!("exec {tao} model run --task text-correction \"$1\""),
        ),
        a.model("text-fixed", "echo hello world"),
    ];
    a.serve(&text, &models);
    a.validate(&text, 2);
    a.wait_epochs(1, 1);

    let listen = format!("127.0.0.1:{}", a.next_port);
    a.spawn("explorer", &["explorer", "--listen", &listen]);
    let url = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while ureq::get(&format!("{url}/api/height")).call().is_err() {
        assert!(
            Instant::now() < deadline,
            "explorer down: {}",
            a.log("explorer")
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = screenshots();
    let miner = a.addr(2).to_string();
    // The table and the CLI are read at the same epoch: retry if one fell between them.
    let mut seen = Value::Null;
    for _ in 0..3 {
        let epoch = a.subnet(1).last_epoch;
        let run = Command::new("node")
            .current_dir(web_dir())
            .args(["tests/browser.mjs", &url, "1", &miner])
            .arg(&out)
            .output()
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(
            run.status.success(),
            "browser test failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&run.stderr)
        );
        seen = serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
            .expect("one JSON line");
        if a.subnet(1).last_epoch == epoch && page_rows(&seen) == cli_rows(&a, 1) {
            break;
        }
    }
    assert_eq!(
        page_rows(&seen),
        cli_rows(&a, 1),
        "the table vs tao metagraph"
    );
    assert!(
        page_rows(&seen).iter().any(|r| r[4] != "0"),
        "some incentive: {seen}"
    );
    assert!(
        seen["height_after"].as_u64() > seen["height_before"].as_u64(),
        "{seen}"
    );
    assert!(
        seen["chain_canvases"].as_u64() >= Some(2),
        "chain plots: {seen}"
    );
    assert!(
        seen["subnet_canvases"].as_u64() >= Some(1),
        "incentive plot: {seen}"
    );
    assert_eq!(seen["validators"], 4, "{seen}");
    assert_eq!(seen["nodes_agree"], true, "{seen}");
    let sorted: Vec<u64> = seen["sorted_incentive"]
        .as_array()
        .expect("sorted")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(sorted.windows(2).all(|w| w[0] >= w[1]), "{sorted:?}");
    assert_eq!(seen["search_hash"], format!("#/account/{miner}"));
    assert_eq!(seen["account"]["address"], miner.as_str(), "{seen}");
    assert!(seen["blocks"].as_u64() >= Some(10), "{seen}");
    assert_eq!(seen["subnets"][0], "1", "{seen}");
    assert_eq!(seen["errors"], Value::Array(vec![]), "page errors: {seen}");
    for page in [
        "chain",
        "subnets",
        "metagraph",
        "blocks",
        "activity",
        "account",
    ] {
        assert!(out.join(format!("{page}.png")).is_file(), "{page}.png");
    }
    drop(a);
    drop(net);
}
