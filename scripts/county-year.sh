#!/usr/bin/env bash
# The README's main job: installs what is missing, builds the `caseledger` tool, simulates a county's year of public
# legal service into a fresh embedded LMDB store, prints a month's statistics and the year-end overdue list, replays
# one escalated case, and verifies the whole store.
# Usage: scripts/county-year.sh [STORE-DIRECTORY]   (default: a fresh temporary directory)
set -euo pipefail
# A relative store directory is the caller's, not the repository's: resolve it before moving there.
if [ -n "${1:-}" ]; then
    store="$(realpath -m "$1")"
else
    scratch="$(mktemp -d)"  # a failure stops the script here (set -e), never a store in /jingyan
    store="$scratch/jingyan"
fi
cd "$(dirname "$0")/.."
scripts/ensure-system-deps.sh
if [ -e "$store/data.mdb" ]; then
    echo "error: $store already holds a store; give a new directory" >&2
    exit 2
fi
swift build -c release --product caseledger
tool="$(swift build -c release --show-bin-path)/caseledger"

echo "== simulate: one county (15 townships, 120 villages), 2025, 4,000 cases"
# A simulation with refused commands exits 1 but still prints its summary: show it, then stop with its status.
status=0
summary="$("$tool" simulate --store "$store" --cases 4000 --seed 2025 --from 2025-01-01 --to 2025-12-31)" || status=$?
echo "$summary"
if [ "$status" -ne 0 ]; then exit "$status"; fi
escalated="$(printf '%s\n' "$summary" | sed -n 's/.*escalated cases, e\.g\.: \([^,]*\).*/\1/p')"
if [ -z "$escalated" ]; then
    echo "error: the simulation escalated no case to replay" >&2
    exit 1
fi

echo; echo "== monthly statistics, June 2025"
"$tool" stats --store "$store" --month 2025-06

echo; echo "== overdue at the end of the year (first 15)"
"$tool" overdue --store "$store" --at 2025-12-31T23:59 --limit 15

echo; echo "== replay of escalated case $escalated"
"$tool" replay --store "$store" --case "$escalated"

echo; echo "== verify"
"$tool" verify --store "$store"
echo; echo "store: $store"
