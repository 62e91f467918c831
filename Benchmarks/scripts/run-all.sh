#!/usr/bin/env bash
# Runs every EventLog benchmark in one run, exports the results, and prints events per second and the ratios.
# Usage (from anywhere): Benchmarks/scripts/run-all.sh [OUTPUT-DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
cd "$here"
swift package --disable-sandbox --allow-writing-to-directory "$out" benchmark \
    --filter 'Append\..*' --filter 'Scan\..*' --filter 'Command\..*' --filter 'Rebuild\..*' --filter 'Write\..*' --format jmh --path "$out" --no-progress
export_file="$out/Current_run.jmh.json"
[ -s "$export_file" ] || { echo "error: no export at $export_file" >&2; exit 2; }
python3 "$here/scripts/report.py" "$export_file" --strict
