#!/usr/bin/env bash
# Fuzzes one target of fuzz/ for a number of seconds:
#   scripts/fuzz.sh window|date_arg|csv_source [SECONDS]
# Installs cargo-fuzz if missing. Works on the pinned stable toolchain:
# RUSTC_BOOTSTRAP lets cargo-fuzz pass the few unstable flags it needs, and
# no sanitizer is used (AddressSanitizer would need a nightly standard
# library; the code fuzzed forbids `unsafe`).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
target="${1:?usage: scripts/fuzz.sh window|date_arg|csv_source [SECONDS]}"
seconds="${2:-60}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/featurestore/target}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
corpus="corpus/$target"
mkdir -p "$corpus"
# Seeds: the inputs a user writes.
case "$target" in
    window) printf '3d,7d,30d' >"$corpus/seed-promised"; printf ' 1w , 72h,5760m' >"$corpus/seed-units" ;;
    date_arg) printf '2020-07-17' >"$corpus/seed-date" ;;
    csv_source) cp ../tests/fixtures/legiti/input.csv "$corpus/seed-legiti.csv" 2>/dev/null || true
                printf 'id,at,n,x,day\na,2024-01-01 10:00:00,1,1.5,2024-01-01\n' >"$corpus/seed-typed.csv" ;;
esac
# `window` and `date_arg` are plain Rust: built without the runtime (and
# polars), in a build directory of their own so csv_source's is not rebuilt.
features=()
build="$CARGO_TARGET_DIR/fuzz"
if [ "$target" != csv_source ]; then
    features=(--no-default-features)
    build="$CARGO_TARGET_DIR/fuzz-light"
fi
# cargo-fuzz builds with one codegen unit unless told otherwise: rustc then
# needs about 20 GB for polars-ops alone (killed for lack of memory here).
RUSTC_BOOTSTRAP=1 exec cargo fuzz run --sanitizer none --codegen-units 16 "${features[@]}" \
    --target-dir "$build" \
    "$target" "$corpus" -- -max_total_time="$seconds" -print_final_stats=1
