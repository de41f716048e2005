-- The audit log: tables, functions and the triggers on every audited table (schema.sql says why).

-- ---------------------------------------------------------------------------------------------
-- The audit log (docs/security.md, "Audit log"): one row per change of a configuration or
-- tracking object, and one per request the guard refused, hash-chained per workspace.
--
-- Deferred constraint triggers on the audited tables write the rows at commit, in the
-- transaction of the change: a rollback takes them along, a commit cannot lose them. Each
-- workspace has one chain (workspace 0: changes and refusals that belong to no workspace, such
-- as users and tokens without one); its head row in audit_chain is locked by the writer until
-- commit, so writers of one workspace take turns for the last moment of their transactions and
-- writers of different workspaces never meet. row_hash = sha256(prev_hash || the row's canonical
-- text), so an edited or removed row breaks the chain (`modelyard audit verify`). Metric points
-- are not audited: they are data written at high rate, not configuration (security.md).
-- ---------------------------------------------------------------------------------------------

CREATE TABLE audit_chain (
    workspace_id integer NOT NULL,
    last_seq     bigint  NOT NULL DEFAULT 0,
    last_hash    bytea   NOT NULL DEFAULT decode(repeat('00', 32), 'hex'),
    -- Set by `audit prune`: the last row of this chain in the partitions it dropped, where the
    -- chain that remains starts.
    pruned_seq   bigint  NOT NULL DEFAULT 0,
    pruned_hash  bytea   NOT NULL DEFAULT decode(repeat('00', 32), 'hex'),
    CONSTRAINT audit_chain_pk PRIMARY KEY (workspace_id),
    CONSTRAINT audit_chain_seq_ck CHECK (last_seq >= pruned_seq AND pruned_seq >= 0)
);

-- Partitioned by month so retention drops whole partitions (audit_event_YYYY_MM), no DELETE.
CREATE TABLE audit_event (
    workspace_id integer     NOT NULL,
    -- The position in the workspace's chain: 1, 2, 3... with no gap.
    seq          bigint      NOT NULL,
    occurred_at  timestamptz NOT NULL,
    -- From the request's scope (scope.sql); 'db:<role>' for a change made on the database
    -- outside a request (the CLI's admin commands, psql).
    actor        text        NOT NULL,
    token_id     text,
    client_addr  text,
    request_id   text,
    action       text        NOT NULL,
    -- The table changed, or 'request' for a refusal.
    entity       text        NOT NULL,
    object_key   jsonb       NOT NULL,
    -- The row before (update, delete) and after (insert, update) the change, secrets left out;
    -- for a refusal, `after` holds the status and the reason.
    before       jsonb,
    after        jsonb,
    prev_hash    bytea       NOT NULL,
    row_hash     bytea       NOT NULL,
    CONSTRAINT audit_event_pk PRIMARY KEY (workspace_id, seq, occurred_at),
    CONSTRAINT audit_event_action_ck CHECK (action IN ('insert', 'update', 'delete', 'denied')),
    CONSTRAINT audit_event_hash_ck
        CHECK (octet_length(prev_hash) = 32 AND octet_length(row_hash) = 32)
) PARTITION BY RANGE (occurred_at);

-- `audit list` reads newest first, often within a time range.
CREATE INDEX audit_event_occurred_idx ON audit_event (occurred_at);

-- The canonical text of a row is the jsonb text of its fields (jsonb orders keys and spaces
-- values one way) with the time in UTC, so neither the session's TimeZone nor the server's
-- version changes the hash.
CREATE FUNCTION audit_row_hash_v1(e audit_event) RETURNS bytea
LANGUAGE sql STABLE AS $$
    SELECT sha256(e.prev_hash || convert_to(jsonb_build_object(
        'workspace_id', e.workspace_id,
        'seq', e.seq,
        'occurred_at', to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'actor', e.actor,
        'token_id', e.token_id,
        'client_addr', e.client_addr,
        'request_id', e.request_id,
        'action', e.action,
        'entity', e.entity,
        'object_key', e.object_key,
        'before', e.before,
        'after', e.after)::text, 'UTF8'))
$$;

CREATE FUNCTION audit_partition_name_v1(p_at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT 'audit_event_' || to_char(p_at AT TIME ZONE 'UTC', 'YYYY_MM')
$$;

-- Audit rows are append-only for every role but the owner, twice over: the privileges (this
-- takes UPDATE, DELETE and TRUNCATE back from every other role on the log and its partitions,
-- DELETE and TRUNCATE on the chain heads, after the owner's default privileges granted them;
-- `db bootstrap` calls it again after its grants) and the triggers below, which hold even when
-- a deployment tool grants every table to the runtime role again.
CREATE FUNCTION audit_append_only_v1() RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    target regclass;
    refused text;
    grantee name;
BEGIN
    FOR target, refused IN
        SELECT c.oid::regclass,
               CASE WHEN c.relname = 'audit_chain' THEN 'DELETE, TRUNCATE'
                    ELSE 'UPDATE, DELETE, TRUNCATE' END
        FROM pg_class c
        WHERE c.oid IN ('audit_event'::regclass, 'audit_chain'::regclass)
           OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i
                        WHERE i.inhparent = 'audit_event'::regclass)
    LOOP
        EXECUTE format('REVOKE %s ON %s FROM PUBLIC', refused, target);
        FOR grantee IN
            SELECT DISTINCT r.rolname
            FROM pg_class c
            CROSS JOIN LATERAL aclexplode(c.relacl) a
            JOIN pg_roles r ON r.oid = a.grantee
            WHERE c.oid = target AND a.grantee <> c.relowner
        LOOP
            EXECUTE format('REVOKE %s ON %s FROM %I', refused, target, grantee);
        END LOOP;
    END LOOP;
END
$$;

CREATE FUNCTION audit_refuse_change_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID),
                       'USAGE') THEN
        RAISE EXCEPTION 'audit rows cannot be changed or removed (% on %)', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

-- Row triggers of a partitioned table are cloned onto its partitions; TRUNCATE triggers are
-- not, so audit_partitions_ensure_v1 gives each partition its own.
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change_v1();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change_v1();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change_v1();
CREATE TRIGGER audit_chain_append_only BEFORE DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change_v1();

SELECT audit_append_only_v1();

-- Makes the partitions of p_at's month and the next one if missing: called by the server at
-- start and by the CLI, and by audit_append_v1 when a month has no partition yet. SECURITY
-- DEFINER because the runtime role may not create tables; it is on the allowlist
-- (modelyard.sql.SECURITY_DEFINER_FUNCTIONS) and does nothing but this.
CREATE FUNCTION audit_partitions_ensure_v1(p_at timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    month_start timestamptz;
    part text;
BEGIN
    -- Concurrent callers create each partition once (hashtext('modelyard.audit_partitions')).
    PERFORM pg_advisory_xact_lock(-1229441586);
    FOR i IN 0..1 LOOP
        month_start := (date_trunc('month', p_at AT TIME ZONE 'UTC') + make_interval(months => i))
                       AT TIME ZONE 'UTC';
        part := audit_partition_name_v1(month_start);
        CONTINUE WHEN to_regclass(quote_ident(current_schema()) || '.' || part) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.audit_event FOR VALUES FROM (%L) TO (%L)',
                       current_schema(), part, current_schema(), month_start,
                       ((month_start AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC');
        EXECUTE format('CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON %I.%I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %I.audit_refuse_change_v1()',
                       current_schema(), part, current_schema());
    END LOOP;
    PERFORM audit_append_only_v1();
END
$$;

REVOKE EXECUTE ON FUNCTION audit_partitions_ensure_v1(timestamptz) FROM PUBLIC;

-- Appends one row to a workspace's chain, with who and from where taken from the scope.
CREATE FUNCTION audit_append_v1(p_workspace_id integer, p_action text, p_entity text,
                                p_object_key jsonb, p_before jsonb, p_after jsonb) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    head audit_chain;
    e audit_event;
BEGIN
    SELECT * INTO head FROM audit_chain WHERE workspace_id = p_workspace_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO audit_chain (workspace_id) VALUES (p_workspace_id) ON CONFLICT DO NOTHING;
        SELECT * INTO head FROM audit_chain WHERE workspace_id = p_workspace_id FOR UPDATE;
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
    UPDATE audit_chain SET last_seq = e.seq, last_hash = e.row_hash
    WHERE workspace_id = p_workspace_id;
END
$$;

-- The trigger of every audited table. Arguments: the key columns (comma separated); where the
-- workspace comes from when the row has no workspace_id ('scope': the request's, 'server':
-- chain 0); then the columns never copied into the log (secrets and their hashes).
-- The search path is the schema's, whatever the session's: a change made on a connection
-- whose path does not name it (psql, a restore) is audited all the same.
CREATE FUNCTION audit_row_v1() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    before_row jsonb;
    after_row jsonb;
    source jsonb;
    key jsonb;
    ws integer;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        before_row := to_jsonb(OLD) - TG_ARGV[2:];
    END IF;
    IF TG_OP <> 'DELETE' THEN
        after_row := to_jsonb(NEW) - TG_ARGV[2:];
    END IF;
    source := coalesce(after_row, before_row);
    SELECT jsonb_object_agg(k, source -> k) INTO key
    FROM unnest(string_to_array(TG_ARGV[0], ',')) k;
    ws := (source ->> 'workspace_id')::integer;
    IF ws IS NULL THEN
        ws := CASE WHEN TG_ARGV[1] = 'scope'
                   THEN coalesce(nullif(current_setting('modelyard.workspace', true), '')::integer, 0)
                   ELSE 0 END;
    END IF;
    PERFORM audit_append_v1(ws, lower(TG_OP), TG_TABLE_NAME, key, before_row, after_row);
    RETURN NULL;
END
$$;
-- The audited tables. pg_trigger_depth() = 0 (evaluated as the row changes, not at commit)
-- leaves out the rows a cascade changes: deleting a run is one row, not one per param and tag.
-- An update that changes nothing is no change.
CREATE CONSTRAINT TRIGGER workspace_audit AFTER INSERT OR DELETE ON workspace
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('workspace_id', 'server');
CREATE CONSTRAINT TRIGGER workspace_audit_update AFTER UPDATE ON workspace
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('workspace_id', 'server');
CREATE CONSTRAINT TRIGGER experiment_audit AFTER INSERT OR DELETE ON experiment
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('experiment_id', 'scope');
CREATE CONSTRAINT TRIGGER experiment_audit_update AFTER UPDATE ON experiment
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('experiment_id', 'scope');
CREATE CONSTRAINT TRIGGER experiment_tag_audit AFTER INSERT OR DELETE ON experiment_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('experiment_id,key', 'scope');
CREATE CONSTRAINT TRIGGER experiment_tag_audit_update AFTER UPDATE ON experiment_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('experiment_id,key', 'scope');
CREATE CONSTRAINT TRIGGER run_audit AFTER INSERT OR DELETE ON run
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('run_id', 'scope');
CREATE CONSTRAINT TRIGGER run_audit_update AFTER UPDATE ON run
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('run_id', 'scope');
CREATE CONSTRAINT TRIGGER run_param_audit AFTER INSERT OR DELETE ON run_param
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('run_id,key', 'scope');
CREATE CONSTRAINT TRIGGER run_param_audit_update AFTER UPDATE ON run_param
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('run_id,key', 'scope');
CREATE CONSTRAINT TRIGGER run_tag_audit AFTER INSERT OR DELETE ON run_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('run_id,key', 'scope');
CREATE CONSTRAINT TRIGGER run_tag_audit_update AFTER UPDATE ON run_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('run_id,key', 'scope');
CREATE CONSTRAINT TRIGGER run_artifact_audit AFTER INSERT OR DELETE ON run_artifact
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('run_id,path', 'scope');
CREATE CONSTRAINT TRIGGER run_artifact_audit_update AFTER UPDATE ON run_artifact
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('run_id,path', 'scope');
CREATE CONSTRAINT TRIGGER run_input_audit AFTER INSERT OR DELETE ON run_input
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('run_id,dataset_version_id,context', 'scope');
CREATE CONSTRAINT TRIGGER run_input_audit_update AFTER UPDATE ON run_input
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('run_id,dataset_version_id,context', 'scope');
CREATE CONSTRAINT TRIGGER run_output_audit AFTER INSERT OR DELETE ON run_output
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('run_id,dataset_version_id', 'scope');
CREATE CONSTRAINT TRIGGER run_output_audit_update AFTER UPDATE ON run_output
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('run_id,dataset_version_id', 'scope');
CREATE CONSTRAINT TRIGGER run_model_input_audit AFTER INSERT OR DELETE ON run_model_input
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('run_id,model_id', 'scope');
CREATE CONSTRAINT TRIGGER run_model_input_audit_update AFTER UPDATE ON run_model_input
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('run_id,model_id', 'scope');
CREATE CONSTRAINT TRIGGER run_model_output_audit AFTER INSERT OR DELETE ON run_model_output
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('run_id,model_id,step', 'scope');
CREATE CONSTRAINT TRIGGER run_model_output_audit_update AFTER UPDATE ON run_model_output
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('run_id,model_id,step', 'scope');
CREATE CONSTRAINT TRIGGER registered_model_audit AFTER INSERT OR DELETE ON registered_model
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('model_id', 'scope');
CREATE CONSTRAINT TRIGGER registered_model_audit_update AFTER UPDATE ON registered_model
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('model_id', 'scope');
CREATE CONSTRAINT TRIGGER registered_model_tag_audit AFTER INSERT OR DELETE ON registered_model_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('model_id,key', 'scope');
CREATE CONSTRAINT TRIGGER registered_model_tag_audit_update AFTER UPDATE ON registered_model_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('model_id,key', 'scope');
CREATE CONSTRAINT TRIGGER model_version_audit AFTER INSERT OR DELETE ON model_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('model_id,version', 'scope');
CREATE CONSTRAINT TRIGGER model_version_audit_update AFTER UPDATE ON model_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('model_id,version', 'scope');
CREATE CONSTRAINT TRIGGER model_version_tag_audit AFTER INSERT OR DELETE ON model_version_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('model_id,version,key', 'scope');
CREATE CONSTRAINT TRIGGER model_version_tag_audit_update AFTER UPDATE ON model_version_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('model_id,version,key', 'scope');
CREATE CONSTRAINT TRIGGER model_alias_audit AFTER INSERT OR DELETE ON model_alias
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('model_id,alias', 'scope');
CREATE CONSTRAINT TRIGGER model_alias_audit_update AFTER UPDATE ON model_alias
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('model_id,alias', 'scope');
CREATE CONSTRAINT TRIGGER dataset_audit AFTER INSERT OR DELETE ON dataset
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('dataset_id', 'scope');
CREATE CONSTRAINT TRIGGER dataset_audit_update AFTER UPDATE ON dataset
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('dataset_id', 'scope');
CREATE CONSTRAINT TRIGGER dataset_version_audit AFTER INSERT OR DELETE ON dataset_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('dataset_version_id', 'scope');
CREATE CONSTRAINT TRIGGER dataset_version_audit_update AFTER UPDATE ON dataset_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND to_jsonb(OLD) IS DISTINCT FROM to_jsonb(NEW))
    EXECUTE FUNCTION audit_row_v1('dataset_version_id', 'scope');
CREATE CONSTRAINT TRIGGER logged_model_audit AFTER INSERT OR DELETE ON logged_model
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('model_id', 'scope');
CREATE CONSTRAINT TRIGGER logged_model_audit_update AFTER UPDATE ON logged_model
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('model_id', 'scope');
CREATE CONSTRAINT TRIGGER logged_model_tag_audit AFTER INSERT OR DELETE ON logged_model_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('model_id,key', 'scope');
CREATE CONSTRAINT TRIGGER logged_model_tag_audit_update AFTER UPDATE ON logged_model_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('model_id,key', 'scope');
CREATE CONSTRAINT TRIGGER logged_model_param_audit AFTER INSERT OR DELETE ON logged_model_param
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('model_id,key', 'scope');
CREATE CONSTRAINT TRIGGER logged_model_param_audit_update AFTER UPDATE ON logged_model_param
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('model_id,key', 'scope');
CREATE CONSTRAINT TRIGGER webhook_audit AFTER INSERT OR DELETE ON webhook
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('webhook_id', 'scope', 'secret', 'previous_secret');
CREATE CONSTRAINT TRIGGER webhook_audit_update AFTER UPDATE ON webhook
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('webhook_id', 'scope', 'secret', 'previous_secret');
CREATE CONSTRAINT TRIGGER app_user_audit AFTER INSERT OR DELETE ON app_user
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('user_id', 'server');
CREATE CONSTRAINT TRIGGER app_user_audit_update AFTER UPDATE ON app_user
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('user_id', 'server');
CREATE CONSTRAINT TRIGGER workspace_member_audit AFTER INSERT OR DELETE ON workspace_member
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('workspace_id,user_id', 'server');
CREATE CONSTRAINT TRIGGER workspace_member_audit_update AFTER UPDATE ON workspace_member
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('workspace_id,user_id', 'server');
CREATE CONSTRAINT TRIGGER api_token_audit AFTER INSERT OR DELETE ON api_token
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (pg_trigger_depth() = 0)
    EXECUTE FUNCTION audit_row_v1('token_id', 'server', 'secret_sha256');
CREATE CONSTRAINT TRIGGER api_token_audit_update AFTER UPDATE ON api_token
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (pg_trigger_depth() = 0 AND OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION audit_row_v1('token_id', 'server', 'secret_sha256');
