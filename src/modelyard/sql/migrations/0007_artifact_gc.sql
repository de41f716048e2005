-- Garbage collection of artifact blobs, race-free against uploads that dedup against them
-- (docs/design.md#garbage-collection-of-artifacts): gc first condemns an unreferenced blob (the
-- mark), then removes its bytes and its row (the sweep). An upload never reuses a condemned
-- blob; it replaces it with its own bytes.

ALTER TABLE artifact_blob ADD COLUMN condemned_at timestamptz;

-- The sweep reads the condemned blobs of a store; few at any time, so a small partial index.
CREATE INDEX artifact_blob_condemned_idx ON artifact_blob (store_url, blob_id)
    WHERE condemned_at IS NOT NULL;
