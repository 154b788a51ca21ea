//! VM tests through its public boundary: real contracts built from `contracts/`, a corpus of
//! hostile modules written in WAT, and random inputs.

mod contracts;
mod hostile;
mod props;

use std::path::PathBuf;
use std::process::Command;

/// The wasm of contract `name`, built from the `contracts/` workspace (by
/// `scripts/build-contracts.sh` in CI, or here on first use).
pub fn contract_wasm(name: &str) -> Vec<u8> {
    let dir = match std::env::var_os("TAOCHAIN_CONTRACTS_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts");
            let target = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".cache/taochain-contracts-target");
            let status = Command::new("cargo")
                .args([
                    "build",
                    "--release",
                    "--locked",
                    "--target",
                    "wasm32-unknown-unknown",
                ])
                .current_dir(&root)
                .env("CARGO_TARGET_DIR", &target)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building contracts/ failed");
            target.join("wasm32-unknown-unknown/release")
        }
    };
    let path = dir.join(format!("{name}.wasm"));
    std::fs::read(&path).expect("contract wasm is readable (see TAOCHAIN_CONTRACTS_DIR)")
}

/// WAT text to wasm bytes.
pub fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("valid wat")
}
