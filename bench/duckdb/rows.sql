-- Both feature sets of the example, `user_orders` and `user_chargebacks`,
-- written as a DuckDB user would: their rows (Butterfree's) into Parquet day
-- partitions, and each key's latest row beside them.
--
-- A key's window of W days on day g counts its events of days g−W ..= g−1:
-- an event of day d enters the window on day d+1 and leaves it on day
-- d+W+1. Those changes are summed per key and day, and a running sum per key
-- gives each window's count on every day one can change. A key's first row
-- is on the first day of all the feature set's events (every window empty);
-- after it, a row is kept where a count differs from the key's previous row.
--
-- `bench/duckdb/run.py` fills in {events}, {end} and {out}, and the
-- {ts} / {prefix} / {name} of each feature set.

-- @once
CREATE TEMP TABLE events AS
SELECT *
FROM read_csv('{events}', header = true, auto_detect = false,
    columns = {'order_id': 'VARCHAR', 'order_timestamp': 'TIMESTAMP',
               'cpf': 'VARCHAR', 'chargeback_timestamp': 'TIMESTAMP'});

-- @per feature set
CREATE TEMP TABLE "{name}" AS
WITH ev AS (
    SELECT cpf, CAST({ts} AS DATE) AS d, count(order_id) AS n
    FROM events
    WHERE {ts} IS NOT NULL
    GROUP BY ALL
),
first AS (SELECT least(min(d), DATE '{end}') AS first_day FROM ev),
changes AS (
    SELECT cpf, d + 1 AS dt, n AS c3, n AS c7, n AS c30 FROM ev
    UNION ALL SELECT cpf, d + 4, -n, 0, 0 FROM ev
    UNION ALL SELECT cpf, d + 8, 0, -n, 0 FROM ev
    UNION ALL SELECT cpf, d + 31, 0, 0, -n FROM ev
    UNION ALL SELECT DISTINCT cpf, (SELECT first_day FROM first), 0, 0, 0 FROM ev
),
per_day AS (
    SELECT cpf, dt, sum(c3) AS c3, sum(c7) AS c7, sum(c30) AS c30
    FROM changes
    WHERE dt <= DATE '{end}'
    GROUP BY ALL
),
running AS (
    SELECT cpf, dt,
        sum(c3) OVER w AS n3, sum(c7) OVER w AS n7, sum(c30) OVER w AS n30
    FROM per_day
    WINDOW w AS (PARTITION BY cpf ORDER BY dt ROWS UNBOUNDED PRECEDING)
)
SELECT cpf, CAST(dt AS TIMESTAMP) AS "timestamp",
    CAST(n3 AS INTEGER) AS {prefix}__count_over_3_days_rolling_windows,
    CAST(n7 AS INTEGER) AS {prefix}__count_over_7_days_rolling_windows,
    CAST(n30 AS INTEGER) AS {prefix}__count_over_30_days_rolling_windows,
    year(dt) AS year, month(dt) AS month, day(dt) AS day
FROM running
WINDOW k AS (PARTITION BY cpf ORDER BY dt)
QUALIFY row_number() OVER k = 1
    OR n3 IS DISTINCT FROM lag(n3) OVER k
    OR n7 IS DISTINCT FROM lag(n7) OVER k
    OR n30 IS DISTINCT FROM lag(n30) OVER k;

COPY "{name}" TO '{out}/historical/cpf/{name}'
    (FORMAT parquet, PARTITION_BY (year, month, day), COMPRESSION snappy);

COPY (
    SELECT * EXCLUDE (year, month, day)
    FROM "{name}"
    QUALIFY row_number() OVER (PARTITION BY cpf ORDER BY "timestamp" DESC) = 1
) TO '{out}/online/{name}.parquet' (FORMAT parquet);
