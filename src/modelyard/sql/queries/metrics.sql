-- Queries of the metric store (modelyard/store/metrics.py).

-- name: ensure_staging
SELECT ensure_metric_staging_v2()

-- name: copy_staging
COPY pg_temp.metric_staging_v2 (
    key, part, n, min_step, max_step, steps, timestamps, vals,
    min_steps, max_steps, min_times, max_times, min_vals, max_vals
) FROM STDIN (FORMAT BINARY)

-- name: ingest
SELECT ingest_metric_staging_v2(%(run_id)s, %(idempotency_key)s, %(append_limit)s)

-- name: claim_receipt_digest
-- After ingest, in its transaction: the receipt takes the body's digest if it has none; returns
-- whether the receipt is for this body. A retry of another body under the same key is a 409.
UPDATE ingest_receipt SET body_digest = coalesce(body_digest, %(digest)s)
WHERE run_id = %(run_id)s AND idempotency_key = %(idempotency_key)s
RETURNING body_digest = %(digest)s

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
