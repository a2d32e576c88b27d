"""Server mode on the client side: the Bilan event format, the durable outbox, the server backend.

May import: the base modules, ``store`` and ``analytics``.
"""
