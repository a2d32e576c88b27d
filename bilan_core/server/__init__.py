"""The Bilan server (FastAPI): ingestion of the event format, keys, rate limit, reads over HTTP.

May import: the base modules, ``privacy``, ``store``, ``analytics`` and ``remote.wire_events``.
Never ``client``.
"""
