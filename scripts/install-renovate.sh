#!/usr/bin/env bash
# Installs the Renovate CLI that test/integration/renovate.test.ts runs (issue 9 §5: the generated
# renovate.json is checked by real Renovate, not by reading it back). Kept out of package.json and
# package-lock.json: Renovate brings ~1,500 packages, and `npm ci` for people who only use airlock
# stays light. Pinned to an exact version so CI proposes the same updates every run.
#
# --ignore-scripts and --omit=optional: no install step downloads or builds native binaries (re2,
# better-sqlite3 and friends); Renovate falls back to JavaScript RegExp and its file cache without
# them. The install is skipped when the pinned version is already there (CI caches node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."

RENOVATE_VERSION=44.121.2
DIR=node_modules/.cache/airlock-renovate

installed="$(node -p "try{require('./$DIR/node_modules/renovate/package.json').version}catch{''}")"
if [ "$installed" = "$RENOVATE_VERSION" ]; then
  echo "renovate $RENOVATE_VERSION already in $DIR"
  exit 0
fi
mkdir -p "$DIR"
# A package.json of its own, so npm installs here and not into the project's package.json.
[ -f "$DIR/package.json" ] || echo '{"name":"airlock-renovate","private":true}' >"$DIR/package.json"
npm install --prefix "$DIR" --no-save --omit=optional --ignore-scripts --no-audit --no-fund \
  --no-package-lock "renovate@$RENOVATE_VERSION"
echo "renovate $RENOVATE_VERSION installed in $DIR"
