-- Artifact storage: content-addressed blobs (chunks in PostgreSQL for the default store) and
-- the run paths that refer to them.

-- Artifacts (docs/design.md#artifact-storage). Bytes are stored once per content: artifact_blob
-- is one content (sha256, size) in one store; run_artifact maps a run's paths onto blobs, so the
-- same file logged by a thousand runs is stored once. A path becomes visible only when its
-- run_artifact row commits, which happens after its bytes are complete and hashed.
CREATE TABLE artifact_blob (
    blob_id    bigint      GENERATED ALWAYS AS IDENTITY,
    -- The store that holds the bytes ('postgresql', 'file:///dir', 's3://bucket/prefix').
    store_url  text        NOT NULL,
    -- NULL only while a postgresql-store upload is being written (inside its own transaction).
    sha256     bytea,
    size       bigint      NOT NULL DEFAULT 0,
    -- Where the bytes are inside the store: a file path or object key; NULL in postgresql.
    locator    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT artifact_blob_pk PRIMARY KEY (blob_id),
    CONSTRAINT artifact_blob_sha256_ck CHECK (sha256 IS NULL OR octet_length(sha256) = 32),
    CONSTRAINT artifact_blob_size_ck CHECK (size >= 0)
);

-- One blob per content and store: the dedup lookup, and the rule that makes dedup exact.
CREATE UNIQUE INDEX artifact_blob_content_uq ON artifact_blob (store_url, sha256);

-- The bytes of a postgresql-store blob, in chunks of 1 MiB (the last one shorter).
CREATE TABLE artifact_chunk (
    blob_id bigint  NOT NULL,
    seq     integer NOT NULL,
    data    bytea   NOT NULL,
    CONSTRAINT artifact_chunk_pk PRIMARY KEY (blob_id, seq),
    CONSTRAINT artifact_chunk_blob_fk FOREIGN KEY (blob_id)
        REFERENCES artifact_blob (blob_id) ON DELETE CASCADE,
    CONSTRAINT artifact_chunk_seq_ck CHECK (seq >= 0)
);
-- Model weights and archives are already compressed or incompressible: skip pglz, keep the CPU.
ALTER TABLE artifact_chunk ALTER COLUMN data SET STORAGE EXTERNAL;

-- A run's files. C collation: a directory's files are one primary-key range ('dir/' to 'dir0').
CREATE TABLE run_artifact (
    run_id     uuid        NOT NULL,
    path       text        COLLATE "C" NOT NULL,
    blob_id    bigint      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT run_artifact_pk PRIMARY KEY (run_id, path),
    CONSTRAINT run_artifact_run_fk FOREIGN KEY (run_id) REFERENCES run (run_id) ON DELETE CASCADE,
    -- Never a reference to a blob that gc removed: gc can only delete unreferenced blobs.
    CONSTRAINT run_artifact_blob_fk FOREIGN KEY (blob_id) REFERENCES artifact_blob (blob_id),
    -- The same rules as modelyard.artifacts.paths, as a last line of defence.
    CONSTRAINT run_artifact_path_ck CHECK (
        octet_length(path) BETWEEN 1 AND 1024
        AND path !~ '^/|/$|//|\\|[[:cntrl:]]|%[0-9A-Fa-f]{2}|(^|/)\.\.?(/|$)'
    )
);

-- gc finds unreferenced blobs with an anti-join on this.
CREATE INDEX run_artifact_blob_idx ON run_artifact (blob_id);
