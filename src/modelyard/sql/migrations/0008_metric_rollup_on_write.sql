-- 0008: block summaries of metric chunks are written with the chunks, not by the first chart.
--
-- The store stages each batch with its block summaries (staging table version 2) and
-- ingest_metric_staging_v2 writes them with the chunks; ingest_metric_staging_v1 (same signature)
-- stays for servers of the previous release during an upgrade, summarising their batches in SQL.
-- The chunks written before are summarised here once, so a chart request only reads. On a large
-- database this step reads every metric chunk (about 1.4 s per million points here).

-- The block summaries of one chunk's arrays (a row of metric_chunk_rollup without its key): per
-- block of 64 consecutive points, in order, the first and last step (a chunk is sorted by step),
-- the least and greatest timestamp and value (NaN above every number, PostgreSQL's float order).
-- The store computes the same summaries while it encodes a batch (store/_metric_copy.py, a test
-- holds the two equal), so an ingest does not aggregate every point here; this function
-- summarises the chunks an append grows, batches staged by servers of the previous release, and
-- (migration 0008) the chunks written before summaries were made on write.
CREATE FUNCTION metric_block_summary_v1(
    p_steps      bigint[],
    p_timestamps bigint[],
    p_vals       double precision[]
) RETURNS TABLE (
    min_steps bigint[], max_steps bigint[], min_times bigint[], max_times bigint[],
    min_vals double precision[], max_vals double precision[]
)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(g.min_step ORDER BY g.block), array_agg(g.max_step ORDER BY g.block),
           array_agg(g.min_time ORDER BY g.block), array_agg(g.max_time ORDER BY g.block),
           array_agg(g.min_val ORDER BY g.block), array_agg(g.max_val ORDER BY g.block)
    FROM (
        SELECT (p.ord - 1) / 64 AS block,
               min(p.step) AS min_step, max(p.step) AS max_step,
               min(p.ts) AS min_time, max(p.ts) AS max_time,
               min(p.val) AS min_val, max(p.val) AS max_val
        FROM unnest(p_steps, p_timestamps, p_vals) WITH ORDINALITY AS p (step, ts, val, ord)
        GROUP BY 1
    ) g
$$;

-- Version 2 of the staging table adds each chunk's block summaries (a metric_chunk_rollup row
-- without its key), computed by the store as it encodes the batch. A new name rather than new
-- columns: behind a pooler, a session may still hold the first version's table.
CREATE FUNCTION ensure_metric_staging_v2() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.metric_staging_v2') IS NULL THEN
        CREATE TEMP TABLE metric_staging_v2 (
            key        text               NOT NULL,
            part       integer            NOT NULL,
            n          integer            NOT NULL,
            min_step   bigint             NOT NULL,
            max_step   bigint             NOT NULL,
            steps      bigint[]           NOT NULL,
            timestamps bigint[]           NOT NULL,
            vals       double precision[] NOT NULL,
            min_steps  bigint[]           NOT NULL,
            max_steps  bigint[]           NOT NULL,
            min_times  bigint[]           NOT NULL,
            max_times  bigint[]           NOT NULL,
            min_vals   double precision[] NOT NULL,
            max_vals   double precision[] NOT NULL
        ) ON COMMIT DELETE ROWS;
        ALTER TABLE pg_temp.metric_staging_v2
            ALTER COLUMN steps SET STORAGE EXTERNAL,
            ALTER COLUMN timestamps SET STORAGE EXTERNAL,
            ALTER COLUMN vals SET STORAGE EXTERNAL;
    END IF;
END;
$$;

-- Applies one staged metric batch to a run, in the caller's transaction. The store COPYs the batch
-- into its session's pg_temp.metric_staging_v2 (queries/metrics.sql) as ready-made chunks: one
-- row per (key, part) holding at most chunk_points points sorted by (step, timestamp, value) and
-- their block summaries, parts numbered from 0. A batch of any size thus costs one COPY and this
-- one call.
--
--  1. The run must exist (NotFound) and be active (InvalidState); the errors carry a constraint
--     name that modelyard/db/errors.py maps to the typed exception.
--  2. With an idempotency key the receipt is inserted first: if it exists, nothing is applied and
--     the count recorded the first time is returned. A concurrent retry waits on the receipt's
--     unique index until the first attempt commits (then returns its count) or rolls back.
--  3. One upsert of metric_series, in key order, takes every series row lock the batch needs, so
--     concurrent writers to one run queue per key and cannot deadlock. Under that lock it moves
--     the latest point (greatest step, then timestamp, then value, NaN above every number as in
--     PostgreSQL's float order, so the result does not depend on arrival order), adds the counts
--     and reserves chunk seq numbers: chunk_count is the highest seq, so seqs are race-free.
--  4. A key whose new points fit in its newest chunk (tail_points + n <= p_append_limit) has
--     them merged into that chunk; per-step logging thus fills chunks of up to p_append_limit
--     points instead of leaving one-point rows. Otherwise each staged part becomes a new chunk.
--  5. Every chunk written or grown gets its block summaries (metric_chunk_rollup) in the same
--     transaction: new chunks from the summaries staged with them, grown ones (a few hundred
--     points at most) from their merged arrays. Charts then read summaries and never write.
CREATE FUNCTION ingest_metric_staging_v2(
    p_run_id          uuid,
    p_idempotency_key text,
    p_append_limit    integer
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_experiment_id bigint;
    v_lifecycle     text;
    v_count         integer;
    v_recorded      integer;
    v_keys          text[];
    v_first_seq     integer[];
    v_appended      boolean[];
BEGIN
    -- FOR SHARE, as every other writer of run data: writers run side by side, but a concurrent
    -- delete (which locks the row FOR NO KEY UPDATE) waits for us or makes us see it deleted.
    SELECT r.experiment_id, r.lifecycle_stage INTO v_experiment_id, v_lifecycle
    FROM run r WHERE r.run_id = p_run_id
    FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'metric_series_run_fk';
    END IF;
    IF v_lifecycle <> 'active' THEN
        RAISE EXCEPTION 'run % is deleted', p_run_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'metric_run_active';
    END IF;

    SELECT coalesce(sum(m.n), 0) INTO v_count FROM pg_temp.metric_staging_v2 m;

    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO ingest_receipt (run_id, idempotency_key, point_count)
        VALUES (p_run_id, p_idempotency_key, v_count)
        ON CONFLICT (run_id, idempotency_key) DO NOTHING;
        IF NOT FOUND THEN
            SELECT ir.point_count INTO v_recorded FROM ingest_receipt ir
            WHERE ir.run_id = p_run_id AND ir.idempotency_key = p_idempotency_key;
            RETURN v_recorded;
        END IF;
    END IF;
    IF v_count = 0 THEN
        RETURN 0;
    END IF;

    WITH batch AS (
        SELECT m.key, sum(m.n)::integer AS n, count(*)::integer AS parts
        FROM pg_temp.metric_staging_v2 m GROUP BY m.key
    ), newest AS (
        -- The last point of a key's last part is its latest point in this batch.
        SELECT b.key, b.n, b.parts, m.n AS tail_n, m.steps[m.n] AS step,
               m.timestamps[m.n] AS ts, m.vals[m.n] AS val
        FROM batch b JOIN pg_temp.metric_staging_v2 m ON m.key = b.key AND m.part = b.parts - 1
    ), upserted AS (
        INSERT INTO metric_series AS s (
            run_id, key, experiment_id, last_value, last_step, last_timestamp,
            point_count, chunk_count, tail_points
        )
        SELECT p_run_id, l.key, v_experiment_id, l.val, l.step, l.ts, l.n, l.parts, l.tail_n
        FROM newest l
        ORDER BY l.key
        ON CONFLICT (run_id, key) DO UPDATE SET
            last_value = CASE
                WHEN (EXCLUDED.last_step, EXCLUDED.last_timestamp, EXCLUDED.last_value)
                     > (s.last_step, s.last_timestamp, s.last_value)
                THEN EXCLUDED.last_value ELSE s.last_value END,
            last_step = CASE
                WHEN (EXCLUDED.last_step, EXCLUDED.last_timestamp, EXCLUDED.last_value)
                     > (s.last_step, s.last_timestamp, s.last_value)
                THEN EXCLUDED.last_step ELSE s.last_step END,
            last_timestamp = CASE
                WHEN (EXCLUDED.last_step, EXCLUDED.last_timestamp, EXCLUDED.last_value)
                     > (s.last_step, s.last_timestamp, s.last_value)
                THEN EXCLUDED.last_timestamp ELSE s.last_timestamp END,
            point_count = s.point_count + EXCLUDED.point_count,
            chunk_count = s.chunk_count + CASE
                WHEN s.tail_points > 0 AND s.tail_points + EXCLUDED.point_count <= p_append_limit
                THEN 0 ELSE EXCLUDED.chunk_count END,
            tail_points = CASE
                WHEN s.tail_points > 0 AND s.tail_points + EXCLUDED.point_count <= p_append_limit
                THEN s.tail_points + EXCLUDED.point_count ELSE EXCLUDED.tail_points END
        RETURNING s.key, s.chunk_count, s.tail_points
    )
    -- New parts leave tail_points = the last part's size <= n; an append leaves it above n.
    SELECT array_agg(u.key),
           array_agg(CASE WHEN u.tail_points > b.n THEN u.chunk_count
                          ELSE u.chunk_count - b.parts + 1 END),
           array_agg(u.tail_points > b.n)
    INTO v_keys, v_first_seq, v_appended
    FROM upserted u JOIN batch b ON b.key = u.key;

    UPDATE metric_chunk c SET (min_step, max_step, steps, timestamps, vals) = (
        SELECT min(t.step), max(t.step),
               array_agg(t.step ORDER BY t.step, t.ts, t.val),
               array_agg(t.ts ORDER BY t.step, t.ts, t.val),
               array_agg(t.val ORDER BY t.step, t.ts, t.val)
        FROM unnest(c.steps || m.steps, c.timestamps || m.timestamps, c.vals || m.vals)
             AS t(step, ts, val)
    )
    FROM unnest(v_keys, v_first_seq, v_appended) AS p(key, seq, appended)
    JOIN pg_temp.metric_staging_v2 m ON m.key = p.key
    WHERE p.appended AND c.run_id = p_run_id AND c.key = p.key AND c.seq = p.seq;

    INSERT INTO metric_chunk (run_id, key, seq, min_step, max_step, steps, timestamps, vals)
    SELECT p_run_id, m.key, p.seq + m.part, m.min_step, m.max_step, m.steps, m.timestamps, m.vals
    FROM unnest(v_keys, v_first_seq, v_appended) AS p(key, seq, appended)
    JOIN pg_temp.metric_staging_v2 m ON m.key = p.key
    WHERE NOT p.appended;

    INSERT INTO metric_chunk_rollup AS r (
        run_id, key, seq, point_count,
        min_steps, max_steps, min_times, max_times, min_vals, max_vals
    )
    SELECT p_run_id, m.key, p.seq + m.part, m.n,
           m.min_steps, m.max_steps, m.min_times, m.max_times, m.min_vals, m.max_vals
    FROM unnest(v_keys, v_first_seq, v_appended) AS p(key, seq, appended)
    JOIN pg_temp.metric_staging_v2 m ON m.key = p.key
    WHERE NOT p.appended
    UNION ALL
    SELECT c.run_id, c.key, c.seq, cardinality(c.vals), b.*
    FROM unnest(v_keys, v_first_seq, v_appended) AS p(key, seq, appended)
    JOIN metric_chunk c ON c.run_id = p_run_id AND c.key = p.key AND c.seq = p.seq
    CROSS JOIN LATERAL metric_block_summary_v1(c.steps, c.timestamps, c.vals) b
    WHERE p.appended
    ON CONFLICT ON CONSTRAINT metric_chunk_rollup_pk DO UPDATE SET
        point_count = EXCLUDED.point_count,
        min_steps = EXCLUDED.min_steps,
        max_steps = EXCLUDED.max_steps,
        min_times = EXCLUDED.min_times,
        max_times = EXCLUDED.max_times,
        min_vals = EXCLUDED.min_vals,
        max_vals = EXCLUDED.max_vals;

    RETURN v_count;
END;
$$;

-- The first version, for servers of the previous release during an upgrade: their batch, staged
-- without summaries in pg_temp.metric_staging, is summarised here and applied by version 2.
CREATE OR REPLACE FUNCTION ingest_metric_staging_v1(
    p_run_id          uuid,
    p_idempotency_key text,
    p_append_limit    integer
) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ensure_metric_staging_v2();
    INSERT INTO pg_temp.metric_staging_v2
    SELECT m.key, m.part, m.n, m.min_step, m.max_step, m.steps, m.timestamps, m.vals, b.*
    FROM pg_temp.metric_staging m
    CROSS JOIN LATERAL metric_block_summary_v1(m.steps, m.timestamps, m.vals) b;
    RETURN ingest_metric_staging_v2(p_run_id, p_idempotency_key, p_append_limit);
END;
$$;

INSERT INTO metric_chunk_rollup AS r (
    run_id, key, seq, point_count,
    min_steps, max_steps, min_times, max_times, min_vals, max_vals
)
SELECT c.run_id, c.key, c.seq, cardinality(c.vals), b.*
FROM metric_chunk c
LEFT JOIN metric_chunk_rollup old
       ON old.run_id = c.run_id AND old.key = c.key AND old.seq = c.seq
CROSS JOIN LATERAL metric_block_summary_v1(c.steps, c.timestamps, c.vals) b
WHERE old.seq IS NULL OR old.point_count <> cardinality(c.vals)
ON CONFLICT ON CONSTRAINT metric_chunk_rollup_pk DO UPDATE SET
    point_count = EXCLUDED.point_count,
    min_steps = EXCLUDED.min_steps,
    max_steps = EXCLUDED.max_steps,
    min_times = EXCLUDED.min_times,
    max_times = EXCLUDED.max_times,
    min_vals = EXCLUDED.min_vals,
    max_vals = EXCLUDED.max_vals;
