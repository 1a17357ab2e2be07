#!/usr/bin/env bash
# Throughput and latency of the feature server on loopback, with wrk
# (Debian's `wrk`): one key and 100 keys per request, for the chargeback
# feature set (`features serve`) and for a generated feature set of 250 float
# features (`featurestore-bench serve-wide`), from the embedded store and,
# with FEATURESTORE_TEST_REDIS set (`eval "$(scripts/servers.sh start
# redis)"`), from Redis; then one key of the 250 features at a set 1,000
# requests per second. Prints wrk's report (requests/s, latency
# percentiles with --latency) for each case.
#
#   bench/serve/run.sh [RELEASE_DIR]   # release builds of features and featurestore-bench (default $CARGO_TARGET_DIR/release)
#
# The server and wrk share the machine: pin them apart (taskset) on a
# machine with cores to spare, and say so next to the numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/lib.sh
[ -z "${1:-}" ] || CARGO_TARGET_DIR=$(dirname "$1")
release_binaries features featurestore-bench
bin=$release/features
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}

work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

bench() { # ONLINE_URL LABEL
    local online=$1 label=$2
    (cd features && "$bin" --historical-root "$work/historical" --online-url "$online" \
        execute feature_store.user_orders --end-date 2020-07-17 --format csv >/dev/null)
    (cd features && exec "$bin" --historical-root "$work/historical" --online-url "$online" \
        serve --bind 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err") &
    server=$!
    measure "$label, user_orders" 0
    stop
}

wide() { # ONLINE_URL LABEL
    local online=$1 label=$2
    "$release/featurestore-bench" serve-wide --online-url "$online" --features 250 --keys 10k \
        >"$work/serve.out" 2>"$work/serve.err" &
    server=$!
    measure "$label, 250 features" 250
    echo "== $label, 250 features, 1 key per request, 1,000 requests/s"
    WIDE=250 KEYS=1 PAUSE_MS=10 wrk --latency -t2 -c10 -d"$DURATION" \
        -s bench/serve/lookup.lua "$(base)/get-online-features"
    stop
}

base() { grep -o "http://[0-9.:]*" "$work/serve.out"; }
stop() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }

measure() { # LABEL WIDE: waits for the server, then wrk at full speed
    local label=$1 wide=$2
    for _ in $(seq 600); do grep -q http:// "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
    grep -q http:// "$work/serve.out" || { cat "$work/serve.err" >&2; exit 1; }
    for keys in 1 100; do
        echo "== $label, $keys key(s) per request"
        WIDE=$wide KEYS=$keys wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
            -s bench/serve/lookup.lua "$(base)/get-online-features"
    done
}

bench "sqlite://$work/online.sqlite" "embedded store (SQLite)"
wide "sqlite://$work/wide.sqlite" "embedded store (SQLite)"
if [ -n "${FEATURESTORE_TEST_REDIS:-}" ]; then
    bench "$FEATURESTORE_TEST_REDIS/?prefix=bench-serve-$$:" "Redis"
    wide "$FEATURESTORE_TEST_REDIS/?prefix=bench-wide-$$:" "Redis"
fi
