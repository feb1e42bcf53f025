"""PostgreSQL engines bound to one service schema, the unit of work, and Alembic runs."""
from __future__ import annotations

import contextlib
import contextvars
import logging
import re
from importlib import resources
from typing import Any, Iterator

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection, Engine

from .inbox import Inbox
from .outbox import Outbox

logger = logging.getLogger(__name__)

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


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
) -> Engine:
    """Engine whose connections see only ``schema`` (then ``public``) on their search path."""
    check_schema_name(schema)
    options = f"-csearch_path={schema},public -cstatement_timeout={statement_timeout_ms}"
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={"options": options, "connect_timeout": connect_timeout_s},
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


# (engine, connection) of the batch transaction open in this context, if any.
_shared_transaction: contextvars.ContextVar[tuple[Engine, Connection] | None] = (
    contextvars.ContextVar("shared_transaction", default=None))


@contextlib.contextmanager
def shared_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that every ``UnitOfWork`` on ``engine`` opened inside joins.

    Each unit of work becomes a SAVEPOINT in it: its ``commit()`` releases the savepoint and
    leaving it uncommitted rolls back only its own changes. Everything becomes durable at
    once when this block ends without an error (a consumer batch: one commit, one WAL flush,
    for many messages); an error rolls all of it back.
    """
    with engine.connect() as conn:
        with conn.begin():
            token = _shared_transaction.set((engine, conn))
            try:
                yield conn
            finally:
                _shared_transaction.reset(token)


class UnitOfWork:
    """One transaction on one connection; rolls back unless ``commit()`` was called.

    Subclasses add their repositories in ``_start(conn)``. ``outbox`` and ``inbox`` write in
    the same transaction as the business change, so state and events commit together.
    Inside ``shared_transaction(engine)`` it is a savepoint of that transaction instead.
    """

    def __init__(self, engine: Engine, *, consumer: str = "", notify_channel: str | None = None):
        self.engine = engine
        self.consumer = consumer
        self.notify_channel = notify_channel
        self.conn: Connection | None = None
        self._committed = False
        self._savepoint: Any = None

    def __enter__(self) -> Any:
        shared = _shared_transaction.get()
        if shared is not None and shared[0] is self.engine:
            self.conn = shared[1]
            self._savepoint = self.conn.begin_nested()
        else:
            self.conn = self.engine.connect()
            self.conn.begin()
            self._savepoint = None
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
        else:
            self.conn.commit()
        self._committed = True

    def rollback(self) -> None:
        if self._savepoint is not None:
            if self._savepoint.is_active:
                self._savepoint.rollback()
        elif self.conn is not None:
            self.conn.rollback()

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._committed:
                self.rollback()
        finally:
            if self.conn is not None and self._savepoint is None:
                self.conn.close()
            self.conn = None
            self._savepoint = None
