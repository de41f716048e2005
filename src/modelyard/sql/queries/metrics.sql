-- Queries of the metric store (modelyard/store/metrics.py).

-- name: create_staging
-- Once per connection: the session's staging table for the binary COPY of a batch, one row per
-- chunk (see _metric_copy.py). ON COMMIT DELETE ROWS empties it at the end of every transaction
-- that used it, so a batch never leaks into the next one.
CREATE TEMP TABLE IF NOT EXISTS metric_staging (
    key        text               NOT NULL,
    part       integer            NOT NULL,
    n          integer            NOT NULL,
    min_step   bigint             NOT NULL,
    max_step   bigint             NOT NULL,
    steps      bigint[]           NOT NULL,
    timestamps bigint[]           NOT NULL,
    vals       double precision[] NOT NULL
) ON COMMIT DELETE ROWS

-- name: staging_storage
-- Staged arrays are stored uncompressed: they are compressed once, when they land in
-- metric_chunk, instead of twice.
ALTER TABLE pg_temp.metric_staging
    ALTER COLUMN steps SET STORAGE EXTERNAL,
    ALTER COLUMN timestamps SET STORAGE EXTERNAL,
    ALTER COLUMN vals SET STORAGE EXTERNAL

-- name: copy_staging
COPY pg_temp.metric_staging (key, part, n, min_step, max_step, steps, timestamps, vals)
FROM STDIN (FORMAT BINARY)

-- name: ingest
SELECT ingest_metric_staging_v1(%(run_id)s, %(idempotency_key)s, %(append_limit)s)

-- name: run_exists
SELECT EXISTS (SELECT 1 FROM run WHERE run_id = %(run_id)s)

-- name: history_chunks
-- Chunks that may hold a step in [min_step, max_step]; the arrays are trimmed in Python. Ordered
-- by first step so that, for a series logged in step order, concatenating them gives the history.
SELECT steps, timestamps, vals
FROM metric_chunk
WHERE run_id = %(run_id)s AND key = %(key)s
  AND max_step >= %(min_step)s AND min_step <= %(max_step)s
ORDER BY min_step, seq

-- name: latest
SELECT key, last_value, last_step, last_timestamp
FROM metric_series
WHERE run_id = %(run_id)s
ORDER BY key

-- name: keys
SELECT key FROM metric_series WHERE run_id = %(run_id)s ORDER BY key
