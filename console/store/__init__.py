"""Historian and records: SQLAlchemy models, migrations, writer, queries.

SQLite (WAL) in the user's data directory by default; PostgreSQL through a URL.
"""
