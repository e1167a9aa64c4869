"""Alembic migrations of the gateway's database, run by :meth:`Store.migrate`."""
