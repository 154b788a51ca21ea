#!/usr/bin/env bash
# The layering promises of ARCHITECTURE.md, checked: the state machine (chain/app, normal
# dependencies) reaches neither RocksDB, wgpu, tokio nor CometBFT types, and
# chain/primitives builds without `std` (contracts and clients use it), and chain/app
# touches raw state bytes only in `typed.rs` (every other read and write names a typed key),
# and neither chain/app nor taod links the VM's test support (taochain-vm-sandbox), and
# chain/economics builds without `std` too; and `cargo test` turns on no feature of a
# dependency that `cargo build --bins` left off (taochain-workspace-hack evens them out), so
# the tests never recompile what the binaries built.
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
for pkg in taochain-app taochain-node; do
  # A failing `cargo tree` stops the script (set -e), never reads as "not found".
  tree=$(cargo tree --locked -p "$pkg" -e normal --prefix none --format '{p}')
  if grep -q '^taochain-vm-sandbox ' <<<"$tree"; then
    echo "check-boundaries: $pkg links taochain-vm-sandbox (test support in the chain)" >&2
    exit 1
  fi
done
raw=$(grep -rnE '\bstate\s*\.\s*(get|put|delete|next)\(' chain/app/src --include='*.rs' \
  | grep -v '^chain/app/src/typed.rs:' || true)
if [ -n "$raw" ]; then
  echo "check-boundaries: raw state access outside chain/app/src/typed.rs (use a typed key):" >&2
  echo "$raw" >&2
  exit 1
fi
features() {
  cargo tree --locked --workspace -e "$1" --prefix none --format '{p} [{f}]' | grep -v ' (\*)$' | sort -u
}
# Each side in a variable first, so a failing `cargo tree` stops the script (set -e).
without_dev=$(features normal,build)
with_dev=$(features normal,build,dev)
[ -n "$without_dev" ] && [ -n "$with_dev" ]
changed=$(diff <(echo "$without_dev") <(echo "$with_dev") | sed -n 's/^< //p' || true)
if [ -n "$changed" ]; then
  echo "check-boundaries: the tests' dev-dependencies change the features of (add them to workspace-hack/Cargo.toml):" >&2
  echo "$changed" >&2
  exit 1
fi
cargo check --locked --quiet -p taochain-primitives -p taochain-economics --no-default-features --target wasm32-unknown-unknown
echo "check-boundaries: ok (chain/app: $(wc -l <<<"$deps") crates, none of rocksdb/wgpu/tokio/tendermint; no VM sandbox in chain/app or taod; state bytes only in typed.rs; primitives and economics build no_std; tests unify features with the binaries)"
