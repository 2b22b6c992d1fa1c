"""coronerd, the object store: ingest snapshots, group them by fingerprint, answer queries.

Layout: ``app.py`` wires the FastAPI app; ``routes/`` has one module per resource; ``ingest``
(decode + store one upload), ``grouping`` (fingerprint → group, states, sampling, merges),
``query`` (the query language compiled to SQL), ``blobs`` (local directory or S3), ``db/``
(tables, engine, Alembic migrations), ``auth`` (hashed tokens), ``retention``.
"""
