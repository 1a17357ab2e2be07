#!/usr/bin/env bash
# The README's quickstart as a new user follows it: install the `featurestore`
# command, create a feature crate outside the workspace, build it, run its
# first pipeline and a lookup, and check what they print against values
# worked out by hand from the sample data.
#
# With CARGO_TARGET_DIR set, the new crate builds there (the copied
# Cargo.lock keeps every version the workspace's), so CI compiles polars
# once for both. NEWCOMER_FEATURES (e.g. "s3,redis") is passed to
# `featurestore new --features`: the same runtime features as the crates
# already built there let the build reuse them.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/featurestore-newcomer.XXXXXX")
trap 'rm -rf "$work"' EXIT

say() { printf -- '--> %s\n' "$*"; }
fail() { printf 'newcomer: %s\n' "$*" >&2; exit 1; }

# Quickstart, step 2 (into a directory of this run rather than ~/.cargo).
say "cargo install --locked --path featurestore-cli"
cargo install --quiet --locked --path featurestore-cli --root "$work/cli"
export PATH="$work/cli/bin:$PATH"

# Step 3: anywhere outside the clone. The default --path is the clone the
# command was installed from; given here so a moved script still works.
cd "$work"
say "featurestore new payments"
featurestore new payments --path "$checkout" ${NEWCOMER_FEATURES:+--features "$NEWCOMER_FEATURES"} >/dev/null
cd payments
for f in Cargo.toml Cargo.lock featurestore.toml src/lib.rs src/main.rs data/payments/payments.csv; do
    [ -f "$f" ] || fail "featurestore new wrote no $f"
done

# Steps 4 and 5.
say "cargo run -- execute feature_store.user_payments --end-date 2024-01-08"
start=$(date +%s)
cargo build --quiet
say "built in $(( $(date +%s) - start )) s"
out=$(cargo run --quiet -- execute feature_store.user_payments --end-date 2024-01-08 --format csv)
# By hand from data/payments/payments.csv: the row of 2024-01-08 counts the
# events of [01-07, 01-08) for 1 day and [01-01, 01-08) for 7 days.
expected='user_id,timestamp,payments__count_over_1_day_rolling_windows,payments__count_over_7_days_rolling_windows,amount__sum_over_1_day_rolling_windows,amount__sum_over_7_days_rolling_windows,amount__avg_over_1_day_rolling_windows,amount__avg_over_7_days_rolling_windows
u1,2024-01-08 00:00:00,1,3,6.0,21.0,6.0,7.0
u2,2024-01-08 00:00:00,1,2,7.0,27.0,7.0,13.5'
[ "$out" = "$expected" ] || fail "$(printf 'execute printed:\n%s\nexpected:\n%s' "$out" "$expected")"
[ -d data/feature_store/historical/user_id/user_payments ] || fail "no historical store under data/feature_store/historical/user_id/"
[ -f data/online/online_store.sqlite ] || fail "no online store at data/online/online_store.sqlite"

say "cargo run -- get feature_store.user_payments u1"
out=$(cargo run --quiet -- get feature_store.user_payments u1 --format csv)
[ "$out" = "$(head -n 2 <<<"$expected")" ] || fail "$(printf 'get printed:\n%s' "$out")"

say "--help names the crate"
cargo run --quiet -- --help | head -n 1 | grep -q '^The payments feature crate' || fail "--help does not describe the crate"
echo "ok: a new feature crate builds, runs its first pipeline, and serves its rows"
