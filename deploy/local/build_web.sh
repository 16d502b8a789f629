#!/usr/bin/env bash
# Builds the console's web app (services/console/web -> dist/) with npm from its committed lockfile, and
# installs the npm packages of the tests (axe-core, Lighthouse, an OpenID provider), each only when its inputs changed
# since the last build (a checksum kept in .local/). Everything comes from the npm registry; nothing is
# fetched at run time (no CDN).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$ROOT/.local"

checksum() { # checksum DIR PATHS...: one digest of the files under PATHS in DIR
    local dir="$1"; shift
    # paths that do not exist are left out (find's complaint and failure are not an error here)
    (cd "$dir" && { find "$@" -type f -not -path '*/node_modules/*' 2>/dev/null || true; } | LC_ALL=C sort \
        | xargs -r sha256sum | sha256sum | cut -d' ' -f1)
}

web="$ROOT/services/console/web"
stamp="$ROOT/.local/web-build.sha256"
sum=$(checksum "$web" package.json package-lock.json index.html vite.config.ts tsconfig.json scripts src openapi public)
if [ -f "$web/dist/index.html" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
    echo "console web app: up to date"
else
    echo "console web app: npm ci and build"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error && npm run build)
    echo "$sum" > "$stamp"
fi

# npm packages the tests run beside the platform: axe-core and Lighthouse (tests/browser), and a real OpenID
# provider for the console's sign-in tests (node-oidc-provider, services/console/tests/oidc-provider).
for tools in "$ROOT/tests/browser" "$ROOT/services/console/tests/oidc-provider"; do
    [ -f "$tools/package-lock.json" ] || continue
    name=$(basename "$tools")
    stamp="$ROOT/.local/npm-$name.sha256"
    sum=$(checksum "$tools" package.json package-lock.json)
    if [ -d "$tools/node_modules" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
        echo "test tools ($name): up to date"
    else
        echo "test tools ($name): npm ci"
        (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$sum" > "$stamp"
    fi
done
