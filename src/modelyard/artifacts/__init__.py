"""Artifact storage: one streaming interface, three backends (PostgreSQL, a directory, S3).

``paths`` and ``location`` are pure (the client imports them without psycopg); ``store`` holds
``ArtifactStore`` (the index over a backend) and ``open_backend`` (a backend from a store URL).
"""
