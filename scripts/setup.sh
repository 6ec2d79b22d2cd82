#!/usr/bin/env bash
# Installs what Nexus's tests need, idempotently. Safe to run any number of times.
#   - Python venv with moto[server]<5.2 (S3 test backend), boto3 and the aws CLI
#   - s3s-e2e 0.14.1 (the s3s end-to-end suite), unless NEXUS_SKIP_E2E_INSTALL=1
#   - redis-server and openssl (Debian packages; the metadata-store tests start private servers)
# Everything lands under $NEXUS_CACHE (default ~/.cache/nexus), outside the clone.
set -euo pipefail

NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus}"
VENV="$NEXUS_CACHE/venv"
TOOLS="$NEXUS_CACHE/tools"
mkdir -p "$NEXUS_CACHE" "$TOOLS"

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Python tools -----------------------------------------------------------------------------
PY_REQS=("moto[server]>=5.1,<5.2" "boto3>=1.35" "awscli>=1.36")
if [ ! -x "$VENV/bin/python" ]; then
  log "creating venv $VENV"
  python3 -m venv "$VENV"
fi
stamp="$VENV/.nexus-reqs"
want="${PY_REQS[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/aws" ]; then
  log "installing ${PY_REQS[*]}"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_REQS[@]}"
  printf '%s' "$want" > "$stamp"
else
  log "python tools present"
fi

# --- s3s-e2e ----------------------------------------------------------------------------------
if [ "${NEXUS_SKIP_E2E_INSTALL:-0}" != 1 ]; then
  if [ -x "$TOOLS/bin/s3s-e2e" ] && [ "$(cat "$TOOLS/.s3s-e2e-version" 2>/dev/null)" = "0.14.1" ]; then
    log "s3s-e2e present"
  else
    log "installing s3s-e2e 0.14.1 (a few minutes, once per machine)"
    CARGO_TARGET_DIR="$NEXUS_CACHE/target-tools" cargo install --quiet s3s-e2e --version 0.14.1 --locked --root "$TOOLS"
    echo 0.14.1 > "$TOOLS/.s3s-e2e-version"
  fi
fi

# --- redis-server, openssl (Debian packages) ---------------------------------------------------
# The metadata-store tests start their own `redis-server` on free loopback ports (nothing listens
# on 6379 for them); the TLS test makes its certificates with `openssl`. Without them those tests
# skip with a message, except under CI=true where they fail: so a failed install fails here
# first, under CI.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -eq 0 ]; then
  log "redis-server present ($(redis-server --version | awk '{print $3}')), openssl present"
else
  log "installing ${missing[*]} (Debian packages)"
  SUDO=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
  if command -v apt-get >/dev/null 2>&1 \
    && $SUDO apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    && command -v redis-server >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
    log "installed ${missing[*]}"
  elif [ "${CI:-}" = true ]; then
    log "ERROR: could not install ${missing[*]} (the metadata-store tests need them under CI)"
    exit 1
  else
    log "WARNING: could not install ${missing[*]}; the Redis tests will be skipped"
  fi
fi

log "done"
