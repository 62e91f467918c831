#!/usr/bin/env bash
# Checks that the `caseledger` tool uses only the library's public API: its sources are type-checked against the
# built modules as if they belonged to another package, so a `package` declaration they use fails the check.
# Runs after `swift build --build-tests` (scripts/test.sh calls it).
set -euo pipefail
cd "$(dirname "$0")/.."
modules="$(swift build --show-bin-path)/Modules"
maps=()
while IFS= read -r map; do maps+=(-Xcc "-fmodule-map-file=$map"); done < <(
    find .build/checkouts/*/Sources Sources -name module.modulemap 2>/dev/null)
swiftc -typecheck -swift-version 6 -package-name caseledger_tool_api_check -I "$modules" "${maps[@]}" \
    Sources/caseledger/*.swift
echo "caseledger tool: public API only"
