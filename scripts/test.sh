#!/usr/bin/env bash
# Runs every check and test of the workspace. Needs a Rust toolchain only;
# anything else the tests need is installed or started here.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build directory outside the clone survives fresh clones on the same machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/featurestore/target}"
mkdir -p "$CARGO_TARGET_DIR"
# A build directory shared between checkouts keeps what another checkout
# built when the sources are older: cargo tracks them relative to the
# package, so a crate built in another checkout is taken as fresh with that
# checkout's paths compiled in (`env!("CARGO_MANIFEST_DIR")`: fixtures,
# snapshots, `featurestore new`'s template). The workspace's own crates are
# rebuilt whenever the checkout using the directory changes; dependencies
# are kept.
if [ "$(cat "$CARGO_TARGET_DIR/.checkout" 2>/dev/null)" != "$PWD" ]; then
    own=$(cargo metadata --no-deps --format-version 1 |
        python3 -c 'import json, sys; print(" ".join("-p " + p["name"] for p in json.load(sys.stdin)["packages"]))')
    # shellcheck disable=SC2086
    cargo clean $own --quiet
    echo "$PWD" >"$CARGO_TARGET_DIR/.checkout"
fi
# Proc-macro UI tests compare compiler output: never rewrite expectations here.
unset TRYBUILD

step() { printf '\n==> %s\n' "$*"; }

# rust-toolchain.toml pins 1.95.0; a machine whose stable toolchain is 1.95
# under another name gets it linked rather than a failed build.
want=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if command -v rustup >/dev/null && ! rustup toolchain list | grep -q "^$want"; then
    if rustc +stable --version 2>/dev/null | grep -q " $want "; then
        rustup toolchain link "$want" "$(rustc +stable --print sysroot)"
    fi
fi

step "toolchain: $(rustc --version)"
step "cargo fmt --check"
cargo fmt --all --check

step "import structure (scripts/layers.py)"
python3 scripts/layers.py

step "the runtime's default build has no backend client or server library"
# polars' Parquet support always compiles object_store's HTTP plumbing
# (reqwest), so that cannot be the test; the backends' own clients and
# object_store's cloud builders can: each comes only with its cargo feature.
tree=$(cargo tree --locked -p featurestore-runtime -e normal --prefix none)
features=$(cargo tree --locked -p featurestore-runtime -e features -i object_store --prefix none)
banned='^(rdkafka|rdkafka-sys|scylla|redis|axum|tonic|apache-spark-connect|spark-connect[a-z-]*) '
if grep -E "$banned" <<<"$tree" >&2 || grep -E 'object_store feature "(aws|gcp|azure)"' <<<"$features" >&2; then
    echo "featurestore-runtime's default features pull in the backend code above" >&2
    exit 1
fi
echo "ok: $(sort -u <<<"$tree" | wc -l) crates, no Kafka, Cassandra, Redis, cloud-store or server library"

step "tools the tests need: strace (the durability test watches a run's fsyncs), gzip and zstd (compressed sources), chromium (the catalog page's browser test), protoc (the Spark Connect client's build), openssl (the Cassandra nodes' TLS certificates)"
missing=()
for tool in strace gzip zstd chromium openssl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
command -v protoc >/dev/null || missing+=(protobuf-compiler)
if [ ${#missing[@]} -gt 0 ]; then
    as_root=(); [ "$(id -u)" = 0 ] || as_root=(sudo)
    "${as_root[@]}" apt-get update -q >/dev/null
    "${as_root[@]}" apt-get install -y -q "${missing[@]}" >/dev/null
fi
echo "ok: $(command -v strace gzip zstd chromium protoc openssl | tr '\n' ' ')"

# Servers install and start while clippy builds: Cassandra, Kafka and Spark
# take a minute or more each to come up. Each start's stdout is the env
# lines to export once it is ready.
SERVERS=(redis cassandra cassandra-auth s3 azure gcs kafka spark)
step "servers the tests need, started in the background: ${SERVERS[*]}"
starting=$(mktemp -d)
trap 'rm -rf "$starting"' EXIT
declare -A started
for name in "${SERVERS[@]}"; do
    scripts/servers.sh start "$name" >"$starting/$name.env" 2>"$starting/$name.log" &
    started[$name]=$!
done

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "waiting for the servers"
for name in "${SERVERS[@]}"; do
    if ! wait "${started[$name]}"; then
        echo "$name did not start:" >&2
        cat "$starting/$name.log" >&2
        exit 1
    fi
    eval "$(cat "$starting/$name.env")"
    echo "ok: $name"
done

step "cargo test"
cargo test --workspace --locked

step "the feature server's API, fuzzed from its OpenAPI document (schemathesis)"
scripts/fuzz-api.sh

step "cargo doc (the feature catalog)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# rustdoc reports no broken link in macro-generated docs, so the page is
# read back: declarations listed by kind, no marker trait or row struct.
python3 scripts/catalog_docs.py "$CARGO_TARGET_DIR/doc"

step "the README's run command"
out=$(cd features && cargo run -q --locked -- \
    --historical-root "$CARGO_TARGET_DIR/readme-run/historical" \
    --online-url "sqlite://$CARGO_TARGET_DIR/readme-run/online.sqlite" \
    execute feature_store.user_orders --end-date 2020-07-17 --format csv)
expected=$(cat tests/fixtures/legiti/user_orders_online.csv)
if [ "$out" != "$expected" ]; then
    printf 'unexpected output:\n%s\nexpected:\n%s\n' "$out" "$expected" >&2
    exit 1
fi
echo "ok: the online rows match the fixture"

step "the README's quickstart: a new feature crate outside the workspace"; NEWCOMER_FEATURES=redis,cassandra,kafka,server,s3,gcs,azure,spark scripts/newcomer.sh # the features crate's runtime features: the polars it built is reused
