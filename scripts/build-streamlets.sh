#!/usr/bin/env bash
# Builds the streamlet workspace (SDK, shipped streamlets, the test-only `misbehave`) for
# wasm32-wasip2 and lays out <name>.wasm + <name>.yaml (the descriptor) in streamlets/dist/,
# the directory `nexus-proxy --streamlets` deploys and the tests read. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus}"
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "[streamlets] installing the wasm32-wasip2 target" >&2
  rustup target add wasm32-wasip2 >&2
fi
CARGO_TARGET_DIR="$NEXUS_CACHE/target-wasm" cargo build --quiet --release --locked \
  --manifest-path streamlets/Cargo.toml --target wasm32-wasip2
# Test-only streamlets go to dist/testing/, so `--streamlets streamlets/dist` deploys only the
# shipped ones.
TEST_ONLY=" misbehave template "
out=streamlets/dist
rm -rf "$out"
mkdir -p "$out/testing"
for dir in streamlets/*/; do
  name=$(basename "$dir")
  [ -f "$dir/streamlet.yaml" ] || continue
  dest=$out
  case "$TEST_ONLY" in *" $name "*) dest=$out/testing ;; esac
  cp "$NEXUS_CACHE/target-wasm/wasm32-wasip2/release/${name//-/_}.wasm" "$dest/$name.wasm"
  cp "$dir/streamlet.yaml" "$dest/$name.yaml"
done
echo "[streamlets] built: $(cd "$out" && ls *.wasm testing/*.wasm | tr '\n' ' ')" >&2
