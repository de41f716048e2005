"""Webhooks: the event vocabulary, URL safety, secrets and signatures, and the dispatcher.

Events are written by triggers into the outbox (``sql/schema.sql``, docs/design.md); this package
delivers them. See docs/webhooks.md.
"""
