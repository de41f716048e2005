"""Connections to PostgreSQL: conninfo building, the async pool, migrations, error translation."""
