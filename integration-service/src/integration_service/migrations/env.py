"""Alembic environment: run in the connection and schema ``support_shared.db.migrate`` passes."""
from support_shared.db import run_migrations_online

run_migrations_online()
