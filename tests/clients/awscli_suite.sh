#!/usr/bin/env bash
# The aws CLI against a running nexus-proxy: high-level `aws s3` and low-level `aws s3api`.
# Env: NEXUS_ENDPOINT, NEXUS_ACCESS_KEY, NEXUS_SECRET_KEY; AWS (the aws binary, default `aws`).
set -euo pipefail
AWS_BIN="${AWS:-aws}"
export AWS_ACCESS_KEY_ID="$NEXUS_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$NEXUS_SECRET_KEY" AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
aws() { "$AWS_BIN" --endpoint-url "$NEXUS_ENDPOINT" "$@"; }

work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
bucket="awscli-$RANDOM$RANDOM"
passed=0; failed=0
step() { local name=$1; shift; if "$@" >"$work/out" 2>&1; then passed=$((passed+1)); echo "ok   $name"; else failed=$((failed+1)); echo "FAIL $name"; cat "$work/out"; fi; }

head -c $((20*1024*1024+3)) /dev/urandom > "$work/big.bin"   # multipart with the CLI's 8 MiB parts
printf 'hello nexus\n' > "$work/small.txt"

step mb            aws s3 mb "s3://$bucket"
step cp-small      aws s3 cp "$work/small.txt" "s3://$bucket/dir/small.txt"
step cp-multipart  aws s3 cp "$work/big.bin" "s3://$bucket/dir/big.bin"
step ls            bash -c "aws() { \"$AWS_BIN\" --endpoint-url \"$NEXUS_ENDPOINT\" \"\$@\"; }; aws s3 ls s3://$bucket/dir/ | grep -q big.bin"
step head-object   bash -c "aws() { \"$AWS_BIN\" --endpoint-url \"$NEXUS_ENDPOINT\" \"\$@\"; }; aws s3api head-object --bucket $bucket --key dir/big.bin | grep -q '\"ContentLength\": $((20*1024*1024+3))'"
step cp-back       aws s3 cp "s3://$bucket/dir/big.bin" "$work/back.bin"
step same-bytes    cmp "$work/big.bin" "$work/back.bin"
step tagging       aws s3api put-object-tagging --bucket "$bucket" --key dir/small.txt --tagging 'TagSet=[{Key=tier,Value=cold}]'
step get-tagging   bash -c "aws() { \"$AWS_BIN\" --endpoint-url \"$NEXUS_ENDPOINT\" \"\$@\"; }; aws s3api get-object-tagging --bucket $bucket --key dir/small.txt | grep -q cold"
step sync-rm       aws s3 rm "s3://$bucket" --recursive
step rb            aws s3 rb "s3://$bucket"

echo "awscli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
