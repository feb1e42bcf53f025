"""One statement per batch (``support_shared.bulk``) against the real PostgreSQL: every column
type the services write, NULLs included, comes back as written; an upsert replaces, an update
touches only its keys' rows."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from support_shared.bulk import bulk_update, bulk_upsert

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)

metadata = sa.MetaData()
things = sa.Table(
    "bulk_things", metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.Text),
    sa.Column("count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("score", sa.Float),
    sa.Column("flag", sa.Boolean),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("ref", pg.UUID(as_uuid=True)),
    sa.Column("doc", pg.JSONB),
    sa.Column("tags", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
)


def _row(i: int, **changes):
    row = {"tenant_id": "acme", "id": i, "name": f"it's #{i}", "count": i, "score": i / 3,
           "flag": i % 2 == 0, "at": T0 + timedelta(minutes=i), "ref": uuid.UUID(int=i),
           "doc": {"n": i, "nested": ["a", {"b": None}]}, "tags": ["x", 'quo"te', "com,ma"]}
    row.update(changes)
    return row


@pytest.fixture
def conn(engine):
    metadata.create_all(engine)
    with engine.connect() as connection:
        yield connection


def _all(conn):
    rows = conn.execute(sa.select(things).order_by(things.c.tenant_id, things.c.id)).mappings()
    return [dict(r) for r in rows]


def test_an_upsert_round_trips_every_type_and_replaces_on_its_key(conn):
    upsert = bulk_upsert(things, key=("tenant_id", "id"))
    empty = _row(3, name=None, score=None, flag=None, at=None, ref=None, doc=None, tags=[])
    upsert.execute(conn, [_row(1), _row(2), empty])
    upsert.execute(conn, [_row(2, name="replaced", tags=["only"], doc=[1, 2]),
                          _row(4, tenant_id="other")])
    conn.commit()

    assert _all(conn) == [_row(1), _row(2, name="replaced", tags=["only"], doc=[1, 2]), empty,
                          _row(4, tenant_id="other")]


def test_an_update_writes_only_its_columns_and_its_keys_rows(conn):
    bulk_upsert(things, key=("tenant_id", "id")).execute(conn, [_row(1), _row(2), _row(3)])
    update = bulk_update(things, key=("tenant_id", "id"), columns=("name", "tags", "at"))
    result = update.execute(conn, [
        {"tenant_id": "acme", "id": 1, "name": "one", "tags": [], "at": None},
        {"tenant_id": "acme", "id": 3, "name": None, "tags": ["t"], "at": T0},
        {"tenant_id": "other", "id": 2, "name": "not here", "tags": [], "at": None}])
    conn.commit()

    assert result is not None and result.rowcount == 2
    assert _all(conn) == [_row(1, name="one", tags=[], at=None), _row(2),
                          _row(3, name=None, tags=["t"], at=T0)]


def test_no_rows_send_no_statement(conn):
    assert bulk_upsert(things, key=("tenant_id", "id")).execute(conn, []) is None


def test_an_array_of_anything_but_text_is_refused():
    numbers = sa.Table("bulk_numbers", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("values", pg.ARRAY(sa.Integer)))
    with pytest.raises(ValueError, match="ARRAY"):
        bulk_upsert(numbers, key=("id",))


def test_a_repeated_key_leaves_what_row_by_row_would(conn):
    upsert = bulk_upsert(things, key=("tenant_id", "id"))
    upsert.execute(conn, [_row(1), _row(1, name="second"), _row(2)])
    conn.commit()
    assert [r["name"] for r in _all(conn)] == ["second", "it's #2"]


def test_a_combining_upsert_refuses_a_repeated_key_and_keeps_its_own_set(conn):
    keep_max = bulk_upsert(things, key=("tenant_id", "id"), columns=("tenant_id", "id", "count"),
                           set_={"count": "greatest(bulk_things.count, excluded.count)"})
    keep_max.execute(conn, [{"tenant_id": "acme", "id": 1, "count": 5}])
    keep_max.execute(conn, [{"tenant_id": "acme", "id": 1, "count": 3},
                            {"tenant_id": "acme", "id": 2, "count": 1}])
    with pytest.raises(ValueError, match="repeat a key"):
        keep_max.execute(conn, [{"tenant_id": "acme", "id": 1, "count": 9}] * 2)
    skip = bulk_upsert(things, key=("tenant_id", "id"), columns=("tenant_id", "id", "name"),
                       do_nothing=True)
    skip.execute(conn, [{"tenant_id": "acme", "id": 1, "name": "ignored"},
                        {"tenant_id": "acme", "id": 3, "name": "first"},
                        {"tenant_id": "acme", "id": 3, "name": "new"}])
    conn.commit()
    assert [(r["id"], r["count"], r["name"]) for r in _all(conn)] == [
        (1, 5, None), (2, 1, None), (3, 0, "first")]
