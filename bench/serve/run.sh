#!/usr/bin/env bash
# Throughput and latency of `features serve` on loopback, with wrk (Debian's
# `wrk`): one key and 100 keys per request, from the embedded store and,
# with FEATURESTORE_TEST_REDIS set (`eval "$(scripts/servers.sh start
# redis)"`), from Redis. Prints wrk's report (requests/s, latency
# percentiles with --latency) for each case.
#
#   bench/serve/run.sh [FEATURES_BINARY]    # a release build, for numbers worth keeping
#
# The server and wrk share the machine: pin them apart (taskset) on a
# machine with cores to spare, and say so next to the numbers.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-${CARGO_TARGET_DIR:-target}/release/features}
[ -x "$bin" ] || { echo "no features binary at $bin: cargo build --release -p features" >&2; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
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
    for _ in $(seq 100); do grep -q http:// "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
    local base
    base=$(grep -o "http://[0-9.:]*" "$work/serve.out")
    for keys in 1 100; do
        echo "== $label, $keys key(s) per request"
        KEYS=$keys wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
            -s bench/serve/lookup.lua "$base/get-online-features"
    done
    kill "$server"; wait "$server" 2>/dev/null || true; server=
}

bench "redb://$work/online.redb" "embedded store"
if [ -n "${FEATURESTORE_TEST_REDIS:-}" ]; then
    bench "$FEATURESTORE_TEST_REDIS/?prefix=bench-serve-$$:" "Redis"
fi
