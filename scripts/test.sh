#!/usr/bin/env bash
# The whole test suite: setup, format and lint checks, the release build, then every test
# (unit, property, in-process ABCI, and the real 4-validator localnet end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh

step() { printf '\n== %s\n' "$*"; }
step "cargo fmt --check"
cargo fmt --all -- --check
step "contracts: fmt, clippy, native tests, wasm32 build"
(cd contracts && cargo fmt --all -- --check \
  && CARGO_TARGET_DIR="$TAOCHAIN_CONTRACTS_TARGET" cargo clippy --locked --all-targets -- -D warnings \
  && CARGO_TARGET_DIR="$TAOCHAIN_CONTRACTS_TARGET" cargo test --locked \
  && CARGO_TARGET_DIR="$TAOCHAIN_CONTRACTS_TARGET" cargo build --release --locked --target wasm32-unknown-unknown)
ls -l "$TAOCHAIN_CONTRACTS_DIR"/*.wasm
step "layering: chain/app without rocksdb/wgpu/tokio/tendermint, primitives without std"
./scripts/check-boundaries.sh
step "cargo build --release (binaries first: the end-to-end tests run them)"
cargo build --release --locked --workspace --bins
step "cargo clippy -D warnings"
cargo clippy --release --locked --workspace --all-targets -- -D warnings
step "cargo test --release (wgpu tests on a real adapter: lavapipe without a GPU)"
# The GPU tests must not skip here: a missing adapter is a failure.
TAOCHAIN_GPU=required cargo test --release --locked --workspace
echo "test.sh: all checks passed"
