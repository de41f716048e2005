-- Queries of webhooks and their deliveries (modelyard/store/webhooks.py, webhook_deliveries.py,
-- modelyard/webhooks/dispatcher.py). Webhooks are addressed by (workspace_id, webhook_id).
-- Queries returning webhooks list the same columns (store/webhooks.py, webhook_from_row):
--   webhook_id, name, url, events, description, status, creation_timestamp and
--   last_updated_timestamp (ms), has_secret, previous_secret_expires (ms, NULL but during a
--   rotation's overlap), decoded by these names.

-- name: create_webhook
INSERT INTO webhook (workspace_id, name, url, events, description, status, secret)
VALUES (%(ws)s, %(name)s, %(url)s, %(events)s, %(description)s, %(status)s, %(secret)s)
RETURNING webhook_id

-- name: get_webhook
SELECT w.webhook_id, w.name, w.url, w.events, w.description, w.status,
       floor(extract(epoch FROM w.created_at) * 1000)::bigint AS creation_timestamp,
       floor(extract(epoch FROM w.updated_at) * 1000)::bigint AS last_updated_timestamp,
       w.secret IS NOT NULL AS has_secret,
       CASE WHEN w.previous_secret_until > now()
            THEN floor(extract(epoch FROM w.previous_secret_until) * 1000)::bigint
       END AS previous_secret_expires
FROM webhook w
WHERE w.workspace_id = %(ws)s AND w.webhook_id = %(webhook_id)s

-- name: list_webhooks
-- Creation order, keyset on (created_at, webhook_id); the cursor carries microseconds.
SELECT w.webhook_id, w.name, w.url, w.events, w.description, w.status,
       floor(extract(epoch FROM w.created_at) * 1000)::bigint AS creation_timestamp,
       floor(extract(epoch FROM w.updated_at) * 1000)::bigint AS last_updated_timestamp,
       w.secret IS NOT NULL AS has_secret,
       CASE WHEN w.previous_secret_until > now()
            THEN floor(extract(epoch FROM w.previous_secret_until) * 1000)::bigint
       END AS previous_secret_expires,
       (extract(epoch FROM w.created_at) * 1000000)::bigint AS created_us
FROM webhook w
WHERE w.workspace_id = %(ws)s
  AND (%(after_us)s::bigint IS NULL
       OR (w.created_at, w.webhook_id)
          > (to_timestamp(%(after_us)s::double precision / 1000000), %(after_id)s::uuid))
ORDER BY w.created_at, w.webhook_id
LIMIT %(limit)s

-- name: update_webhook
UPDATE webhook SET
    name = coalesce(%(name)s, name),
    url = coalesce(%(url)s, url),
    events = coalesce(%(events)s, events),
    description = CASE WHEN %(set_description)s THEN %(description)s ELSE description END,
    status = coalesce(%(status)s, status),
    updated_at = now()
WHERE workspace_id = %(ws)s AND webhook_id = %(webhook_id)s
RETURNING webhook_id

-- name: rotate_secret
-- With an overlap, the current secret keeps signing (as the second entry) until the overlap ends.
UPDATE webhook SET
    previous_secret = CASE WHEN %(overlap)s > 0 THEN secret END,
    previous_secret_until = CASE WHEN %(overlap)s > 0 AND secret IS NOT NULL
                                 THEN now() + make_interval(secs => %(overlap)s) END,
    secret = %(secret)s,
    updated_at = now()
WHERE workspace_id = %(ws)s AND webhook_id = %(webhook_id)s
RETURNING webhook_id

-- name: delete_webhook
DELETE FROM webhook WHERE workspace_id = %(ws)s AND webhook_id = %(webhook_id)s
RETURNING webhook_id

-- name: webhook_secrets
-- The secrets that sign right now, newest first.
SELECT w.secret, CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END
FROM webhook w
WHERE w.workspace_id = %(ws)s AND w.webhook_id = %(webhook_id)s

-- name: workspace_name
SELECT name FROM workspace WHERE workspace_id = %(ws)s

-- name: list_deliveries
-- Newest event first; the cursor is the last event_seq returned.
SELECT d.delivery_id::text AS delivery_id, replace(d.webhook_id::text, '-', '') AS webhook_id,
       d.event_seq, d.entity || '.' || d.action AS event, d.state, d.attempts,
       floor(extract(epoch FROM d.created_at) * 1000)::bigint AS creation_timestamp,
       CASE WHEN d.state = 'pending'
            THEN floor(extract(epoch FROM d.next_attempt_at) * 1000)::bigint
       END AS next_attempt_timestamp,
       floor(extract(epoch FROM d.finished_at) * 1000)::bigint AS finished_timestamp,
       d.last_response_code, d.last_error
FROM webhook_delivery d
JOIN webhook w ON w.webhook_id = d.webhook_id
WHERE w.workspace_id = %(ws)s
  AND (%(webhook_id)s::uuid IS NULL OR d.webhook_id = %(webhook_id)s::uuid)
  AND (%(state)s::text IS NULL OR d.state = %(state)s::text)
  AND d.event_seq < %(before)s
ORDER BY d.event_seq DESC
LIMIT %(limit)s

-- name: get_delivery
SELECT d.delivery_id::text AS delivery_id, replace(d.webhook_id::text, '-', '') AS webhook_id,
       d.event_seq, d.entity || '.' || d.action AS event, d.state, d.attempts,
       floor(extract(epoch FROM d.created_at) * 1000)::bigint AS creation_timestamp,
       CASE WHEN d.state = 'pending'
            THEN floor(extract(epoch FROM d.next_attempt_at) * 1000)::bigint
       END AS next_attempt_timestamp,
       floor(extract(epoch FROM d.finished_at) * 1000)::bigint AS finished_timestamp,
       d.last_response_code, d.last_error
FROM webhook_delivery d
JOIN webhook w ON w.webhook_id = d.webhook_id
WHERE w.workspace_id = %(ws)s AND d.delivery_id = %(delivery_id)s

-- name: list_attempts
-- The receiver's body is not selected: the API never shows it (see webhook_attempt).
SELECT a.attempt, floor(extract(epoch FROM a.started_at) * 1000)::bigint AS started_timestamp,
       a.latency_ms, a.response_code, a.error, a.succeeded
FROM webhook_attempt a
WHERE a.delivery_id = %(delivery_id)s
ORDER BY a.attempt

-- name: redeliver
-- A dead delivery goes back to the queue under the same delivery id, with a fresh horizon.
UPDATE webhook_delivery d SET
    state = 'pending', finished_at = NULL, next_attempt_at = now(), retry_from = now(),
    lease_until = NULL
FROM webhook w
WHERE w.webhook_id = d.webhook_id AND w.workspace_id = %(ws)s
  AND d.delivery_id = %(delivery_id)s AND d.state = 'dead'
RETURNING d.delivery_id

-- name: notify
SELECT pg_notify('modelyard_webhooks', '')

-- name: claim
-- The head of each active webhook's queue (its lowest pending event_seq), when due and not
-- leased, locked with SKIP LOCKED so concurrent dispatchers take different rows; the UPDATE
-- re-checks the lease on the row it locked, so a row another dispatcher leased meanwhile is
-- left alone. Taking only heads keeps each webhook's events in order, one in flight at a time.
-- The heads are found without reading the queues (docs/design.md, "The dispatcher's claim"):
-- the cost grows with the number of webhooks that have pending deliveries, not the backlog.
-- One statement, run in autocommit (one round trip). The dispatcher's own bookkeeping (leases,
-- outcomes, the attempt log) commits without waiting for the WAL flush (`relaxed`): a crash of
-- PostgreSQL can lose its last few hundred milliseconds, which means another attempt under the
-- same delivery id, never a lost event (events are written, durably, by the changes' own
-- transactions).
WITH RECURSIVE heads AS (
    -- A skip scan of webhook_delivery_pending_idx: the first pending row of the lowest webhook,
    -- then of the next webhook above it, and so on: one index descent per webhook with pending
    -- deliveries, however long its queue.
    (SELECT d.webhook_id, d.delivery_id, d.next_attempt_at, d.lease_until
     FROM webhook_delivery d
     WHERE d.state = 'pending'
     ORDER BY d.webhook_id, d.event_seq
     LIMIT 1)
    UNION ALL
    SELECT n.webhook_id, n.delivery_id, n.next_attempt_at, n.lease_until
    FROM heads h
    CROSS JOIN LATERAL (
        SELECT d.webhook_id, d.delivery_id, d.next_attempt_at, d.lease_until
        FROM webhook_delivery d
        WHERE d.state = 'pending' AND d.webhook_id > h.webhook_id
        ORDER BY d.webhook_id, d.event_seq
        LIMIT 1
    ) n
), relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true)
), due AS (
    SELECT d.delivery_id
    FROM heads h
    JOIN webhook w ON w.webhook_id = h.webhook_id AND w.status = 'ACTIVE'
    JOIN webhook_delivery d ON d.delivery_id = h.delivery_id
    WHERE h.next_attempt_at <= now() AND (h.lease_until IS NULL OR h.lease_until <= now())
    ORDER BY h.next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_delivery d SET
    attempts = d.attempts + 1,
    lease_until = now() + make_interval(secs => %(lease)s)
FROM due, event e, webhook w, workspace ws, relaxed
WHERE d.delivery_id = due.delivery_id
  AND d.state = 'pending' AND d.next_attempt_at <= now()
  AND (d.lease_until IS NULL OR d.lease_until <= now())
  AND e.event_seq = d.event_seq AND w.webhook_id = d.webhook_id
  AND ws.workspace_id = w.workspace_id
RETURNING d.delivery_id, d.webhook_id, d.event_seq, d.entity, d.action, d.attempts, e.payload,
          e.occurred_at, w.url, w.secret,
          CASE WHEN w.previous_secret_until > now() THEN w.previous_secret END
              AS previous_secret,
          w.workspace_id, ws.name AS workspace_name

-- name: next_due
-- Seconds until the earliest queue head of an active webhook is due (or its lease ends); NULL
-- when nothing is pending. The heads as in claim.
WITH RECURSIVE heads AS (
    -- A skip scan of webhook_delivery_pending_idx: the first pending row of the lowest webhook,
    -- then of the next webhook above it, and so on: one index descent per webhook with pending
    -- deliveries, however long its queue.
    (SELECT d.webhook_id, d.delivery_id, d.next_attempt_at, d.lease_until
     FROM webhook_delivery d
     WHERE d.state = 'pending'
     ORDER BY d.webhook_id, d.event_seq
     LIMIT 1)
    UNION ALL
    SELECT n.webhook_id, n.delivery_id, n.next_attempt_at, n.lease_until
    FROM heads h
    CROSS JOIN LATERAL (
        SELECT d.webhook_id, d.delivery_id, d.next_attempt_at, d.lease_until
        FROM webhook_delivery d
        WHERE d.state = 'pending' AND d.webhook_id > h.webhook_id
        ORDER BY d.webhook_id, d.event_seq
        LIMIT 1
    ) n
)
SELECT extract(epoch FROM min(greatest(h.next_attempt_at,
                                       coalesce(h.lease_until, h.next_attempt_at)))
                          - now())::double precision
FROM heads h
JOIN webhook w ON w.webhook_id = h.webhook_id AND w.status = 'ACTIVE'

-- name: listen
LISTEN modelyard_webhooks

-- name: workspaces
-- Every workspace, for the dispatcher to visit one by one: the workspace table is readable in
-- any scope (it has no row-level security), the queues only in their own workspace's.
SELECT workspace_id, name FROM workspace ORDER BY workspace_id

-- name: record
-- One attempt's outcome and its log row, in one statement (autocommit, relaxed as in claim).
-- Fenced by the attempt number: a dispatcher whose lease was taken over changes nothing (its
-- log row is still kept). A failure is retried after `delay` seconds unless that is past the
-- retry horizon: dead letter.
WITH relaxed AS (
    SELECT set_config('synchronous_commit', 'off', true)
), outcome AS (
    SELECT CASE WHEN %(ok)s THEN 'delivered'
                WHEN now() + make_interval(secs => %(delay)s)
                     > d.retry_from + make_interval(secs => %(horizon)s) THEN 'dead'
                ELSE 'pending' END AS state
    FROM webhook_delivery d, relaxed WHERE d.delivery_id = %(delivery_id)s
), logged AS (
    -- The delivery's workspace, not the dispatcher's scope: one dispatcher serves them all.
    INSERT INTO webhook_attempt (delivery_id, attempt, started_at, latency_ms, response_code,
                                 response_body, error, succeeded, workspace_id)
    SELECT %(delivery_id)s, %(attempt)s, %(started_at)s, %(latency_ms)s, %(code)s, %(body)s,
           %(error)s, %(ok)s, d.workspace_id
    FROM webhook_delivery d WHERE d.delivery_id = %(delivery_id)s
    ON CONFLICT (delivery_id, attempt, workspace_id) DO NOTHING
)
UPDATE webhook_delivery d SET
    state = o.state,
    finished_at = CASE WHEN o.state = 'pending' THEN NULL ELSE now() END,
    next_attempt_at = CASE WHEN o.state = 'pending'
                           THEN now() + make_interval(secs => %(delay)s)
                           ELSE d.next_attempt_at END,
    lease_until = NULL,
    last_response_code = %(code)s,
    last_error = %(error)s
FROM outcome o
WHERE d.delivery_id = %(delivery_id)s AND d.attempts = %(attempt)s AND d.state = 'pending'
RETURNING o.state
