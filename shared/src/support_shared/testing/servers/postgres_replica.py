"""A throwaway PostgreSQL primary with a synchronous streaming standby, for failover tests.

    with ThrowawayPostgresPair() as pair:
        env = {"DATABASE_URL": pair.url}   # both hosts, target_session_attrs=read-write
        pair.primary.crash()               # SIGKILL the postmaster and every backend
        pair.promote()                     # the standby becomes the primary

The standby is a ``pg_basebackup -R`` of the primary (it writes ``primary_conninfo`` and
``standby.signal``); the primary names it in ``synchronous_standby_names``, so a COMMIT
returns only once the standby has flushed its WAL: a ticket that got a 2xx survives the loss
of the primary. initdb's ``pg_hba.conf`` already trusts replication from 127.0.0.1.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import psycopg2

from .common import ServerError, tail
from .postgres import ThrowawayPostgres

STANDBY_NAME = "faults_standby"


class ThrowawayStandby(ThrowawayPostgres):
    """A streaming standby of ``primary``: a base backup instead of initdb."""

    def __init__(self, primary: ThrowawayPostgres, **kw: object) -> None:
        super().__init__(database=primary.database, **kw)  # type: ignore[arg-type]
        self.primary = primary

    def create(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="faults-pg-standby-"))
        if self._as_postgres:
            shutil.chown(self.base, "postgres")
        basebackup = str(Path(self.initdb).with_name("pg_basebackup"))
        self._run(basebackup, "-D", str(self.data_dir), "-h", "127.0.0.1",
                  "-p", str(self.primary.port), "-U", "postgres", "-R", "-X", "stream",
                  "--no-sync", timeout=120)
        conninfo = (f"host=127.0.0.1 port={self.primary.port} user=postgres "
                    f"application_name={STANDBY_NAME}")
        # Appended last, so these win over the primary's copied postgresql.conf lines.
        with open(self.data_dir / "postgresql.auto.conf", "a") as fh:
            fh.write(f"primary_conninfo = '{conninfo}'\n")
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write(f"port = {self.port}\nunix_socket_directories = '{self.base}'\n")

    def promote(self) -> None:
        """``pg_ctl promote``, waiting until it accepts writes."""
        self._run(self.pg_ctl, "-D", str(self.data_dir), "-w", "-t", str(int(self.timeout_s)),
                  "promote", timeout=self.timeout_s + 10)


class ThrowawayPostgresPair:
    """A primary and its synchronous standby; ``url`` names both hosts, read-write only."""

    def __init__(self, *, database: str = "ticket_triage_failover") -> None:
        self.primary = ThrowawayPostgres(database=database)
        self.standby = ThrowawayStandby(self.primary)

    @property
    def url(self) -> str:
        hosts = "&".join(f"host=127.0.0.1:{pg.port}" for pg in (self.primary, self.standby))
        return (f"postgresql+psycopg2://postgres@/{self.primary.database}?{hosts}"
                "&target_session_attrs=read-write")

    def start(self) -> None:
        self.primary.start()                      # creates the database the standby copies
        self.standby.start()
        self.primary.configure(synchronous_standby_names=STANDBY_NAME)
        self.wait_synchronous()

    def wait_synchronous(self, timeout_s: float = 60.0) -> None:
        """Until the primary reports the standby streaming as ``sync``."""
        deadline = time.monotonic() + timeout_s
        state = None
        while time.monotonic() < deadline:
            conn = psycopg2.connect(host="127.0.0.1", port=self.primary.port, user="postgres",
                                    dbname="postgres", connect_timeout=5)
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT sync_state FROM pg_stat_replication "
                                "WHERE application_name = %s", (STANDBY_NAME,))
                    row = cur.fetchone()
                    state = row[0] if row else None
            finally:
                conn.close()
            if state == "sync":
                return
            time.sleep(0.2)
        raise ServerError(f"standby not synchronous after {timeout_s}s ({state})"
                          f"\n{tail(self.standby.log_file)}")

    def promote(self) -> None:
        self.standby.promote()

    def destroy(self) -> None:
        try:
            self.standby.destroy()
        finally:
            self.primary.destroy()

    def __enter__(self) -> "ThrowawayPostgresPair":
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

