-- The audit log writes a chain's head once per transaction, not once per audited row: a bulk
-- write of N audited rows cost N² at commit (schema.sql, audit_append_v1, says why and how).

-- The audit heads the transaction carries (audit_append_v1), in its local setting
-- modelyard.audit_heads: {"xact": its id, "<workspace>": [seq, "<hash hex>"]}. A value of
-- another transaction, such as one SET for a whole session on a pooled connection, counts for
-- nothing: a head not read under this transaction's lock is never trusted.
CREATE FUNCTION audit_carried_heads_v1() RETURNS jsonb
LANGUAGE sql VOLATILE AS $$
    SELECT CASE WHEN h ->> 'xact' = pg_current_xact_id()::text
                THEN h ELSE jsonb_build_object('xact', pg_current_xact_id()::text) END
    FROM (SELECT nullif(current_setting('modelyard.audit_heads', true), '')::jsonb AS h) s
$$;

-- Appends one row to a workspace's chain, with who and from where taken from the scope.
-- The head row is read and locked at the transaction's first append to the chain, then carried
-- (audit_carried_heads_v1) and written back once, by audit_chain_flush_v1 at commit. Updating
-- the head row at every append made a bulk write quadratic: each update of one row in one
-- transaction adds a version that the next update walks past (20,000 runs kept COMMIT busy for
-- five minutes; BENCHMARKS.md). The setting lives and dies with the transaction (and with a
-- rolled-back savepoint) like the rows, so it holds under a transaction-mode pooler.
CREATE OR REPLACE FUNCTION audit_append_v1(p_workspace_id integer, p_action text, p_entity text,
                                p_object_key jsonb, p_before jsonb, p_after jsonb) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    heads jsonb := audit_carried_heads_v1();
    carried jsonb := heads -> p_workspace_id::text;
    head audit_chain;
    e audit_event;
BEGIN
    IF carried IS NULL THEN
        SELECT * INTO head FROM audit_chain WHERE workspace_id = p_workspace_id FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO audit_chain (workspace_id) VALUES (p_workspace_id) ON CONFLICT DO NOTHING;
            SELECT * INTO head FROM audit_chain WHERE workspace_id = p_workspace_id FOR UPDATE;
        END IF;
    ELSE
        head.last_seq := (carried ->> 0)::bigint;
        head.last_hash := decode(carried ->> 1, 'hex');
    END IF;
    -- The time is read under the head's lock, so a chain's times grow with its seq and a
    -- dropped month takes a prefix of every chain.
    e.occurred_at := clock_timestamp();
    IF to_regclass(audit_partition_name_v1(e.occurred_at)) IS NULL THEN
        PERFORM audit_partitions_ensure_v1(e.occurred_at);
    END IF;
    e.workspace_id := p_workspace_id;
    e.seq := head.last_seq + 1;
    e.actor := coalesce(nullif(current_setting('modelyard.actor', true), ''),
                        'db:' || session_user);
    e.token_id := nullif(current_setting('modelyard.token_id', true), '');
    e.client_addr := nullif(current_setting('modelyard.client_addr', true), '');
    e.request_id := nullif(current_setting('modelyard.request_id', true), '');
    e.action := p_action;
    e.entity := p_entity;
    e.object_key := p_object_key;
    e.before := p_before;
    e.after := p_after;
    e.prev_hash := head.last_hash;
    e.row_hash := audit_row_hash_v1(e);
    INSERT INTO audit_event (workspace_id, seq, occurred_at, actor, token_id, client_addr,
                             request_id, action, entity, object_key, before, after, prev_hash,
                             row_hash)
    VALUES (e.workspace_id, e.seq, e.occurred_at, e.actor, e.token_id, e.client_addr,
            e.request_id, e.action, e.entity, e.object_key, e.before, e.after, e.prev_hash,
            e.row_hash);
    PERFORM set_config('modelyard.audit_heads',
                       jsonb_set(heads, ARRAY[p_workspace_id::text],
                                 jsonb_build_array(e.seq, encode(e.row_hash, 'hex')))::text,
                       true);
    IF carried IS NULL THEN
        -- Arms the write-back: this update changes no seq, so audit_chain_flush fires for it,
        -- deferred, after every audit trigger already queued. Armed after the setting is
        -- written, so it holds when constraints are IMMEDIATE too (then it fires at once and
        -- the next append reads the head row again: slower, still one unbroken chain).
        UPDATE audit_chain SET last_seq = last_seq WHERE workspace_id = p_workspace_id;
    END IF;
END
$$;

-- Writes a carried head back to audit_chain (see audit_append_v1) and forgets it, so a later
-- append in the same transaction (after SET CONSTRAINTS ... IMMEDIATE) reads the row again.
-- Its own update moves the seq, which arms nothing.
CREATE FUNCTION audit_chain_flush_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    heads jsonb := audit_carried_heads_v1();
    carried jsonb := heads -> NEW.workspace_id::text;
BEGIN
    IF carried IS NOT NULL THEN
        PERFORM set_config('modelyard.audit_heads', (heads - NEW.workspace_id::text)::text, true);
        UPDATE audit_chain
        SET last_seq = (carried ->> 0)::bigint, last_hash = decode(carried ->> 1, 'hex')
        WHERE workspace_id = NEW.workspace_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER audit_chain_flush AFTER UPDATE ON audit_chain
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.last_seq = NEW.last_seq)
    EXECUTE FUNCTION audit_chain_flush_v1();
