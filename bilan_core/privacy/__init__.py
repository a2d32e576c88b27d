"""Privacy: the capture levels and the redaction of personal data and secrets, applied before storage.

May import: the base modules (``errors``, ``clock``, ``limits``, ``version``). Nothing above: the
settings validate ``BILAN_CAPTURE`` and ``BILAN_REDACT_PATTERNS`` with it, the client applies the
client's level before the local database or the outbox, and the server applies a project's maximum
level before its ingestion stores anything.
"""
