"""Runs `rows.sql` in DuckDB (in this process, on every core) and times it,
then checks its rows against the engine's historical store.

    python run.py --events CSV --end YYYY-MM-DD --out DIR --engine HISTORICAL_ROOT

Prints one JSON object: wall and CPU seconds and peak RSS of the SQL alone,
the rows it wrote, and whether they are the engine's rows (both feature sets,
every column, as multisets) and its latest rows the engine's latest rows.
"""

import argparse
import json
import pathlib
import resource
import shutil
import time

import duckdb

FEATURE_SETS = [
    ("user_orders", "order_timestamp", "cpf_orders"),
    ("user_chargebacks", "chargeback_timestamp", "cpf_chargebacks"),
]


def statements(path, events, end, out):
    once, per = pathlib.Path(path).read_text().split("-- @per feature set")
    base = {"events": events, "end": end, "out": out}
    # Only the placeholders: the SQL's own braces (a struct literal) stay.
    def fill(text, values):
        for k, v in values.items():
            text = text.replace("{" + k + "}", v)
        return text
    yield fill(once, base)
    for name, ts, prefix in FEATURE_SETS:
        yield fill(per, {**base, "name": name, "ts": ts, "prefix": prefix})


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--events", required=True)
    p.add_argument("--end", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--engine", required=True)
    p.add_argument("--sql", default=str(pathlib.Path(__file__).with_name("rows.sql")))
    a = p.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    pathlib.Path(a.out, "online").mkdir(parents=True)
    pathlib.Path(a.out, "historical", "cpf").mkdir(parents=True)

    db = duckdb.connect()
    wall, cpu0 = time.perf_counter(), cpu()
    for sql in statements(a.sql, a.events, a.end, a.out):
        db.execute(sql)
    secs, cpu_secs = time.perf_counter() - wall, cpu() - cpu0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Each in-memory database may take 80% of the memory: at 100M events
    # the two together were killed by the kernel.
    db.close()

    check = duckdb.connect()
    rows, same, same_latest = 0, True, True
    for name, _, prefix in FEATURE_SETS:
        cols = ", ".join(
            ["cpf", '"timestamp"']
            + [f"{prefix}__count_over_{w}_days_rolling_windows" for w in (3, 7, 30)]
        )
        ours = f"SELECT {cols} FROM read_parquet('{a.out}/historical/cpf/{name}/**/*.parquet', hive_partitioning = false)"
        theirs = f"SELECT {cols} FROM read_parquet('{a.engine}/cpf/{name}/**/*.parquet', hive_partitioning = false)"
        n = check.execute(f"SELECT count(*) FROM ({ours})").fetchone()[0]
        rows += n
        differ = check.execute(
            f"SELECT (SELECT count(*) FROM ({ours} EXCEPT ALL {theirs})) + (SELECT count(*) FROM ({theirs} EXCEPT ALL {ours}))"
        ).fetchone()[0]
        same = same and differ == 0
        latest = f"SELECT {cols} FROM read_parquet('{a.out}/online/{name}.parquet')"
        engine_latest = f"SELECT {cols} FROM ({theirs}) QUALIFY row_number() OVER (PARTITION BY cpf ORDER BY \"timestamp\" DESC) = 1"
        differ = check.execute(
            f"SELECT (SELECT count(*) FROM ({latest} EXCEPT ALL {engine_latest})) + (SELECT count(*) FROM ({engine_latest} EXCEPT ALL {latest}))"
        ).fetchone()[0]
        same_latest = same_latest and differ == 0
    print(json.dumps({
        "duckdb": duckdb.__version__,
        "secs": secs,
        "cpu_secs": cpu_secs,
        "peak_mib": peak_mib,
        "rows": rows,
        "same_rows": same,
        "same_latest": same_latest,
    }))


if __name__ == "__main__":
    main()
