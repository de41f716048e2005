"""Artifact storage: one streaming interface, three backends (PostgreSQL, a directory, S3)."""
