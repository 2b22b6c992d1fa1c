"""The store's database: tables (``models``), engines (``engine``) and Alembic migrations."""
