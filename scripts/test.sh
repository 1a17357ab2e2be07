#!/usr/bin/env bash
# Runs every check and test of the workspace. Needs a Rust toolchain only;
# anything else the tests need is installed or started here.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build directory outside the clone survives fresh clones on the same machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/featurestore/target}"
mkdir -p "$CARGO_TARGET_DIR"
# Proc-macro UI tests compare compiler output: never rewrite expectations here.
unset TRYBUILD

step() { printf '\n==> %s\n' "$*"; }

step "toolchain: $(rustc --version)"
step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "cargo doc (the feature catalog)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "the README's run command"
out=$(cargo run -q --locked -p features -- \
    --historical-root "$CARGO_TARGET_DIR/readme-run/historical" \
    --online-url "redb://$CARGO_TARGET_DIR/readme-run/online.redb" \
    execute feature_store.user_orders --end-date 2020-07-17 --format csv)
expected=$(cat tests/fixtures/legiti/user_orders_online.csv)
if [ "$out" != "$expected" ]; then
    printf 'unexpected output:\n%s\nexpected:\n%s\n' "$out" "$expected" >&2
    exit 1
fi
echo "ok: the online rows match the fixture"
