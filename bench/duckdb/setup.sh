#!/usr/bin/env bash
# Installs DuckDB's Python package (PyPI) into a virtual environment kept
# beside the other tools of the benchmarks, once, and prints the Python to
# pass to `featurestore-bench run --duckdb` (or FEATURESTORE_BENCH_DUCKDB):
#
#   export FEATURESTORE_BENCH_DUCKDB=$(bench/duckdb/setup.sh)
set -euo pipefail
venv=${FEATURESTORE_CACHE:-$HOME/.cache/featurestore}/duckdb
version=2.0.1
if ! "$venv/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$version')" 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet "duckdb==$version" >&2
fi
echo "$venv/bin/python"
