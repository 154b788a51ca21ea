#!/usr/bin/env bash
# Builds the example contracts (contracts/, its own workspace) for wasm32 and prints sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
(cd contracts && CARGO_TARGET_DIR="$TAOCHAIN_CONTRACTS_TARGET" cargo build --release --locked --target wasm32-unknown-unknown)
ls -l "$TAOCHAIN_CONTRACTS_DIR"/*.wasm
