# Shared settings for the project's scripts (sourced, not run).
# One build cache outside the checkout, reused by CI on the same machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/taochain-target}"
export PATH="$HOME/.cargo/bin:/usr/local/go/bin:$HOME/.local/taochain/bin:$PATH"
# The pinned CometBFT release (v0.38.0-4 and v0.38.14 are retracted).
export COMETBFT_VERSION="0.38.25"
export TAOCHAIN_BIN="${TAOCHAIN_BIN:-$HOME/.local/taochain/bin}"
# Contracts (their own workspace, wasm32) build here; tests read the .wasm files from there.
export TAOCHAIN_CONTRACTS_TARGET="${TAOCHAIN_CONTRACTS_TARGET:-$HOME/.cache/taochain-contracts-target}"
export TAOCHAIN_CONTRACTS_DIR="$TAOCHAIN_CONTRACTS_TARGET/wasm32-unknown-unknown/release"
# Mesa (lavapipe) warns without a valid runtime dir.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
