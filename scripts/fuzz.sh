#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30) on stable Rust (cargo-fuzz with
# `--sanitizer none`: coverage-guided libFuzzer without ASan, which needs nightly; the targets
# are safe Rust, so panics and assertion failures are what they find). Installs cargo-fuzz if
# missing. Crashes are kept in fuzz/artifacts/<target>/. Corpora in fuzz/corpus/ (seeds are
# generated from real objects by the first run).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-30}"
NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz >&2
fi
export CARGO_TARGET_DIR="$NEXUS_CACHE/target-fuzz"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in nxf1_index resources key_grammars; do
  mkdir -p "fuzz/corpus/$target"
  echo "[fuzz] $target for ${SECONDS_EACH}s" >&2
  if ! cargo fuzz run --sanitizer none --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" -max_len=65536 >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "[fuzz] $target failed (crash inputs in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E "^#[0-9]+.*DONE" "$log" >&2 || true
done
echo "[fuzz] no crashes" >&2
