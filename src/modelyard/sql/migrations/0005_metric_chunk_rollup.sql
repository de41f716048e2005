-- 0005: block summaries of metric chunks for chart downsampling (metric_chunk_rollup).

-- Block summaries of metric chunks, for charts: per block of 64 consecutive points of a chunk, the
-- step, timestamp and value extremes. A chart of a million points then aggregates ~16,000 block
-- rows instead of a million points (queries/charts.sql). Filled lazily by the chart query, one
-- row per chunk; point_count is the chunk's size when it was summarised, so a chunk that grew by
-- an append (the only way a chunk changes) is summarised again. Deleting the chunk deletes this.
CREATE TABLE metric_chunk_rollup (
    run_id      uuid               NOT NULL,
    key         text               NOT NULL,
    seq         integer            NOT NULL,
    point_count integer            NOT NULL,
    min_steps   bigint[]           NOT NULL,
    max_steps   bigint[]           NOT NULL,
    min_times   bigint[]           NOT NULL,
    max_times   bigint[]           NOT NULL,
    min_vals    double precision[] NOT NULL,
    max_vals    double precision[] NOT NULL,
    CONSTRAINT metric_chunk_rollup_pk PRIMARY KEY (run_id, key, seq),
    CONSTRAINT metric_chunk_rollup_chunk_fk FOREIGN KEY (run_id, key, seq)
        REFERENCES metric_chunk (run_id, key, seq) ON DELETE CASCADE,
    CONSTRAINT metric_chunk_rollup_shape_ck CHECK (
        point_count > 0
        AND cardinality(min_steps) = cardinality(max_vals)
        AND cardinality(max_steps) = cardinality(max_vals)
        AND cardinality(min_times) = cardinality(max_vals)
        AND cardinality(max_times) = cardinality(max_vals)
        AND cardinality(min_vals) = cardinality(max_vals)
    )
);

-- A row is ~3 KiB (six arrays of 64 numbers for a full chunk) and fits a page: kept inline and
-- uncompressed, since detoasting six arrays per chunk was most of a chart's database time.
ALTER TABLE metric_chunk_rollup
    ALTER COLUMN min_steps SET STORAGE PLAIN,
    ALTER COLUMN max_steps SET STORAGE PLAIN,
    ALTER COLUMN min_times SET STORAGE PLAIN,
    ALTER COLUMN max_times SET STORAGE PLAIN,
    ALTER COLUMN min_vals SET STORAGE PLAIN,
    ALTER COLUMN max_vals SET STORAGE PLAIN;
