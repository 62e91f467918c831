#!/usr/bin/env bash
# The README's main job: installs what is missing, then appends to, reads back and verifies an embedded LMDB store.
# Usage: scripts/run-example.sh [STORE-DIRECTORY]   (default: a fresh temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system-deps.sh
store="${1:-$(mktemp -d)/store}"
swift run -c release caseledger-example "$store"
