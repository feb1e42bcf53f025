"""PostgreSQL engines bound to one service schema, the unit of work, and Alembic runs."""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import re
from importlib import resources
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .inbox import Inbox
from .outbox import Outbox

logger = logging.getLogger(__name__)

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def row_of(entity: Any, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """A flat dataclass's fields as statement parameters. Not ``dataclasses.asdict``, which
    deep-copies every value (a third of a consumer's statement building in its profile)."""
    return {f.name: getattr(entity, f.name) for f in dataclasses.fields(entity)
            if f.name not in without}


def check_schema_name(schema: str) -> str:
    """Reject anything but a plain lower-case identifier (schema names end up in DDL)."""
    if not _SCHEMA_RE.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def make_engine(
    url: str,
    schema: str,
    *,
    pool_size: int = 5,
    statement_timeout_ms: int = 5000,
    connect_timeout_s: int = 3,
    application_name: str | None = None,
) -> Engine:
    """Engine whose connections see only ``schema`` (then ``public``) on their search path.

    ``application_name`` names the process in ``pg_stat_activity`` (``routing-service-consumer``).
    """
    check_schema_name(schema)
    options = f"-csearch_path={schema},public -cstatement_timeout={statement_timeout_ms}"
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={"options": options, "connect_timeout": connect_timeout_s,
                      **({"application_name": application_name} if application_name else {})},
    )


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if the server does not have it yet."""
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            )
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
                logger.info("created database %s", target.database)
    finally:
        admin.dispose()


def migrate(engine: Engine, schema: str, package: str) -> None:
    """Apply ``package``'s Alembic migrations (``<package>/migrations``) inside ``schema``."""
    # Imported here: only ``migrate`` needs Alembic (and Mako), 8 MB in every process else.
    from alembic import command
    from alembic.config import Config as AlembicConfig

    check_schema_name(schema)
    script_location = str(resources.files(package) / "migrations")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", script_location)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["schema"] = schema
        command.upgrade(cfg, "head")
    logger.info("schema %s migrated to head", schema)


def run_migrations_online() -> None:
    """Body of every service's ``migrations/env.py``: run in the connection ``migrate`` passed."""
    from alembic import context

    conn: Connection = context.config.attributes["connection"]
    schema: str = context.config.attributes["schema"]
    conn.execute(sa.text(f'SET LOCAL search_path TO "{schema}", public'))
    context.configure(connection=conn, version_table_schema=schema, transaction_per_migration=False)
    with context.begin_transaction():
        context.run_migrations()


def drop_schema(engine: Engine, schema: str) -> None:
    check_schema_name(schema)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


class SharedTransaction:
    """The batch transaction open in this context: its connection and how units of work join.

    With ``savepoints`` each unit of work is a SAVEPOINT of it. Without them (an optimistic
    batch) units of work simply run in it; one that leaves uncommitted after writing marks
    the batch ``dirty``, because its writes cannot be undone alone: the caller must then roll
    the whole batch back and run it again with savepoints.
    """

    def __init__(self, engine: Engine, conn: Connection, savepoints: bool) -> None:
        self.engine = engine
        self.conn = conn
        self.savepoints = savepoints
        self.dirty = False


_shared_transaction: contextvars.ContextVar[SharedTransaction | None] = (
    contextvars.ContextVar("shared_transaction", default=None))
_WRITES = "support_shared.writes"   # connection.info key: statements other than SELECT so far


def _count_writes(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    if not statement.lstrip()[:6].upper().startswith("SELECT"):
        conn.info[_WRITES] = conn.info.get(_WRITES, 0) + 1


def _writes(conn: Connection) -> int:
    return int(conn.info.get(_WRITES, 0))


@contextlib.contextmanager
def shared_transaction(engine: Engine, *, savepoints: bool = True) -> Iterator[SharedTransaction]:
    """One transaction that every ``UnitOfWork`` on ``engine`` opened inside joins.

    With ``savepoints`` (the default) each unit of work becomes a SAVEPOINT in it: its
    ``commit()`` releases the savepoint and leaving it uncommitted rolls back only its own
    changes. Without them, units of work share the transaction as it is (two round trips
    fewer each) and one leaving uncommitted after a write sets ``dirty`` (see
    ``SharedTransaction``). Everything becomes durable at once when this block ends without
    an error (a consumer batch: one commit, one WAL flush, for many messages); an error rolls
    all of it back.
    """
    if not savepoints and not sa.event.contains(engine, "before_cursor_execute", _count_writes):
        sa.event.listen(engine, "before_cursor_execute", _count_writes)
    with engine.connect() as conn:
        with conn.begin():
            shared = SharedTransaction(engine, conn, savepoints)
            token = _shared_transaction.set(shared)
            try:
                yield shared
            finally:
                _shared_transaction.reset(token)


class UnitOfWork:
    """One transaction on one connection; rolls back unless ``commit()`` was called.

    Subclasses add their repositories in ``_start(conn)``. ``outbox`` and ``inbox`` write in
    the same transaction as the business change, so state and events commit together.
    Inside ``shared_transaction(engine)`` it is a savepoint of that transaction instead, or,
    in an optimistic batch, simply part of it.
    """

    def __init__(self, engine: Engine, *, consumer: str = "", notify_channel: str | None = None):
        self.engine = engine
        self.consumer = consumer
        self.notify_channel = notify_channel
        self.conn: Connection | None = None
        self._committed = False
        self._savepoint: Any = None
        self._joined: SharedTransaction | None = None  # an optimistic batch, no savepoint
        self._writes_before = 0

    def __enter__(self) -> Any:
        shared = _shared_transaction.get()
        self._savepoint = self._joined = None
        if shared is not None and shared.engine is self.engine:
            self.conn = shared.conn
            if shared.savepoints:
                self._savepoint = self.conn.begin_nested()
            else:
                self._joined = shared
                self._writes_before = _writes(self.conn)
        else:
            self.conn = self.engine.connect()
            self.conn.begin()
        self._committed = False
        self.outbox = Outbox(self.conn, self.notify_channel)
        self.inbox = Inbox(self.conn, self.consumer)
        self._start(self.conn)
        return self

    def _start(self, conn: Connection) -> None:
        """Attach repositories bound to ``conn``."""

    def commit(self) -> None:
        assert self.conn is not None
        if self._savepoint is not None:
            self._savepoint.commit()
        elif self._joined is None:
            self.conn.commit()
        self._committed = True   # joined: durable when the shared transaction commits

    def rollback(self) -> None:
        if self._savepoint is not None:
            if self._savepoint.is_active:
                self._savepoint.rollback()
        elif self._joined is not None:
            if self.conn is not None and _writes(self.conn) > self._writes_before:
                self._joined.dirty = True   # only the whole batch can undo these writes
        elif self.conn is not None:
            self.conn.rollback()

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._committed:
                self.rollback()
        finally:
            if self.conn is not None and self._savepoint is None and self._joined is None:
                self.conn.close()
            self.conn = None
            self._savepoint = self._joined = None
