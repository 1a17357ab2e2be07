#!/usr/bin/env bash
# Readers are never blocked by a run: `features get` in a loop, in another
# process, while both feature sets run over generated events into the same
# embedded online store (SQLite, the default). The store is filled by a run
# of the first 30 days first, so every `get` has a row to find. Prints how
# many gets answered, how many failed, and their wall-time percentiles (each
# is a process start, a store open and one read).
#
#   bench/get-during-run.sh [EVENTS]    # default 10m; release builds of features and featurestore-bench
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-10m}
. bench/lib.sh
release_binaries features featurestore-bench
generated_orders "$events"

work=$(mktemp -d)
loop=
cleanup() { [ -n "$loop" ] && kill "$loop" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
features() {
    (cd features && "$release/features" --historical-root "$work/historical" \
        --online-url "sqlite://$work/online.sqlite" --source "order_events=$input" "$@")
}

features execute --all --end-date 2020-01-30 >/dev/null
# The user of the first order: the first run has written its row.
key=$(awk -F, 'NR == 2 { print $3 }' "$input")
features get feature_store.user_orders "$key" --format json >/dev/null

# The loop: one line per get, `ok|fail START_NS MILLISECONDS`.
(
    while [ ! -f "$work/stop" ]; do
        start=$(date +%s%N)
        if features get feature_store.user_orders "$key" --format json >/dev/null 2>>"$work/errors"; then
            status=ok
        else
            status=fail
        fi
        echo "$status $start $(( ($(date +%s%N) - start) / 1000000 ))" >>"$work/gets"
    done
) &
loop=$!
sleep 1
start=$(date +%s%N)
features execute --all --end-date 2020-04-29 >/dev/null
end=$(date +%s%N)
run_ms=$(( (end - start) / 1000000 ))
touch "$work/stop"
wait "$loop"; loop=

echo "run of $events events, both feature sets: $run_ms ms"
# The gets that started while the run ran.
awk -v from="$start" -v to="$end" '$2 >= from && $2 < to' "$work/gets" | sort -k3 -n | awk -v run="$run_ms" '
    { n++; if ($1 == "ok") ok++; else failed++; ms[n] = $3 }
    END {
        printf "gets: %d (%d answered, %d failed), during a %d ms run\n", n, ok, failed, run
        printf "get wall ms: p50 %d, p99 %d, max %d\n", ms[int(n * 0.5 + 0.5)], ms[int(n * 0.99 + 0.5)], ms[n]
    }'
if [ -s "$work/errors" ]; then
    echo "errors:"; sort "$work/errors" | uniq -c | head
fi
