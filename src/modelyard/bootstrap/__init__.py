"""Provisioning modelyard's PostgreSQL database, schema, roles and extensions from one spec."""
