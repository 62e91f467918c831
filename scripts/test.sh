#!/usr/bin/env bash
# The README's test command, and what CI runs (.ci/run): installs what is missing, checks formatting, builds with strict
# checks (no warnings in CaseLedger's own code, explicit target dependencies), then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system-deps.sh --for-tests
# Formatting: the toolchain's swift-format with the repository's .swift-format.
swift format lint --strict --recursive Sources Tests Benchmarks/Benchmarks Package.swift Benchmarks/Package.swift
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
swift build --build-tests --explicit-target-dependency-import-check error 2>&1 | tee "$log"
if grep -E "^$(pwd)/(Sources|Tests|Benchmarks)/.*: warning:" "$log" >/dev/null; then
    echo "error: the build has warnings in CaseLedger's own code (see above); fix them" >&2
    exit 1
fi
scripts/check-tool-public-api.sh
swift test --skip-build
