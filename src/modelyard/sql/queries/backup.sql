-- Queries of backup and restore (modelyard/backup/). {placeholders} are filled with
-- psycopg.sql.Identifier values, never with text.

-- name: migration_lock
-- Session-level, taken before the snapshot: waits for a running `db upgrade` (which holds the
-- same key per transaction) and keeps migrations out until the backup is done.
SELECT pg_advisory_lock(hashtext(%s))

-- name: migration_unlock
SELECT pg_advisory_unlock(hashtext(%s))

-- name: migration_xact_lock
SELECT pg_advisory_xact_lock(hashtext(%s))

-- name: export_snapshot
SELECT pg_export_snapshot()

-- name: server_version
SELECT current_setting('server_version'), current_setting('server_version_num')::integer

-- name: schema_exists
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)

-- name: schema_object_count
-- Anything living in the schema: tables, sequences, views, functions, types.
SELECT (SELECT count(*) FROM pg_catalog.pg_class c
          JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s)
     + (SELECT count(*) FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s)
     + (SELECT count(*) FROM pg_catalog.pg_type t
          JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
          WHERE n.nspname = %(s)s AND t.typrelid = 0 AND t.typelem = 0)

-- name: schema_version
-- Takes the table name as an identifier: {table} is <schema>.schema_version.
SELECT coalesce(max(version), 0) FROM {table}

-- name: tables
-- Every table of the schema with its primary key columns in key order, and whether each is
-- collatable (text sorts by the database's collation, so checksums force "C"). Partitions are
-- left out: their parent reads their rows.
SELECT c.relname::text,
       coalesce(array_agg(a.attname::text ORDER BY k.ord) FILTER (WHERE a.attnum IS NOT NULL),
                '{}'),
       coalesce(array_agg(a.attcollation <> 0 ORDER BY k.ord) FILTER (WHERE a.attnum IS NOT NULL),
                '{}')
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary
LEFT JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND NOT c.relispartition
GROUP BY c.relname
ORDER BY c.relname COLLATE "C"

-- name: dumped_tables
-- How many tables pg_dump dumps the rows of: plain tables and each partition (the audit log's
-- months), not the partitioned parents, which hold no rows themselves. The progress bar's total.
SELECT count(*)
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'r'

-- name: stable_output
-- Fixes every setting that changes the text form of a value, so a checksum taken on one server
-- matches the same rows on another (other time zone, PostgreSQL 15 vs 18).
SELECT set_config('TimeZone', 'UTC', true),
       set_config('DateStyle', 'ISO, YMD', true),
       set_config('IntervalStyle', 'postgres', true),
       set_config('extra_float_digits', '1', true),
       set_config('bytea_output', 'hex', true)

-- name: count_rows
SELECT count(*) FROM {table}

-- name: copy_rows
COPY (SELECT * FROM {table} AS t ORDER BY {order}) TO STDOUT

-- name: ensure_extension
CREATE EXTENSION IF NOT EXISTS {extension} WITH SCHEMA public

-- name: drop_schema
DROP SCHEMA {schema} CASCADE

-- name: analyze
ANALYZE {table}

-- name: no_timeouts
-- A backup's transaction sits idle while pg_dump works, and a checksum of a big table is one
-- long COPY: server-wide limits meant for application sessions must not cut either short.
SELECT set_config('idle_in_transaction_session_timeout', '0', true),
       set_config('statement_timeout', '0', true)

-- name: artifact_bytes_lock
-- Shared, session-level, taken before the snapshot: gc and uploads remove blob files only under
-- the same key exclusively, so no blob of the snapshot vanishes while the backup copies it.
SELECT pg_advisory_lock_shared(%(namespace)s, %(key)s)

-- name: file_blobs
-- The file:// blobs the snapshot references; {blob} and {path} are <schema>.artifact_blob and
-- <schema>.run_artifact. Unreferenced ones are left to gc. Workspaces holding the same content
-- have a row each naming one file (dedup of rows is per workspace): the file is listed once.
SELECT DISTINCT ON (b.store_url, b.locator) b.store_url, b.sha256, b.size, b.locator
FROM {blob} b
WHERE left(b.store_url, 7) = 'file://' AND b.sha256 IS NOT NULL AND b.locator IS NOT NULL
  AND EXISTS (SELECT 1 FROM {path} a WHERE a.blob_id = b.blob_id)
ORDER BY b.store_url, b.locator, b.blob_id

-- name: move_file_store
-- A restore to another file:// store (modelyard restore --artifact-store): the blobs' rows
-- follow their files. {blob} is <schema>.artifact_blob.
UPDATE {blob} SET store_url = %(target)s WHERE store_url = %(recorded)s
