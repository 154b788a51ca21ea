#!/usr/bin/env bash
# Builds the explorer's page (sdk/explorer/web: TypeScript, Vite, uPlot) into
# sdk/explorer/web/dist, which the explorer binary embeds when it is compiled. Packages
# come from npm with the committed lockfile (`npm ci`), reinstalled only when the lockfile
# changed; nothing is fetched at run time. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../sdk/explorer/web"
command -v npm >/dev/null || { echo "build-explorer.sh: npm is missing (scripts/setup.sh installs it)" >&2; exit 1; }
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
# Rebuild only when a source is newer than the last build.
if [ ! -f dist/index.html ] || [ -n "$(find index.html src package-lock.json vite.config.ts -newer dist/index.html -print -quit)" ]; then
  npm run --silent build
fi
echo "build-explorer.sh: $(du -sh dist | cut -f1) in sdk/explorer/web/dist"
