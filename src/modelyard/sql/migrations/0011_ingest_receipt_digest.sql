-- A receipt remembers the sha256 of the request body it was made for, so that reusing an
-- idempotency key for a different batch is refused (409) instead of silently applying nothing.
-- NULL for receipts written before this migration (or by callers without a body): those accept
-- any retry, as before.
ALTER TABLE ingest_receipt ADD COLUMN body_digest bytea;
