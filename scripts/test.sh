#!/usr/bin/env bash
# The README's test command, and what CI runs (.ci/run): installs what is missing, checks formatting, builds with strict
# checks (no warnings in CaseLedger's own code, explicit target dependencies) and builds the benchmark harness, then
# runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system-deps.sh --for-tests
# Formatting: the toolchain's swift-format with the repository's .swift-format.
swift format lint --strict --recursive Sources Tests Benchmarks/Benchmarks Package.swift Benchmarks/Package.swift
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
swift build --build-tests --explicit-target-dependency-import-check error 2>&1 | tee "$log"
# The benchmark harness (a nested package, so the library's users never resolve its tooling) must build too.
swift build --package-path Benchmarks 2>&1 | tee -a "$log"
# The build prints the physical path, matched as a fixed string (a path may hold regex characters or a symlink); no
# pipe, whose first grep a quitting `grep -q` could end with SIGPIPE and so hide a match under pipefail.
root="$(pwd -P)"
if awk -v a="$root/Sources/" -v b="$root/Tests/" -v c="$root/Benchmarks/Benchmarks/" \
    '(index($0, a) == 1 || index($0, b) == 1 || index($0, c) == 1) && index($0, ": warning:") { found = 1 }
     END { exit !found }' "$log"; then
    echo "error: the build has warnings in CaseLedger's own code (see above); fix them" >&2
    exit 1
fi
scripts/check-tool-public-api.sh
swift test --skip-build
