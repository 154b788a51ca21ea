//! The explorer in a real browser, for the demo test: headless Chromium (Debian's, driven
//! by playwright-core from `sdk/explorer/web/tests/browser.mjs`) on the page `tao explorer`
//! serves. The metagraph table's numbers match `tao metagraph --output json`, the height
//! advances while the page is open, the plots draw, the table sorts, a search finds an
//! address, all nodes are shown agreeing, and the page logs no error. Screenshots land in
//! `$CARGO_TARGET_DIR/explorer-screenshots/`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../explorer/web")
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("explorer-screenshots")
}

/// The metagraph's numbers a person reads, from `tao metagraph --output json`'s rows.
pub fn cli_rows(rows: &[Value]) -> Vec<[String; 7]> {
    rows.iter()
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

/// Opens the explorer at `url` in headless Chromium on subnet `netuid` and searches for
/// `address`; checks what a person would see against the chain (`a`'s `tao metagraph`).
pub fn check_in_browser(
    url: &str,
    netuid: u16,
    address: &str,
    metagraph: impl Fn() -> Vec<[String; 7]>,
    last_epoch: impl Fn() -> u64,
) {
    assert!(
        taochain_explorer::page_built(),
        "the page is not built: run scripts/build-explorer.sh"
    );
    let out = screenshots();
    // The table and the CLI are read at the same epoch: retry if one fell between them.
    let mut seen = Value::Null;
    for _ in 0..3 {
        let epoch = last_epoch();
        let run = Command::new("node")
            .current_dir(web_dir())
            .args(["tests/browser.mjs", url, &netuid.to_string(), address])
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
        if last_epoch() == epoch && page_rows(&seen) == metagraph() {
            break;
        }
    }
    assert_eq!(page_rows(&seen), metagraph(), "the table vs tao metagraph");
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
    assert_eq!(seen["search_hash"], format!("#/account/{address}"));
    assert_eq!(seen["account"]["address"], address, "{seen}");
    assert!(seen["blocks"].as_u64() >= Some(10), "{seen}");
    assert!(
        seen["subnets"].as_array().is_some_and(|s| s.len() >= 3),
        "{seen}"
    );
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
}
