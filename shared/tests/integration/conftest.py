"""Fixtures of the shared library's integration tests: a service schema with its own outbox
and inbox (the tables every service migration creates)."""
import pytest
import sqlalchemy as sa

from support_shared.config import ServiceSettings
from support_shared.db import make_engine
from support_shared.inbox import metadata as inbox_metadata
from support_shared.outbox import metadata as outbox_metadata


@pytest.fixture
def settings(make_settings):
    return make_settings(ServiceSettings, schema="shared")


@pytest.fixture
def engine(settings):
    """An engine on a new schema (``settings.db_schema``) holding an outbox and an inbox."""
    admin = make_engine(settings.database_url, "public")
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{settings.db_schema}"'))
    admin.dispose()
    eng = make_engine(settings.database_url, settings.db_schema)
    outbox_metadata.create_all(eng)
    inbox_metadata.create_all(eng)
    yield eng
    eng.dispose()
