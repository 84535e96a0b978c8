"""Alembic migrations of the server's schema (applied on start)."""
