#!/usr/bin/env bash
# The 1M-event run (both feature sets) with its source and historical store
# on the local S3 server, beside the same run on the local disk: stages,
# peak memory (each run in a process of its own) and the requests the S3
# server answered (counted in its request log).
#
#   eval "$(scripts/servers.sh start s3)"
#   bench/object-store-run.sh [EVENTS]    # default 1m; a release build of featurestore-bench
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1m}
: "${AWS_ENDPOINT_URL:?start the S3 server: eval \"\$(scripts/servers.sh start s3)\"}"
: "${FEATURESTORE_TEST_S3_BUCKET:?start the S3 server: eval \"\$(scripts/servers.sh start s3)\"}"
. bench/lib.sh
release_binaries featurestore-bench
generated_orders "$events"
bench=$release/featurestore-bench
log=${FEATURESTORE_SERVERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/featurestore/servers}/s3/log/server.log
[ -f "$log" ] || { echo "no S3 server log at $log" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=bench-$$-$(date +%s)
bucket=$FEATURESTORE_TEST_S3_BUCKET
# The test server (moto) does not check signatures: a plain PUT uploads.
curl -fsS -o /dev/null -T "$input" "$AWS_ENDPOINT_URL/$bucket/$prefix/orders.csv"
end=2020-04-29

echo "== local disk"
"$bench" measure pipeline --events "$input" --dir "$work/local" --end "$end"
echo "== S3 ($AWS_ENDPOINT_URL): source s3://$bucket/$prefix/orders.csv, historical store s3://$bucket/$prefix/fs"
before=$(wc -l <"$log")
"$bench" measure pipeline --events "$input" --dir "$work/s3" --end "$end" \
    --source-url "s3://$bucket/$prefix/orders.csv" --historical-root "s3://$bucket/$prefix/fs"
after=$(wc -l <"$log")
echo "requests answered by the S3 server: $((after - before)) (by method:"
tail -n "$((after - before))" "$log" | grep -oE '"(GET|PUT|POST|HEAD|DELETE) ' | sort | uniq -c
echo ")"
