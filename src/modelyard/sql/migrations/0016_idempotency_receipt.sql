-- Idempotency receipts of the creating writes of /api/v1 (runs, model versions, metric batches,
-- experiments, registered models): one row per (workspace, caller, operation, key), written in
-- the transaction of the effect, holding the sha256 of the request and the answer to replay.
CREATE TABLE idempotency_receipt (
    workspace_id    integer     NOT NULL,
    principal       text        NOT NULL,
    operation       text        NOT NULL,
    idempotency_key text        NOT NULL,
    request_digest  bytea       NOT NULL,
    status_code     smallint,
    response_body   bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_receipt_pk
        PRIMARY KEY (workspace_id, principal, operation, idempotency_key),
    CONSTRAINT idempotency_receipt_workspace_fk FOREIGN KEY (workspace_id)
        REFERENCES workspace (workspace_id) ON DELETE CASCADE,
    CONSTRAINT idempotency_receipt_key_ck CHECK (char_length(idempotency_key) BETWEEN 1 AND 128),
    CONSTRAINT idempotency_receipt_digest_ck CHECK (octet_length(request_digest) = 32),
    CONSTRAINT idempotency_receipt_answer_ck CHECK ((status_code IS NULL) = (response_body IS NULL))
);

CREATE INDEX idempotency_receipt_created_idx ON idempotency_receipt (created_at);
