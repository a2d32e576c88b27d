"""The store: tables, engines, migrations, and one module of reads and writes per entity.

May import: the base modules (``errors``, ``clock``, ``limits``, ``settings``). Nothing above.
Every SQL statement that writes turns, votes and conversations lives here, shared by local mode
and the server's ingestion.
"""
