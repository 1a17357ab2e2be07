#!/usr/bin/env bash
# Each online store backend beside the embedded ones: the online write of the
# 1M-event run (both feature sets' latest rows, through `execute`'s path),
# then `featurestore-bench online` (1M rows of a 20-feature set written, then
# single-key and 100-key reads, in-process through the same API). Prints one
# JSON line per measurement. Redis and Cassandra are measured when their test
# servers' variables are set:
#
#   eval "$(scripts/servers.sh start redis)"; eval "$(scripts/servers.sh start cassandra)"
#   bench/online-backends.sh [EVENTS] [ROWS]    # default 1m 1m; release builds of features and featurestore-bench
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1m}
rows=${2:-1m}
. bench/lib.sh
release_binaries features featurestore-bench
generated_orders "$events"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

urls=("sqlite://$work/online.sqlite" "redb://$work/online.redb")
[ -n "${FEATURESTORE_TEST_REDIS:-}" ] && urls+=("$FEATURESTORE_TEST_REDIS/?prefix=bench-$$:")
[ -n "${FEATURESTORE_TEST_CASSANDRA:-}" ] && urls+=("cassandra://$FEATURESTORE_TEST_CASSANDRA/bench_$$")

for url in "${urls[@]}"; do
    echo "== ${url%%://*}"
    # Tables first where the backend needs them (Cassandra), as a deployment would.
    (cd features && "$release/features" --online-url "$url" migrate apply >/dev/null)
    "$release/featurestore-bench" measure pipeline --events "$input" --dir "$work/run-${url%%://*}" \
        --end 2020-04-29 --online-url "$url"
    "$release/featurestore-bench" online --online-url "$url" --rows "$rows" --features 20
done
