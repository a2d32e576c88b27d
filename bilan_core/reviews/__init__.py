"""Team review sessions above the store: which recorded turns a session rates, and its tables as frames.

May import: the base modules, ``store``, ``prompts`` and ``analytics``. The tables, handout and
rating writes are in ``store.reviews`` and its siblings; the ``ReviewSession`` handle is in
``client.review_calls``.
"""
