-- Queries of identities: users, workspaces, memberships and API tokens (modelyard/auth/).

-- name: create_workspace
INSERT INTO workspace (name) VALUES (%(name)s)
RETURNING workspace_id, name, created_at

-- name: list_workspaces
SELECT workspace_id, name, created_at FROM workspace ORDER BY name

-- name: workspace_id
SELECT workspace_id FROM workspace WHERE name = %(name)s

-- name: create_user
INSERT INTO app_user (name, kind, is_admin) VALUES (%(name)s, %(kind)s, %(is_admin)s)
RETURNING user_id, name, kind, is_admin, created_at

-- name: list_users
SELECT user_id, name, kind, is_admin, created_at FROM app_user ORDER BY name

-- name: visible_workspaces
-- The workspaces a caller may enter: all for a server admin (and with authentication off),
-- else those the user is a member of.
SELECT w.name FROM workspace w
WHERE %(all)s
   OR EXISTS (SELECT 1 FROM workspace_member m
              WHERE m.workspace_id = w.workspace_id AND m.user_id = %(user_id)s)
ORDER BY w.name

-- name: server_admin_exists
SELECT 1 AS found FROM app_user WHERE is_admin LIMIT 1

-- name: user_id
SELECT user_id FROM app_user WHERE name = %(name)s

-- name: add_member
-- Adding a member again changes the role: "members add" is how a role is changed.
INSERT INTO workspace_member (workspace_id, user_id, role)
VALUES (%(workspace_id)s, %(user_id)s, %(role)s)
ON CONFLICT ON CONSTRAINT workspace_member_pk DO UPDATE SET role = EXCLUDED.role
RETURNING role

-- name: remove_member
DELETE FROM workspace_member WHERE workspace_id = %(workspace_id)s AND user_id = %(user_id)s
RETURNING role

-- name: list_members
SELECT w.name AS workspace, u.name AS "user", m.role, m.created_at
FROM workspace_member m
JOIN workspace w ON w.workspace_id = m.workspace_id
JOIN app_user u ON u.user_id = m.user_id
WHERE %(workspace)s::text IS NULL OR w.name = %(workspace)s
ORDER BY w.name, u.name

-- name: create_token
INSERT INTO api_token (token_id, user_id, workspace_id, secret_sha256, expires_at)
VALUES (%(token_id)s, %(user_id)s, %(workspace_id)s, %(secret_sha256)s, %(expires_at)s)
RETURNING created_at

-- name: list_tokens
-- Never the hash: what is listed is what an admin needs to pick a token to revoke.
SELECT t.token_id, u.name AS "user", w.name AS workspace, t.kind, t.created_at, t.expires_at,
       t.revoked_at
FROM api_token t
JOIN app_user u ON u.user_id = t.user_id
LEFT JOIN workspace w ON w.workspace_id = t.workspace_id
WHERE %(user)s::text IS NULL OR u.name = %(user)s
ORDER BY t.created_at, t.token_id

-- name: revoke_token
-- Revoking twice keeps the first time; the row stays so `tokens list` shows what was revoked.
UPDATE api_token SET revoked_at = coalesce(revoked_at, now())
WHERE token_id = %(token_id)s
RETURNING token_id, revoked_at

-- name: authenticate
-- One round trip per request: the token, its user, the workspace the request asks for (the
-- header, else the token's own, else default) and the user's role there. No cache: a revoked
-- token fails on its next request.
-- A session ends with the token it was opened with (its parent): either revoked or expired is
-- the session revoked or expired.
SELECT t.secret_sha256, t.kind,
       (t.revoked_at IS NOT NULL OR p.revoked_at IS NOT NULL) AS revoked,
       (coalesce(t.expires_at <= now(), false) OR coalesce(p.expires_at <= now(), false))
           AS expired,
       u.user_id, u.name AS user_name, u.is_admin,
       t.workspace_id AS token_workspace_id,
       w.workspace_id, w.name AS workspace_name,
       m.role
FROM api_token t
JOIN app_user u ON u.user_id = t.user_id
LEFT JOIN api_token p ON p.token_id = t.parent_token_id
LEFT JOIN workspace w
       ON w.workspace_id = CASE
              WHEN %(workspace)s::text IS NOT NULL
                  THEN (SELECT x.workspace_id FROM workspace x WHERE x.name = %(workspace)s)
              ELSE coalesce(t.workspace_id, 1)
          END
LEFT JOIN workspace_member m ON m.workspace_id = w.workspace_id AND m.user_id = u.user_id
WHERE t.token_id = %(token_id)s

-- name: open_session
-- A browser's session, opened with the API token %(parent_token_id)s in the workspace the login
-- chose: it expires after %(hours)s hours, or with its parent if that comes first.
INSERT INTO api_token (token_id, user_id, workspace_id, secret_sha256, expires_at, kind,
                       parent_token_id)
SELECT %(token_id)s, p.user_id, %(workspace_id)s, %(secret_sha256)s,
       least(now() + make_interval(hours => %(hours)s), p.expires_at), 'session', p.token_id
FROM api_token p
WHERE p.token_id = %(parent_token_id)s
RETURNING expires_at

-- name: close_session
-- Logging out: the session is revoked (kept, like revoked tokens, for `tokens list`).
UPDATE api_token SET revoked_at = coalesce(revoked_at, now())
WHERE token_id = %(token_id)s AND kind = 'session'
