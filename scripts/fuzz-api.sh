#!/usr/bin/env bash
# Fuzzes `features serve` from its own OpenAPI document with schemathesis
# (PyPI, installed into a venv outside the clone): a server over the stores
# the README's run command fills, and requests generated from
# /openapi.json, valid and invalid. Fails on any 5xx (the store is up, so
# not even 503 is allowed), a crash, or a request that takes longer than
# its timeout. Bounded: a few dozen examples per operation, 30 s of fuzzing.
#
#   scripts/fuzz-api.sh [FEATURES_BINARY]
#
# The binary defaults to the one `cargo test --workspace` builds in
# $CARGO_TARGET_DIR/debug/features.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=${FEATURESTORE_SCHEMATHESIS_VERSION:-4.32.5}
cache=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/featurestore
bin=${1:-${CARGO_TARGET_DIR:-$cache/target}/debug/features}
[ -x "$bin" ] || { echo "no features binary at $bin: run \`cargo test --workspace\` first" >&2; exit 1; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

venv=$cache/schemathesis-$SCHEMATHESIS_VERSION
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

stores=(--historical-root "$work/historical" --online-url "redb://$work/online.redb")
for fs in feature_store.user_orders feature_store.user_chargebacks; do
    (cd features && "$bin" "${stores[@]}" execute "$fs" --end-date 2020-07-17 --format csv >/dev/null)
done

(cd features && exec "$bin" "${stores[@]}" serve --bind 127.0.0.1:0 --max-keys 100 >"$work/serve.out" 2>"$work/serve.err") &
server=$!
for _ in $(seq 100); do
    grep -q "http://" "$work/serve.out" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
    sleep 0.1
done
base=$(grep -o "http://[0-9.:]*" "$work/serve.out")
echo "server at $base"

# From the run's own folder: schemathesis keeps a cache (.schemathesis/) in
# its working directory, which must not land in the clone.
(cd "$work" && "$venv/bin/schemathesis" run "$base/openapi.json" \
    --checks not_a_server_error \
    --max-examples 25 \
    --request-timeout 5 \
    --max-time 30 \
    --seed 6566 \
    --no-color)

# The server must have lived through it.
kill -0 "$server" || { echo "the server died during the run:" >&2; cat "$work/serve.err" >&2; exit 1; }
curl -fsS "$base/health" >/dev/null
echo "ok: no 5xx, no crash, no hang"
