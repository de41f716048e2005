-- UI sessions: a browser that logs in with an API token gets a session token of its own (a row
-- of api_token of kind 'session', expiring within hours), so the API token never sits in a
-- cookie and logging out revokes only that browser's session. A session names the token it was
-- opened with: revoking or expiring that token ends its sessions on their next request.
ALTER TABLE api_token
    ADD COLUMN kind text NOT NULL DEFAULT 'api',
    ADD COLUMN parent_token_id text,
    ADD CONSTRAINT api_token_kind_ck CHECK (kind IN ('api', 'session')),
    ADD CONSTRAINT api_token_parent_fk FOREIGN KEY (parent_token_id)
        REFERENCES api_token (token_id) ON DELETE CASCADE,
    ADD CONSTRAINT api_token_session_ck CHECK (
        (kind = 'session') = (parent_token_id IS NOT NULL)
        AND (kind = 'api' OR expires_at IS NOT NULL));
CREATE INDEX api_token_parent_ix ON api_token (parent_token_id) WHERE parent_token_id IS NOT NULL;
