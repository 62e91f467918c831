#!/usr/bin/env bash
# Installs what CaseLedger needs from the system when it is missing: LMDB's headers and pkg-config file
# (Debian: liblmdb-dev) and, for the test suite, LMDB's command-line tools (lmdb-utils: mdb_dump, mdb_stat) and
# python3 (the independent storage-format decoder). Uses apt-get; prefixes sudo when not root.
# Usage: scripts/ensure-system-deps.sh [--for-tests]
set -euo pipefail
packages=()
if ! pkg-config --exists lmdb 2>/dev/null; then
    command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
    packages+=(liblmdb-dev)
fi
if [ "${1:-}" = "--for-tests" ]; then
    # The tests run them from /usr/bin, where lmdb-utils puts them.
    { [ -x /usr/bin/mdb_dump ] && [ -x /usr/bin/mdb_load ] && [ -x /usr/bin/mdb_stat ]; } || packages+=(lmdb-utils)
    command -v python3 >/dev/null 2>&1 || packages+=(python3)
fi
if [ ${#packages[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "error: missing ${packages[*]}; run as root or install sudo, or: apt-get install ${packages[*]}" >&2
            exit 1
        }
        sudo="sudo"
    fi
    echo "Installing from apt: ${packages[*]}" >&2
    $sudo apt-get update -qq
    # Through env: sudo drops DEBIAN_FRONTEND from the environment it passes on.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
pkg-config --exists lmdb || { echo "error: LMDB (pkg-config lmdb) is still missing" >&2; exit 1; }
