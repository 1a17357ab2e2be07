#!/usr/bin/env bash
# Corrections reach the online store: both feature sets run over generated
# events, then again over the same range on a 90% subset of them (every
# tenth order removed: keys lose events, some lose all of them). The online
# store the re-run leaves must equal the one a clean run over the subset
# writes into an empty store, key for key and byte for byte; before the
# re-run, the two differ (what a newest-wins store would keep for good).
#
#   bench/correction-rerun.sh [EVENTS]    # default 1m; release builds of features and featurestore-bench
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-1m}
. bench/lib.sh
release_binaries features featurestore-bench
generated_orders "$events"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The day of the last generated order: both runs close the same range.
end=$(tail -n 1 "$input" | awk -F, '{ print substr($2, 1, 10) }')
awk 'NR == 1 || NR % 10 != 1' "$input" >"$work/subset.csv"

features() { # STORE SOURCE ARGS...
    local store=$1 source=$2
    shift 2
    (cd features && "$release/features" --historical-root "$work/$store-historical" \
        --online-url "sqlite://$work/$store.sqlite" --source "order_events=$source" "$@") \
        >>"$work/runs.log" 2>&1 || { cat "$work/runs.log" >&2; return 1; }
}

# Every online table of two stores, compared: rows only in one, and rows
# whose bytes differ (the encoded features and the row's time).
compare() { # A B
    python3 - "$work/$1.sqlite" "$work/$2.sqlite" <<'EOF'
import sqlite3, sys
def rows(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = [t for (t,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'feature_set:%'")]
    return {t: dict(db.execute(f'SELECT key, row FROM "{t}"')) for t in tables}
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert a.keys() == b.keys(), f"tables differ: {sorted(a)} vs {sorted(b)}"
bad = 0
for t in sorted(a):
    only_a = len(a[t].keys() - b[t].keys())
    only_b = len(b[t].keys() - a[t].keys())
    changed = sum(1 for k in a[t].keys() & b[t].keys() if a[t][k] != b[t][k])
    print(f"  {t[len('feature_set:'):]}: {len(a[t])} vs {len(b[t])} keys; "
          f"{only_a} only in the first, {only_b} only in the second, {changed} rows differ")
    bad += only_a + only_b + changed
print(f"  {bad} keys differ")
sys.exit(1 if bad else 0)
EOF
}

echo "events: $input (end date $end); subset: $(($(wc -l <"$work/subset.csv") - 1)) orders"
features full "$input" execute --all --end-date "$end"
features clean "$work/subset.csv" execute --all --end-date "$end"
echo "before the re-run, the full run's online store vs the subset's clean run:"
if compare full clean; then
    echo "the subset changes no online row: nothing to correct" >&2
    exit 1
fi
features full "$work/subset.csv" execute --all --end-date "$end"
echo "after the re-run on the subset:"
compare full clean
