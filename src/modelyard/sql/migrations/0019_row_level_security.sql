-- Row-level security on every tenant table (schema.sql, "Row-level security", says what each
-- policy allows and why; docs/design.md gives the cost). Migration 0017 put workspace_id in
-- every tenant row and key; this turns it into the boundary PostgreSQL enforces.

-- The request's workspace (the modelyard.workspace setting, queries/scope.sql), NULL when there is
-- none: the default of every tenant table's workspace_id and the test of every row-level security
-- policy, so the two can never disagree. A plain SQL function, STABLE and without a SET clause,
-- so the planner can inline it. The policies call it as a scalar subquery, (SELECT ...): an
-- InitPlan, evaluated once per statement and then compared like a parameter (an index condition
-- on workspace_id), where the bare call would read and parse the setting again for every row.
CREATE FUNCTION workspace_scope_v1() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('modelyard.workspace', true), '')::integer
$$;

-- The column defaults read the scope through the same function the policies test.
ALTER TABLE experiment ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE experiment_tag ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE run ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE run_param ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE run_tag ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE metric_series ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE metric_chunk ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE metric_chunk_rollup ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE ingest_receipt ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE idempotency_receipt ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE registered_model ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE registered_model_tag ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE model_version ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE model_version_tag ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE model_alias ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE event ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE webhook ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE webhook_delivery ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE webhook_attempt ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE artifact_blob ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE artifact_chunk ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE run_artifact ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE dataset ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE dataset_version ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE run_input ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE run_output ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE logged_model ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE logged_model_tag ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE logged_model_param ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE logged_model_metric ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE run_model_output ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();
ALTER TABLE run_model_input ALTER COLUMN workspace_id SET DEFAULT workspace_scope_v1();

-- Views run with the privileges and row-level security of the role that reads them.
ALTER VIEW experiment_record SET (security_invoker = true);
ALTER VIEW model_version_record SET (security_invoker = true);
ALTER VIEW logged_model_producer SET (security_invoker = true);

-- Whether a blob row other than p_blob_id, in any workspace, names the bytes at p_locator of
-- p_store_url. Dedup is per workspace but a file:// or s3:// store keeps one copy of a content
-- for all of them, so removing a workspace's last reference must not remove bytes another one
-- still names; row-level security hides those rows from the caller, so this one question is
-- asked as the owner. SECURITY DEFINER and on the allowlist (modelyard.sql.
-- SECURITY_DEFINER_FUNCTIONS): it answers yes or no and shows nothing else of other workspaces.
CREATE FUNCTION artifact_locator_shared_v1(p_store_url text, p_locator text, p_blob_id bigint)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
    SELECT EXISTS (
        SELECT 1 FROM artifact_blob
        WHERE store_url = p_store_url AND locator = p_locator AND blob_id <> p_blob_id
    )
$$;

REVOKE EXECUTE ON FUNCTION artifact_locator_shared_v1(text, text, bigint) FROM PUBLIC;

-- Makes the partitions of p_at's month and the next one if missing: called by the server at
-- start and by the CLI, and by audit_append_v1 when a month has no partition yet. SECURITY
-- DEFINER because the runtime role may not create tables; it is on the allowlist
-- (modelyard.sql.SECURITY_DEFINER_FUNCTIONS) and does nothing but this.
CREATE OR REPLACE FUNCTION audit_partitions_ensure_v1(p_at timestamptz) RETURNS void
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
        -- Read through audit_event, a partition has the log's policies; read directly, its
        -- own, and it has none: no rows for any role without BYPASSRLS.
        EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY',
                       current_schema(), part);
    END LOOP;
    PERFORM audit_append_only_v1();
END
$$;

-- The trigger of every audited table. Arguments: the key columns (comma separated); where the
-- workspace comes from when the row has no workspace_id ('scope': the request's, 'server':
-- chain 0); then the columns never copied into the log (secrets and their hashes).
-- The search path is the schema's, whatever the session's: a change made on a connection
-- whose path does not name it (psql, a restore) is audited all the same.
CREATE OR REPLACE FUNCTION audit_row_v1() RETURNS trigger
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
    -- A change of the identity tables ('server') belongs to chain 0 even when its row names a
    -- workspace (a member, a token): an admin acting from one workspace manages others, and
    -- row-level security lets a transaction append only to its own chain and to chain 0.
    ws := CASE WHEN TG_ARGV[1] = 'server' THEN 0
               ELSE coalesce((source ->> 'workspace_id')::integer, workspace_scope_v1(), 0) END;
    PERFORM audit_append_v1(ws, lower(TG_OP), TG_TABLE_NAME, key, before_row, after_row);
    RETURN NULL;
END
$$;

-- The partitions made before this migration, as audit_partitions_ensure_v1 now makes each one.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN SELECT i.inhrelid::regclass FROM pg_inherits i
                WHERE i.inhparent = 'audit_event'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Row-level security: PostgreSQL, not the handlers, keeps each workspace's rows to itself.
-- Every tenant table is ENABLEd and FORCEd (so the owner is held too, unless it has BYPASSRLS:
-- migrations, backup and gc run as such an owner) with one policy for every command on its own
-- workspace_id column: rows of another workspace are invisible to SELECT, UPDATE and DELETE,
-- and an INSERT or an UPDATE that would put a row in another workspace fails (WITH CHECK
-- defaults to USING). With no scope, workspace_scope_v1() is NULL and the policy matches no row.
-- The scope is a scalar subquery so it is evaluated once per statement, not once per row.
-- Child tables carry workspace_id themselves (migration 0017), so no policy joins its parent;
-- docs/design.md ("Row-level security") gives the cost. The identity tables (workspace,
-- app_user, workspace_member, api_token) are read to find the scope, before there is one, and
-- are not tenant tables; the server's guard decides who may touch them.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE experiment ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY experiment_workspace ON experiment
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE experiment_tag ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY experiment_tag_workspace ON experiment_tag
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE run ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY run_workspace ON run
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE run_param ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY run_param_workspace ON run_param
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE run_tag ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY run_tag_workspace ON run_tag
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE metric_series ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY metric_series_workspace ON metric_series
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE metric_chunk ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY metric_chunk_workspace ON metric_chunk
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE metric_chunk_rollup ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY metric_chunk_rollup_workspace ON metric_chunk_rollup
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE ingest_receipt ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY ingest_receipt_workspace ON ingest_receipt
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE idempotency_receipt ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_receipt_workspace ON idempotency_receipt
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE registered_model ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY registered_model_workspace ON registered_model
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE registered_model_tag ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY registered_model_tag_workspace ON registered_model_tag
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE model_version ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY model_version_workspace ON model_version
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE model_version_tag ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY model_version_tag_workspace ON model_version_tag
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE model_alias ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY model_alias_workspace ON model_alias
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE event ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY event_workspace ON event
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE webhook ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_workspace ON webhook
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE webhook_delivery ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_delivery_workspace ON webhook_delivery
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE webhook_attempt ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_attempt_workspace ON webhook_attempt
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE artifact_blob ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY artifact_blob_workspace ON artifact_blob
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE artifact_chunk ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY artifact_chunk_workspace ON artifact_chunk
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE run_artifact ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY run_artifact_workspace ON run_artifact
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE dataset ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY dataset_workspace ON dataset
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE dataset_version ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY dataset_version_workspace ON dataset_version
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE run_input ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY run_input_workspace ON run_input
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE run_output ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY run_output_workspace ON run_output
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE logged_model ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY logged_model_workspace ON logged_model
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE logged_model_tag ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY logged_model_tag_workspace ON logged_model_tag
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE logged_model_param ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY logged_model_param_workspace ON logged_model_param
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE logged_model_metric ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY logged_model_metric_workspace ON logged_model_metric
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE run_model_output ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY run_model_output_workspace ON run_model_output
    USING (workspace_id = (SELECT workspace_scope_v1()));
ALTER TABLE run_model_input ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY run_model_input_workspace ON run_model_input
    USING (workspace_id = (SELECT workspace_scope_v1()));

-- The audit log: a workspace reads its own chain; it appends to its own and to chain 0 (changes
-- of the identity tables, refusals of requests with no workspace), whose head every writer may
-- therefore lock. No policy lets a row of the log be changed or removed (the triggers and the
-- privileges above refuse it too). A partition read directly, not through audit_event, has RLS
-- and no policy: no rows (audit_partitions_ensure_v1 does the same for each new one).
ALTER TABLE audit_chain ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_chain_workspace ON audit_chain
    USING (workspace_id = (SELECT workspace_scope_v1()) OR workspace_id = 0);
ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_event_read ON audit_event FOR SELECT
    USING (workspace_id = (SELECT workspace_scope_v1()));
CREATE POLICY audit_event_append ON audit_event FOR INSERT
    WITH CHECK (workspace_id = (SELECT workspace_scope_v1()) OR workspace_id = 0);
CREATE POLICY audit_event_no_update ON audit_event FOR UPDATE USING (false);
CREATE POLICY audit_event_no_delete ON audit_event FOR DELETE USING (false);
