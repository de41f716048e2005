-- The request scope, handed to PostgreSQL at the start of every transaction (store/_base.py).
-- Transaction-local (set_config's third argument): gone at COMMIT or ROLLBACK, so a pooled
-- connection carries nothing to its next user, and it works behind PgBouncer in transaction mode.
-- Row-level security, column defaults, the event triggers and the audit log read these settings.

-- name: snapshot
-- Before the scope, when a transaction's statements must see one snapshot (it must come first).
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY

-- name: enter
SELECT set_config('modelyard.workspace', %(workspace)s, true),
       set_config('modelyard.actor', %(actor)s, true),
       set_config('modelyard.request_id', %(request_id)s, true),
       set_config('modelyard.token_id', %(token_id)s, true),
       set_config('modelyard.client_addr', %(client_addr)s, true)
