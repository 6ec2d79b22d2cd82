#!/usr/bin/env bash
# Builds the streamlet workspace (SDK, shipped streamlets, the test-only `misbehave`) for
# wasm32-wasip2 and lays out <name>.wasm + <name>.yaml (the descriptor) in streamlets/dist/,
# the directory `nexus-proxy --streamlets` deploys and the tests read. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus}"
if ! grep -qx wasm32-wasip2 <<<"$(rustup target list --installed 2>/dev/null)"; then
  echo "[streamlets] installing the wasm32-wasip2 target" >&2
  rustup target add wasm32-wasip2 >&2
fi
# compress-zstd links libzstd, which is C: it is compiled for WASM by clang with the wasi-libc
# headers (Debian packages clang, llvm, wasi-libc; installed here if missing).
need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
command -v llvm-ar >/dev/null 2>&1 || need+=(llvm)
[ -f /usr/include/wasm32-wasi/stdlib.h ] || need+=(wasi-libc)
if [ ${#need[@]} -gt 0 ]; then
  echo "[streamlets] installing ${need[*]} (Debian packages: the C compiler for libzstd)" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export CC_wasm32_wasip2=clang AR_wasm32_wasip2=llvm-ar
export CFLAGS_wasm32_wasip2="--target=wasm32-wasi -isystem /usr/include/wasm32-wasi -O3 -msimd128 -mbulk-memory"
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
