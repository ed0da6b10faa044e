"""The SQLModel tables, one module per part of the app. Import them from `store.models`, which
gathers every table: Alembic's env.py imports it to see them all."""
