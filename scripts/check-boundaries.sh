#!/usr/bin/env bash
# The layering promises of ARCHITECTURE.md, checked: the state machine (chain/app, normal
# dependencies) reaches neither RocksDB, wgpu, tokio nor CometBFT types, and
# chain/primitives builds without `std` (contracts and clients use it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

deps=$(cargo tree --locked -p taochain-app -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
bad=()
for forbidden in rocksdb librocksdb-sys wgpu wgpu-core wgpu-hal tokio tendermint tendermint-proto tendermint-abci; do
  if grep -qx "$forbidden" <<<"$deps"; then bad+=("$forbidden"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-boundaries: chain/app depends on ${bad[*]} (see ARCHITECTURE.md)" >&2
  for b in "${bad[@]}"; do cargo tree --locked -p taochain-app -e normal -i "$b" >&2 || true; done
  exit 1
fi
cargo check --locked --quiet -p taochain-primitives --no-default-features --target wasm32-unknown-unknown
echo "check-boundaries: ok (chain/app: $(wc -l <<<"$deps") crates, none of rocksdb/wgpu/tokio/tendermint; primitives builds no_std)"
