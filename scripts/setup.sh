#!/usr/bin/env bash
# Installs everything the build and the tests need, idempotently: Debian packages (clang
# for librocksdb-sys' bindgen), the pinned Rust toolchain, and the pinned cometbft (built
# from its Go module with the machine's Go).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

need_apt=()
# librocksdb-dev: RocksDB as a shared library, linked instead of compiled (.cargo/config.toml).
# mesa-vulkan-drivers + libvulkan1: lavapipe, the software Vulkan adapter the wgpu tests
# run on when a machine has no GPU.
# The arena's tasks (sdk/tasks): espeak-ng makes speech challenges, DejaVu fonts image
# challenges; PocketSphinx, Tesseract and Hunspell are the reference models.
# chromium: the explorer's page is tested in a real headless browser.
# iproute2 + iptables: the multi-host fault test's namespaces, links and packet loss.
for pkg in clang libclang-dev build-essential pkg-config librocksdb-dev mesa-vulkan-drivers libvulkan1 \
  espeak-ng pocketsphinx pocketsphinx-en-us tesseract-ocr tesseract-ocr-eng \
  hunspell hunspell-en-us fonts-dejavu-core fonts-dejavu-extra chromium iproute2 iptables; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$toolchain"; then
  echo "setup: installing Rust $toolchain"
  rustup toolchain install "$toolchain" --profile minimal -c rustfmt,clippy
fi

if ! rustup target list --installed --toolchain "$toolchain" | grep -q wasm32-unknown-unknown; then
  echo "setup: adding the wasm32-unknown-unknown target (contracts)"
  rustup target add wasm32-unknown-unknown --toolchain "$toolchain"
fi

if ! { [ -x "$TAOCHAIN_BIN/cometbft" ] && [ "$("$TAOCHAIN_BIN/cometbft" version)" = "$COMETBFT_VERSION" ]; }; then
  command -v go >/dev/null || { echo "setup: Go >= 1.22 is required to install cometbft" >&2; exit 1; }
  echo "setup: go install cometbft v$COMETBFT_VERSION"
  mkdir -p "$TAOCHAIN_BIN"
  GOBIN="$TAOCHAIN_BIN" go install "github.com/cometbft/cometbft/cmd/cometbft@v$COMETBFT_VERSION"
fi
# The explorer's page (Node.js >= 20.19 and npm: the machine's; Debian's is too old for Vite).
./scripts/build-explorer.sh

echo "setup: ok (cometbft $("$TAOCHAIN_BIN/cometbft" version), $(rustc --version), target dir $CARGO_TARGET_DIR)"
