#!/usr/bin/env bash
# A local three-swarmlet mesh on loopback, with Redis:
#   redis-server        127.0.0.1:${NEXUS_MESH_REDIS_PORT:-6390}  (metadata store, no persistence)
#   store               127.0.0.1:9010  moto_server (from the project's venv, scripts/setup.sh):
#                                       the S3 store every mesh worker writes to
#   edge                127.0.0.1:9001  swarmlet edge,     location edge
#   edge-gpu            127.0.0.1:9002  swarmlet edge-gpu, location edge,  hardware gpu
#   cloud               127.0.0.1:9003  swarmlet cloud,    location cloud
# (admin ports 9101-9103), with the example policies and the shipped streamlets; any of
# the three is a broker's endpoint (credentials nexus / nexus-secret-key). Ctrl-C stops it all.
#   --check   start, verify (nexus status shows the three workers; a segment written through the
#             cloud worker has its edge stage run at the edge and reads back identical through
#             the others), stop. CI runs this.
# Data and logs: ./nexus-mesh/ (removed at the start of each run).
set -euo pipefail
cd "$(dirname "$0")/.."
NEXUS_CACHE="${NEXUS_CACHE:-$HOME/.cache/nexus}"
TARGET="${CARGO_TARGET_DIR:-$NEXUS_CACHE/target}"
REDIS_PORT="${NEXUS_MESH_REDIS_PORT:-6390}"
check=false
[ "${1:-}" = "--check" ] && check=true

VENV="${NEXUS_VENV:-$NEXUS_CACHE/venv}"
if ! command -v redis-server >/dev/null || [ ! -x "$VENV/bin/moto_server" ]; then bash scripts/setup.sh; fi
[ -d streamlets/dist ] || bash scripts/build-streamlets.sh
cargo build --release --locked -p nexus-proxy -p nexus-cli
BIN="$TARGET/release/nexus-proxy"
NEXUS="$TARGET/release/nexus"

dir=nexus-mesh
rm -rf "$dir"; mkdir -p "$dir/redis"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/redis" >"$dir/redis.log" 2>&1 &
pids+=($!)
META="redis://127.0.0.1:$REDIS_PORT"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export NEXUS_ACCESS_KEY=nexus NEXUS_SECRET_KEY=nexus-secret-key
wait_ready() { # NAME ADMIN_PORT
  for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:$2/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$dir/$1.log"; echo "$1 did not become ready"; exit 1
}

"$VENV/bin/moto_server" -H 127.0.0.1 -p 9010 >"$dir/store.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fsS -o /dev/null http://127.0.0.1:9010/ 2>/dev/null && break; sleep 0.1; done

start_worker() { # NAME PORT ADMIN LOCATION [HARDWARE]
  local name=$1 port=$2 admin=$3 location=$4 hardware=${5:-}
  local hw=()
  [ -n "$hardware" ] && hw=(--hardware "$hardware")
  NEXUS_CLUSTER_SECRET=local-mesh-secret-0123456789 "$BIN" \
    --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" --data-dir "$dir/$name" \
    --meta "$META" --swarmlet "$name" --location "$location" "${hw[@]}" \
    --backend-endpoint http://127.0.0.1:9010 --backend-access-key moto \
    --backend-secret-key moto-secret --backend-path-style \
    --policies policies --streamlets streamlets/dist 2>"$dir/$name.log" &
  pids+=($!)
}
start_worker edge 9001 9101 edge
start_worker edge-gpu 9002 9102 edge gpu
start_worker cloud 9003 9103 cloud
wait_ready edge 9101; wait_ready edge-gpu 9102; wait_ready cloud 9103
sleep 1.2 # one heartbeat round: every worker sees the other two
"$NEXUS" --meta "$META" status

if ! $check; then
  echo "Mesh running: S3 on 127.0.0.1:9001 (edge), :9002 (edge-gpu), :9003 (cloud). Ctrl-C stops it."
  wait
  exit 0
fi

workers=$("$NEXUS" --meta "$META" -o json status | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))')
[ "$workers" = 3 ] || { echo "expected 3 workers in nexus status, got $workers"; exit 1; }
export NEXUS_SHARED_DIR="${NEXUS_SHARED_DIR:-$(cd .. && pwd)/shared}"
"$VENV/bin/python" - <<'EOF'
import hashlib, os, urllib.request
import boto3
from botocore.config import Config
def client(port):
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="nexus",
                        aws_secret_access_key="nexus-secret-key", region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"}))
def zstd_calls(admin):
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics").read().decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
               if l.startswith('nexus_streamlet_call_duration_seconds_count{streamlet="compress-zstd"'))
logs = os.path.join(os.environ.get("NEXUS_SHARED_DIR", "../shared"), "data/loghub/HDFS_2k.log")
body = open(logs, "rb").read() * 8
key = "tiered/logs-app-MWJ6FHTfRYy67jzwZdeqSQ/0/00000000000000000000-tqimKeZwStOEOwRzT3L5oQ.log"
client(9003).create_bucket(Bucket="kafka-tiered")
client(9003).put_object(Bucket="kafka-tiered", Key=key, Body=body)
for port in (9001, 9002, 9003):
    got = client(port).get_object(Bucket="kafka-tiered", Key=key)["Body"].read()
    assert hashlib.md5(got).hexdigest() == hashlib.md5(body).hexdigest(), f"read through {port}"
edge, gpu, cloud = zstd_calls(9101), zstd_calls(9102), zstd_calls(9103)
assert edge > 0 and cloud == 0, f"compress-zstd (location edge) ran on edge={edge} edge-gpu={gpu} cloud={cloud}"
print(f"mesh check: ok (compress-zstd calls: edge {edge:.0f}, edge-gpu {gpu:.0f}, cloud {cloud:.0f})")
EOF
