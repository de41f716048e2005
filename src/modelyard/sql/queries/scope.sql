-- The schema's search path and the request scope, handed to PostgreSQL at the start of every
-- transaction (store/_base.py). Transaction-local (set_config's third argument): gone at COMMIT
-- or ROLLBACK, so a pooled connection carries nothing to its next user, and it works behind
-- PgBouncer in transaction mode, where the next transaction may run on another server session
-- (which is why the search path is here and not in the connection's startup options).
-- Row-level security, column defaults, the event triggers and the audit log read these settings.

-- name: snapshot
-- Before the scope, when a transaction's statements must see one snapshot (it must come first).
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY

-- name: enter
SELECT set_config('search_path', %(search_path)s, true),
       set_config('modelyard.workspace', %(workspace)s, true),
       set_config('modelyard.actor', %(actor)s, true),
       set_config('modelyard.request_id', %(request_id)s, true),
       set_config('modelyard.token_id', %(token_id)s, true),
       set_config('modelyard.client_addr', %(client_addr)s, true)

-- name: search_path
-- The search path alone, for a transaction outside any request (the identity commands).
SELECT set_config('search_path', %(search_path)s, true)
