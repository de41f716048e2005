-- 0002: registry events in a transactional outbox; webhooks, their deliveries and attempts.

-- ---------------------------------------------------------------------------------------------
-- Registry events: a transactional outbox (docs/design.md, "Events and webhooks").
--
-- Triggers on the registry and run tables write one row per change into `event`, in the
-- transaction that makes the change: a rollback takes the event with it, a commit cannot lose it.
-- The triggers are deferred constraint triggers, so they fire at commit: they see the final state
-- of the transaction (a model created with tags is one `registered_model.created` carrying the
-- tags; the versions of a deleted model emit nothing of their own), and they take the outbox lock
-- only for the last moment of the transaction, after every row lock it needed (no deadlock).
-- The lock makes `event_seq` commit-ordered: a reader that sees event n sees every event below n.
-- ---------------------------------------------------------------------------------------------

CREATE SEQUENCE event_seq_seq AS bigint;

CREATE TABLE event (
    event_seq    bigint      NOT NULL,
    workspace_id integer     NOT NULL,
    entity       text        NOT NULL,
    action       text        NOT NULL,
    payload      jsonb       NOT NULL,
    -- Who made the change and in which request, from the request scope (set_config), if any.
    actor        text,
    request_id   text,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT event_pk PRIMARY KEY (event_seq),
    CONSTRAINT event_workspace_fk FOREIGN KEY (workspace_id)
        REFERENCES workspace (workspace_id) ON DELETE CASCADE,
    CONSTRAINT event_name_ck CHECK (entity || '.' || action IN (
        'registered_model.created', 'registered_model.renamed', 'registered_model.deleted',
        'registered_model_tag.set', 'registered_model_tag.deleted',
        'model_version.created', 'model_version.stage_transitioned', 'model_version.deleted',
        'model_version_tag.set', 'model_version_tag.deleted',
        'model_version_alias.created', 'model_version_alias.moved', 'model_version_alias.deleted',
        'run.finished', 'run.failed'))
);

CREATE INDEX event_occurred_idx ON event (occurred_at);

-- A webhook: where to POST which events of one workspace. Secrets are encrypted by the server
-- (Fernet, key outside the database); during a rotation the previous secret signs too, until
-- previous_secret_until.
CREATE TABLE webhook (
    webhook_id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    workspace_id          integer     NOT NULL DEFAULT 1,
    name                  text        NOT NULL,
    url                   text        NOT NULL,
    events                text[]      NOT NULL,
    description           text,
    status                text        NOT NULL DEFAULT 'ACTIVE',
    secret                bytea,
    previous_secret       bytea,
    previous_secret_until timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_pk PRIMARY KEY (webhook_id),
    CONSTRAINT webhook_workspace_fk FOREIGN KEY (workspace_id)
        REFERENCES workspace (workspace_id) ON DELETE CASCADE,
    CONSTRAINT webhook_name_ck CHECK (char_length(name) BETWEEN 1 AND 256),
    CONSTRAINT webhook_url_ck CHECK (char_length(url) BETWEEN 1 AND 2048),
    CONSTRAINT webhook_status_ck CHECK (status IN ('ACTIVE', 'DISABLED')),
    CONSTRAINT webhook_events_ck CHECK (cardinality(events) BETWEEN 1 AND 32),
    CONSTRAINT webhook_previous_secret_ck
        CHECK ((previous_secret IS NULL) = (previous_secret_until IS NULL))
);

CREATE INDEX webhook_active_idx ON webhook (workspace_id) WHERE status = 'ACTIVE';

-- One event for one webhook: delivered at least once, under one delivery id for every attempt
-- (the X-MLflow-Delivery-Id a receiver deduplicates on). `entity`/`action` are the event as this
-- webhook subscribed to it (an alias move reaches a `model_version_alias.created` subscriber as
-- `created`, as MLflow reports every alias set).
CREATE TABLE webhook_delivery (
    delivery_id        uuid        NOT NULL DEFAULT gen_random_uuid(),
    webhook_id         uuid        NOT NULL,
    event_seq          bigint      NOT NULL,
    entity             text        NOT NULL,
    action             text        NOT NULL,
    state              text        NOT NULL DEFAULT 'pending',
    attempts           integer     NOT NULL DEFAULT 0,
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),
    -- While set and in the future, one dispatcher is making an attempt; it expires if that
    -- dispatcher dies, and another one retries under the same delivery id.
    lease_until        timestamptz,
    -- Retries stop (dead letter) once this is older than the retry horizon; a redeliver resets it.
    retry_from         timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    last_response_code integer,
    last_error         text,
    CONSTRAINT webhook_delivery_pk PRIMARY KEY (delivery_id),
    CONSTRAINT webhook_delivery_webhook_fk FOREIGN KEY (webhook_id)
        REFERENCES webhook (webhook_id) ON DELETE CASCADE,
    CONSTRAINT webhook_delivery_event_fk FOREIGN KEY (event_seq)
        REFERENCES event (event_seq) ON DELETE CASCADE,
    CONSTRAINT webhook_delivery_uq UNIQUE (webhook_id, event_seq),
    CONSTRAINT webhook_delivery_state_ck CHECK (state IN ('pending', 'delivered', 'dead')),
    CONSTRAINT webhook_delivery_finished_ck CHECK ((state = 'pending') = (finished_at IS NULL))
);

-- The dispatcher's work list: per webhook, the pending deliveries in event order.
CREATE INDEX webhook_delivery_pending_idx ON webhook_delivery (webhook_id, event_seq)
    WHERE state = 'pending';
CREATE INDEX webhook_delivery_event_idx ON webhook_delivery (event_seq);
CREATE INDEX webhook_delivery_dead_idx ON webhook_delivery (webhook_id, finished_at)
    WHERE state = 'dead';

-- The delivery log: one row per attempt. The receiver's body is kept (truncated) for operators
-- reading the database; the API never returns it, so a webhook cannot read internal pages.
CREATE TABLE webhook_attempt (
    delivery_id   uuid             NOT NULL,
    attempt       integer          NOT NULL,
    started_at    timestamptz      NOT NULL,
    latency_ms    double precision NOT NULL,
    response_code integer,
    response_body text,
    error         text,
    succeeded     boolean          NOT NULL,
    CONSTRAINT webhook_attempt_pk PRIMARY KEY (delivery_id, attempt),
    CONSTRAINT webhook_attempt_delivery_fk FOREIGN KEY (delivery_id)
        REFERENCES webhook_delivery (delivery_id) ON DELETE CASCADE,
    CONSTRAINT webhook_attempt_body_ck CHECK (char_length(response_body) <= 1024)
);

-- Writes one event and its deliveries. Called only from the deferred triggers below, at commit.
CREATE FUNCTION emit_event_v1(p_workspace_id integer, p_entity text, p_action text,
                              p_payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    seq bigint;
    fanned integer;
BEGIN
    -- Held to the end of the transaction: event-writing commits go one at a time, so sequence
    -- numbers are handed out in commit order (hashtext('modelyard.event_seq')).
    PERFORM pg_advisory_xact_lock(-1364627318);
    seq := nextval('event_seq_seq');
    INSERT INTO event (event_seq, workspace_id, entity, action, payload, actor, request_id)
    VALUES (seq, p_workspace_id, p_entity, p_action, p_payload,
            nullif(current_setting('modelyard.actor', true), ''),
            nullif(current_setting('modelyard.request_id', true), ''));
    INSERT INTO webhook_delivery (webhook_id, event_seq, entity, action)
    SELECT w.webhook_id, seq, p_entity,
           CASE WHEN p_entity || '.' || p_action = ANY (w.events) THEN p_action ELSE 'created' END
    FROM webhook w
    WHERE w.workspace_id = p_workspace_id AND w.status = 'ACTIVE'
      AND (p_entity || '.' || p_action = ANY (w.events)
           OR (p_entity = 'model_version_alias' AND p_action = 'moved'
               AND 'model_version_alias.created' = ANY (w.events)));
    GET DIAGNOSTICS fanned = ROW_COUNT;
    IF fanned > 0 THEN
        PERFORM pg_notify('modelyard_webhooks', '');
    END IF;
END
$$;

-- True when the row with this xmin and created_at was inserted by the running transaction (its
-- created_at is the transaction's start, and no other transaction wrote it since).
CREATE FUNCTION created_here_v1(p_xmin xid, p_created_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT p_created_at = now() AND p_xmin = pg_current_xact_id()::xid
$$;

CREATE FUNCTION registered_model_event_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM emit_event_v1(NEW.workspace_id, 'registered_model', 'created', jsonb_build_object(
            'name', NEW.name,
            'tags', coalesce((SELECT jsonb_object_agg(t.key, t.value) FROM registered_model_tag t
                              WHERE t.model_id = NEW.model_id), '{}'::jsonb),
            'description', NEW.description));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM emit_event_v1(NEW.workspace_id, 'registered_model', 'renamed',
                              jsonb_build_object('name', NEW.name, 'previous_name', OLD.name));
    ELSE
        PERFORM emit_event_v1(OLD.workspace_id, 'registered_model', 'deleted',
                              jsonb_build_object('name', OLD.name));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION registered_model_tag_event_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tag registered_model_tag;
    model_ws integer;
    model_name text;
    model_xmin xid;
    model_created timestamptz;
BEGIN
    tag := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    SELECT m.workspace_id, m.name, m.xmin, m.created_at
    INTO model_ws, model_name, model_xmin, model_created
    FROM registered_model m WHERE m.model_id = tag.model_id;
    -- Gone with its model (that emits registered_model.deleted), or part of its creation.
    IF model_ws IS NULL OR created_here_v1(model_xmin, model_created) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM emit_event_v1(model_ws, 'registered_model_tag', 'deleted',
                              jsonb_build_object('name', model_name, 'key', tag.key));
    ELSE
        PERFORM emit_event_v1(model_ws, 'registered_model_tag', 'set',
                              jsonb_build_object('name', model_name, 'key', tag.key,
                                                 'value', tag.value));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION model_version_event_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    mv model_version;
    model registered_model;
BEGIN
    mv := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    SELECT m.* INTO model FROM registered_model m WHERE m.model_id = mv.model_id;
    IF model.model_id IS NULL THEN
        RETURN NULL;  -- deleted with its model
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM emit_event_v1(model.workspace_id, 'model_version', 'created', jsonb_build_object(
            'name', model.name,
            'version', mv.version::text,
            'source', mv.source,
            'run_id', replace(mv.run_id::text, '-', ''),
            'tags', coalesce((SELECT jsonb_object_agg(t.key, t.value) FROM model_version_tag t
                              WHERE t.model_id = mv.model_id AND t.version = mv.version),
                             '{}'::jsonb),
            'description', mv.description));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM emit_event_v1(model.workspace_id, 'model_version', 'stage_transitioned',
                              jsonb_build_object('name', model.name, 'version', mv.version::text,
                                                 'from_stage', OLD.stage, 'to_stage', NEW.stage));
    ELSE
        PERFORM emit_event_v1(model.workspace_id, 'model_version', 'deleted',
                              jsonb_build_object('name', model.name, 'version', mv.version::text));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION model_version_tag_event_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    tag model_version_tag;
    model registered_model;
    version_xmin xid;
    version_created timestamptz;
BEGIN
    tag := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    SELECT v.xmin, v.created_at INTO version_xmin, version_created
    FROM model_version v WHERE v.model_id = tag.model_id AND v.version = tag.version;
    -- Gone with its version or model, or part of the version's creation.
    IF version_created IS NULL OR created_here_v1(version_xmin, version_created) THEN
        RETURN NULL;
    END IF;
    SELECT m.* INTO model FROM registered_model m WHERE m.model_id = tag.model_id;
    IF TG_OP = 'DELETE' THEN
        PERFORM emit_event_v1(model.workspace_id, 'model_version_tag', 'deleted',
                              jsonb_build_object('name', model.name,
                                                 'version', tag.version::text, 'key', tag.key));
    ELSE
        PERFORM emit_event_v1(model.workspace_id, 'model_version_tag', 'set',
                              jsonb_build_object('name', model.name, 'version', tag.version::text,
                                                 'key', tag.key, 'value', tag.value));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION model_alias_event_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    model registered_model;
BEGIN
    IF TG_OP = 'DELETE' THEN
        -- Gone with its version (or model): that change has its own event.
        IF NOT EXISTS (SELECT 1 FROM model_version v
                       WHERE v.model_id = OLD.model_id AND v.version = OLD.version) THEN
            RETURN NULL;
        END IF;
        SELECT m.* INTO model FROM registered_model m WHERE m.model_id = OLD.model_id;
        PERFORM emit_event_v1(model.workspace_id, 'model_version_alias', 'deleted',
                              jsonb_build_object('name', model.name, 'alias', OLD.alias));
        RETURN NULL;
    END IF;
    SELECT m.* INTO model FROM registered_model m WHERE m.model_id = NEW.model_id;
    IF model.model_id IS NULL THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM emit_event_v1(model.workspace_id, 'model_version_alias', 'created',
                              jsonb_build_object('name', model.name, 'alias', NEW.alias,
                                                 'version', NEW.version::text));
    ELSE
        PERFORM emit_event_v1(model.workspace_id, 'model_version_alias', 'moved',
                              jsonb_build_object('name', model.name, 'alias', NEW.alias,
                                                 'version', NEW.version::text,
                                                 'previous_version', OLD.version::text));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION run_status_event_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM emit_event_v1(NEW.workspace_id, 'run', lower(NEW.status), jsonb_build_object(
        'run_id', replace(NEW.run_id::text, '-', ''),
        'experiment_id', NEW.experiment_id::text,
        'run_name', NEW.name,
        'status', NEW.status,
        'end_time', floor(extract(epoch FROM NEW.end_time) * 1000)::bigint));
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER registered_model_created_event AFTER INSERT ON registered_model
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION registered_model_event_v1();
CREATE CONSTRAINT TRIGGER registered_model_renamed_event AFTER UPDATE ON registered_model
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION registered_model_event_v1();
CREATE CONSTRAINT TRIGGER registered_model_deleted_event AFTER DELETE ON registered_model
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION registered_model_event_v1();
CREATE CONSTRAINT TRIGGER registered_model_tag_set_event AFTER INSERT ON registered_model_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION registered_model_tag_event_v1();
CREATE CONSTRAINT TRIGGER registered_model_tag_changed_event AFTER UPDATE ON registered_model_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.value IS DISTINCT FROM NEW.value)
    EXECUTE FUNCTION registered_model_tag_event_v1();
CREATE CONSTRAINT TRIGGER registered_model_tag_deleted_event AFTER DELETE ON registered_model_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION registered_model_tag_event_v1();
CREATE CONSTRAINT TRIGGER model_version_created_event AFTER INSERT ON model_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION model_version_event_v1();
CREATE CONSTRAINT TRIGGER model_version_stage_event AFTER UPDATE ON model_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.stage IS DISTINCT FROM NEW.stage)
    EXECUTE FUNCTION model_version_event_v1();
CREATE CONSTRAINT TRIGGER model_version_deleted_event AFTER DELETE ON model_version
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION model_version_event_v1();
CREATE CONSTRAINT TRIGGER model_version_tag_set_event AFTER INSERT ON model_version_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION model_version_tag_event_v1();
CREATE CONSTRAINT TRIGGER model_version_tag_changed_event AFTER UPDATE ON model_version_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.value IS DISTINCT FROM NEW.value)
    EXECUTE FUNCTION model_version_tag_event_v1();
CREATE CONSTRAINT TRIGGER model_version_tag_deleted_event AFTER DELETE ON model_version_tag
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION model_version_tag_event_v1();
CREATE CONSTRAINT TRIGGER model_alias_created_event AFTER INSERT ON model_alias
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION model_alias_event_v1();
CREATE CONSTRAINT TRIGGER model_alias_moved_event AFTER UPDATE ON model_alias
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION model_alias_event_v1();
CREATE CONSTRAINT TRIGGER model_alias_deleted_event AFTER DELETE ON model_alias
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION model_alias_event_v1();
CREATE CONSTRAINT TRIGGER run_status_event AFTER UPDATE ON run
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('FINISHED', 'FAILED'))
    EXECUTE FUNCTION run_status_event_v1();
