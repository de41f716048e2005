-- Queries of `modelyard db bootstrap` (modelyard/bootstrap/). The DDL templates hold `{name}`
-- placeholders that only psycopg.sql.Identifier, sql.Literal or fixed keywords fill in: DDL takes
-- no bind parameters.

-- name: whoami
-- Who bootstraps, and whether they may give a role BYPASSRLS: a superuser may; from
-- PostgreSQL 16 on, so may a CREATEROLE role that has BYPASSRLS itself.
SELECT current_user::text, rolsuper,
       rolsuper OR (rolbypassrls AND current_setting('server_version_num')::int >= 160000)
FROM pg_catalog.pg_roles WHERE rolname = current_user

-- name: roles
SELECT rolname::text, rolcanlogin, rolconnlimit, rolsuper, rolcreatedb, rolcreaterole,
       rolreplication, rolbypassrls, coalesce(rolconfig, '{}')
FROM pg_catalog.pg_roles
WHERE rolname = ANY(%s)

-- name: role_config
SELECT coalesce(rolconfig, '{}') FROM pg_catalog.pg_roles WHERE rolname = %s

-- name: role_password
-- Only superusers can read pg_authid; callers ask only when they are one.
SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = %s

-- name: role_oid
SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s

-- name: is_member
SELECT pg_catalog.pg_has_role(current_user, %s, 'USAGE')

-- name: database
SELECT pg_catalog.pg_get_userbyid(datdba)::text, pg_catalog.pg_encoding_to_char(encoding)::text,
       datconnlimit
FROM pg_catalog.pg_database
WHERE datname = %s

-- name: schema_owner
SELECT pg_catalog.pg_get_userbyid(nspowner)::text FROM pg_catalog.pg_namespace WHERE nspname = %s

-- name: available_extensions
SELECT name::text FROM pg_catalog.pg_available_extensions WHERE name = ANY(%s)

-- name: installed_extension
SELECT n.nspname::text, e.extversion
FROM pg_catalog.pg_extension AS e
JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
WHERE e.extname = %s

-- name: privileges_of
-- Every privilege one grantee (an oid; 0 is PUBLIC) holds on the current database, on the schema,
-- on the tables, sequences and functions in it, and as default privileges there: one row each.
-- A NULL ACL means the built-in default (acldefault), so implicit grants show like explicit ones.
SELECT 'database' AS class, d.datname::text AS object, a.privilege_type
FROM pg_catalog.pg_database AS d
CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) AS a
WHERE d.datname = current_database() AND a.grantee = %(grantee)s
UNION ALL
SELECT 'schema', n.nspname::text, a.privilege_type
FROM pg_catalog.pg_namespace AS n
CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) AS a
WHERE n.nspname = %(schema)s AND a.grantee = %(grantee)s
UNION ALL
SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, c.relname::text,
       a.privilege_type
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(
    c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)
)) AS a
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
  AND a.grantee = %(grantee)s
UNION ALL
SELECT 'function', p.oid::regprocedure::text, a.privilege_type
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS a
WHERE n.nspname = %(schema)s AND p.prokind IN ('f', 'a', 'w') AND a.grantee = %(grantee)s
UNION ALL
SELECT CASE da.defaclobjtype WHEN 'r' THEN 'default table' WHEN 'S' THEN 'default sequence'
            WHEN 'f' THEN 'default function' ELSE 'default ' || da.defaclobjtype::text END,
       pg_catalog.pg_get_userbyid(da.defaclrole)::text, a.privilege_type
FROM pg_catalog.pg_default_acl AS da
JOIN pg_catalog.pg_namespace AS n ON n.oid = da.defaclnamespace
CROSS JOIN LATERAL pg_catalog.aclexplode(da.defaclacl) AS a
WHERE n.nspname = %(schema)s AND a.grantee = %(grantee)s

-- name: create_role
CREATE ROLE {role} WITH {login} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION {bypassrls}
    CONNECTION LIMIT {limit} PASSWORD {password}

-- name: alter_role
ALTER ROLE {role} WITH {options}

-- name: set_search_path
ALTER ROLE {role} SET search_path TO {schema}, public

-- name: create_database
CREATE DATABASE {database} WITH OWNER {owner} ENCODING {encoding} TEMPLATE {template}
    CONNECTION LIMIT {limit}

-- name: alter_database_owner
ALTER DATABASE {database} OWNER TO {owner}

-- name: alter_database_limit
ALTER DATABASE {database} WITH CONNECTION LIMIT {limit}

-- name: grant_membership
-- A non-superuser administrator (a managed service's master user) must be a member of the owner
-- to create the database for it and to set the owner's default privileges.
GRANT {role} TO CURRENT_USER

-- name: grant_admin_connect
-- ... and keeps CONNECT once PUBLIC loses it.
GRANT CONNECT ON DATABASE {database} TO CURRENT_USER

-- name: create_schema
CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {owner}

-- name: alter_schema_owner
ALTER SCHEMA {schema} OWNER TO {owner}

-- name: create_extension
CREATE EXTENSION IF NOT EXISTS {extension} WITH SCHEMA public

-- name: revoke_database
REVOKE ALL ON DATABASE {database} FROM {grantee}

-- name: grant_database
GRANT {privileges} ON DATABASE {database} TO {grantee}

-- name: revoke_schema
REVOKE ALL ON SCHEMA {schema} FROM {grantee}

-- name: grant_schema
GRANT {privileges} ON SCHEMA {schema} TO {grantee}

-- name: revoke_objects
REVOKE ALL ON ALL {objects} IN SCHEMA {schema} FROM {grantee}

-- name: grant_objects
GRANT {privileges} ON ALL {objects} IN SCHEMA {schema} TO {grantee}

-- name: revoke_defaults
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} REVOKE ALL ON {objects} FROM {grantee}

-- name: grant_defaults
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema}
    GRANT {privileges} ON {objects} TO {grantee}

-- name: runtime_lock
-- Held by the transaction that creates or reconciles a runtime role (bootstrap/runtime.py).
SELECT pg_advisory_xact_lock(hashtext('modelyard.runtime_role'))

-- name: serving_role
-- The role a server connects as, and how many things of its schema it owns, directly or through
-- a role it has the privileges of (owners and their members skip row-level security unless the
-- table FORCEs it): the schema itself, its relations, functions and stand-alone types.
SELECT r.rolname::text, r.rolsuper, r.rolbypassrls,
       (SELECT count(*) FROM pg_catalog.pg_namespace AS n
        WHERE n.nspname = %(schema)s AND pg_catalog.pg_has_role(r.oid, n.nspowner, 'USAGE'))
     + (SELECT count(*) FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE'))
     + (SELECT count(*) FROM pg_catalog.pg_proc AS p
        JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = %(schema)s AND pg_catalog.pg_has_role(r.oid, p.proowner, 'USAGE'))
     + (SELECT count(*) FROM pg_catalog.pg_type AS t
        JOIN pg_catalog.pg_namespace AS n ON n.oid = t.typnamespace
        WHERE n.nspname = %(schema)s AND t.typrelid = 0 AND t.typelem = 0
          AND pg_catalog.pg_has_role(r.oid, t.typowner, 'USAGE'))
FROM pg_catalog.pg_roles AS r
WHERE r.rolname = current_user

-- name: audit_append_only_exists
-- Whether the schema has the audit log yet (bootstrap usually runs before the first migration).
SELECT to_regprocedure(format('%%I.audit_append_only_v1()', %s::text)) IS NOT NULL

-- name: audit_append_only
-- The grants above gave every table to the read-write role again; audit rows stay append-only.
SELECT {schema}.audit_append_only_v1()
