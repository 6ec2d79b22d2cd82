#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs prerequisites (idempotent), builds, runs the
# Rust tests, then the client suites (boto3, aws CLI, s3s-e2e) against a real nexus-proxy, then
# a short fuzzing run of the parsers (longer: `bash scripts/fuzz.sh SECONDS`).
set -euo pipefail
cd "$(dirname "$0")/.."

export NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$NEXUS_CACHE/target}"
export NEXUS_VENV="$NEXUS_CACHE/venv"
export NEXUS_SHARED_DIR="${NEXUS_SHARED_DIR:-$(cd .. && pwd)/shared}"

bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --all --manifest-path streamlets/Cargo.toml -- --check

echo "== streamlets (wasm32-wasip2)"
bash scripts/build-streamlets.sh
export NEXUS_STREAMLETS_DIR="$PWD/streamlets/dist"

echo "== cargo build"
cargo build --workspace --all-targets --locked

echo "== cargo test"
cargo test --workspace --locked

echo "== client suites against a running nexus-proxy"
bash scripts/client-suites.sh

echo "== fuzzing (15 s per target)"
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
bash scripts/fuzz.sh 15
