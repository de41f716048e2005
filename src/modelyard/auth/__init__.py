"""Who may do what: identities, API tokens, and the permission every route declares.

``access`` holds the permission levels and how routes declare them (the server's ``guard``
enforces them on every mounted route, and a route with no declaration refuses every request);
``credentials`` turns a request's ``Authorization`` header into a :class:`~modelyard.auth.caller.
Caller`; ``tokens`` makes and checks API tokens; ``admin`` is what ``modelyard users``,
``workspaces``, ``members`` and ``tokens`` run on the database.
"""
