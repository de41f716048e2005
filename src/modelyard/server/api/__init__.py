"""modelyard's own REST API, ``/api/v1``: one module per resource, each exporting ``routes``."""
