#!/usr/bin/env bash
# Brings up the demo network (installing and building what it needs first): 4 validators,
# then the AI subnets, miners, validators, a gateway, a paying user, the matmul market and
# the explorer, whose URL it prints. Extra arguments go to `tao localnet up` (`--bare` for
# the chain alone, `--validators 7`). Stop it with: $CARGO_TARGET_DIR/release/tao localnet down
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
./scripts/build-contracts.sh
cargo build --release --locked --workspace --bins
exec "$CARGO_TARGET_DIR/release/tao" localnet up "$@"
