-- Queries of the migration runner (modelyard/db/migrate.py).

-- name: lock
-- Transaction-scoped: released by the commit or rollback that ends the upgrade.
SELECT pg_advisory_xact_lock(hashtext(%s))

-- name: create_version_table
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer     NOT NULL,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schema_version_pk PRIMARY KEY (version)
)

-- name: applied
SELECT version, name, checksum FROM schema_version ORDER BY version

-- name: record
INSERT INTO schema_version (version, name, checksum) VALUES (%s, %s, %s)

-- name: count_tables
SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = %s

-- name: version_table_exists
SELECT EXISTS (
    SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = %s AND tablename = 'schema_version'
)
