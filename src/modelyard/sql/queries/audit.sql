-- The audit log (schema.sql, "The audit log"): refusals written by the server's guard, and what
-- `modelyard audit verify|list|prune` read and drop. Changes are written by triggers, not here.

-- name: ensure_partitions
-- This month's partition and the next one's (the server calls it at start).
SELECT audit_partitions_ensure_v1(now())

-- name: record_denial
SELECT audit_append_v1(%(workspace_id)s, 'denied', 'request',
                       jsonb_build_object('method', %(method)s::text, 'path', %(path)s::text),
                       NULL,
                       jsonb_build_object('status', %(status)s::integer, 'code', %(code)s::text,
                                          'reason', %(reason)s::text))

-- name: chains
SELECT workspace_id, last_seq, last_hash, pruned_seq, pruned_hash
FROM audit_chain
ORDER BY workspace_id

-- name: verify_page
-- One page of a chain in order, with whether each row's stored hash is its content's hash.
SELECT a.seq, a.prev_hash, a.row_hash, audit_row_hash_v1(a) = a.row_hash AS intact
FROM audit_event a
WHERE a.workspace_id = %(workspace_id)s AND a.seq > %(after)s
ORDER BY a.seq
LIMIT %(limit)s

-- name: list
-- Newest first; every filter is optional (NULL: any).
SELECT a.workspace_id, w.name AS workspace, a.seq, a.occurred_at, a.actor, a.token_id,
       a.client_addr, a.request_id, a.action, a.entity, a.object_key, a.before, a.after
FROM audit_event a
LEFT JOIN workspace w ON w.workspace_id = a.workspace_id
WHERE (%(workspace)s::text IS NULL OR w.name = %(workspace)s::text
       OR (%(workspace)s::text = '' AND a.workspace_id = 0))
  AND (%(actor)s::text IS NULL OR a.actor = %(actor)s::text)
  AND (%(entity)s::text IS NULL OR a.entity = %(entity)s::text)
  AND (%(action)s::text IS NULL OR a.action = %(action)s::text)
  AND (%(since)s::timestamptz IS NULL OR a.occurred_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR a.occurred_at < %(until)s::timestamptz)
ORDER BY a.occurred_at DESC, a.workspace_id, a.seq DESC
LIMIT %(limit)s

-- name: partitions
SELECT c.relname::text AS name
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_event'::regclass
ORDER BY 1

-- name: lock_chains
-- Prune takes the heads before the table, in the order writers do, so neither waits on the other
-- in a circle.
SELECT workspace_id FROM audit_chain ORDER BY workspace_id FOR UPDATE

-- name: lock_events
LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE

-- name: anchor_chains
-- Where each chain restarts once the rows before %(before)s are gone: its last dropped row.
UPDATE audit_chain c
SET pruned_seq = d.seq, pruned_hash = d.row_hash
FROM (SELECT DISTINCT ON (a.workspace_id) a.workspace_id, a.seq, a.row_hash
      FROM audit_event a
      WHERE a.occurred_at < %(before)s
      ORDER BY a.workspace_id, a.seq DESC) d
WHERE c.workspace_id = d.workspace_id

-- name: drop_partition
DROP TABLE {partition}
