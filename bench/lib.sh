# Shared by the benchmark scripts (sourced, from the repository's root).

# Sets `release` to the absolute folder of the release builds, failing with
# the command to run when one of the binaries named is missing.
release_binaries() { # BINARY...
    release=${CARGO_TARGET_DIR:-target}/release
    local b
    for b in "$@"; do
        [ -x "$release/$b" ] || { echo "no $b binary in $release: cargo build --release -p features -p featurestore-bench" >&2; exit 1; }
    done
    release=$(cd "$release" && pwd)
}

# Sets `input` to the generated orders of EVENTS (100k, 1m, 10m), kept
# between runs beside the bench's other inputs; needs `release`.
generated_orders() { # EVENTS
    local data=${CARGO_TARGET_DIR:-target}/featurestore-bench
    mkdir -p "$data"
    input=$(cd "$data" && pwd)/orders-$1.csv
    [ -f "$input" ] || "$release/featurestore-bench" generate --events "$1" --out "$input"
}
