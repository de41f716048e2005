-- Idempotency receipts of the creating writes (modelyard/store/idempotency.py).

-- name: claim
-- The first request with a key inserts its receipt (no answer yet) and goes on to the effect. A
-- concurrent request with the same key waits here on the key's index entry until the first one
-- ends: after its COMMIT this returns no row and the request replays; after its ROLLBACK the
-- insert goes through and this request does the work.
INSERT INTO idempotency_receipt (workspace_id, principal, operation, idempotency_key, request_digest)
VALUES (%(workspace_id)s, %(principal)s, %(operation)s, %(idempotency_key)s, %(digest)s)
ON CONFLICT ON CONSTRAINT idempotency_receipt_pk DO NOTHING
RETURNING true

-- name: recorded
SELECT request_digest, status_code, response_body
FROM idempotency_receipt
WHERE workspace_id = %(workspace_id)s AND principal = %(principal)s
  AND operation = %(operation)s AND idempotency_key = %(idempotency_key)s

-- name: record
-- The answer, in the transaction of the effect: a retry after this COMMIT replays it.
UPDATE idempotency_receipt SET status_code = %(status_code)s, response_body = %(body)s
WHERE workspace_id = %(workspace_id)s AND principal = %(principal)s
  AND operation = %(operation)s AND idempotency_key = %(idempotency_key)s
