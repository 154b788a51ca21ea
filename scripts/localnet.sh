#!/usr/bin/env bash
# Brings up a 4-validator localnet (installing what it needs first). Extra arguments go to
# `tao localnet up` (e.g. --validators 7). Stop it with: $CARGO_TARGET_DIR/release/tao localnet down
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo build --release --locked --workspace --bins
exec "$CARGO_TARGET_DIR/release/tao" localnet up "$@"
