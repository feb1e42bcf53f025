"""A throwaway PostgreSQL cluster: temp dir, free port, trust auth; stop, crash, restart."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from .common import ServerError, find_binary, free_port, port_open, tail


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temp dir on a free port, trust auth, user ``postgres``."""

    def __init__(self, *, database: str = "ticket_triage_faults", timeout_s: float = 30.0) -> None:
        self.initdb = find_binary(["/usr/lib/postgresql/*/bin/initdb", "/usr/local/bin/initdb"], "initdb")
        self.pg_ctl = str(Path(self.initdb).with_name("pg_ctl"))
        self.database = database
        self.timeout_s = timeout_s
        self.port = free_port()
        self.base: Path | None = None
        self._as_postgres = os.geteuid() == 0

    @property
    def data_dir(self) -> Path:
        assert self.base is not None, "not created"
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        assert self.base is not None, "not created"
        return self.base / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or self.timeout_s)
        if done.returncode != 0:
            raise ServerError(f"{' '.join(args[:2])} failed ({done.returncode}): "
                              f"{done.stderr[-1500:]}\n{tail(self.log_file)}")
        return done

    def create(self) -> None:
        """initdb into a fresh temp dir (trust auth). ``fsync`` is off: only the PostgreSQL
        process is ever crashed, never the OS, so written WAL survives. ``synchronous_commit``
        stays on: with it off, a crash loses commits the clients were already told about."""
        self.base = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        if self._as_postgres:
            shutil.chown(self.base, "postgres")
        self._run(self.initdb, "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", timeout=120)
        conf = (f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.base}'\nfsync = off\n"
                "full_page_writes = off\nmax_connections = 300\n")
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write(conf)

    def start(self) -> None:
        if self.base is None:
            self.create()
        self._run(self.pg_ctl, "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                  "-t", str(int(self.timeout_s)), "start", timeout=self.timeout_s + 10)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                        dbname="postgres", connect_timeout=2)
            except psycopg2.OperationalError as exc:
                last = exc
                time.sleep(0.1)
                continue
            conn.autocommit = True
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                    if cur.fetchone() is None:
                        cur.execute(f'CREATE DATABASE "{self.database}"')
            finally:
                conn.close()
            return
        raise ServerError(f"PostgreSQL on {self.port} not ready after {self.timeout_s}s: {last}"
                          f"\n{tail(self.log_file)}")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` (clean) or ``-m immediate`` (a crash: no checkpoint)."""
        if self.running:
            self._run(self.pg_ctl, "-D", str(self.data_dir), "-m", mode, "-w",
                      "-t", str(int(self.timeout_s)), "stop", timeout=self.timeout_s + 10)

    def kill(self) -> None:
        """Crash-stop: every backend dies at once; the next start runs crash recovery."""
        self.stop(mode="immediate")

    def crash(self) -> None:
        """SIGKILL the postmaster and every backend at once (``kill()`` still lets the
        postmaster shut down): nothing flushes, no client gets a goodbye. The stale pid file
        is removed so that ``start()`` may run crash recovery later."""
        self._signal_cluster(signal.SIGKILL)
        deadline = time.monotonic() + self.timeout_s
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        if port_open(self.port):
            raise ServerError(f"PostgreSQL on {self.port} still answers after SIGKILL")
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)

    def configure(self, **settings: str | None) -> None:
        """``ALTER SYSTEM SET`` each setting (``None``: back to the default), then reload: for
        the settings a reload applies (``fsync``, ``commit_delay``, ...)."""
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname="postgres", connect_timeout=5)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for name, value in settings.items():
                    if not name.isidentifier():
                        raise ValueError(f"not a setting name: {name!r}")
                    if value is None:
                        cur.execute(f"ALTER SYSTEM RESET {name}")
                    else:
                        cur.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
                cur.execute("SELECT pg_reload_conf()")
        finally:
            conn.close()

    def busy_committing(self, application_suffix: str) -> int:
        """How many sessions whose ``application_name`` ends with ``application_suffix`` are
        executing a COMMIT right now."""
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname="postgres", connect_timeout=5)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                            "AND application_name LIKE %s AND query ILIKE 'commit%%'",
                            (f"%{application_suffix}",))
                row = cur.fetchone()
                return int(row[0]) if row else 0
        finally:
            conn.close()

    def freeze(self) -> None:
        """SIGSTOP the postmaster, then every backend: sessions hang mid-statement, mid-commit
        or between statements, and sockets stay open (a hung database)."""
        self._signal_cluster(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal_cluster(signal.SIGCONT)

    def _signal_cluster(self, sig: int) -> None:
        # Each backend calls setsid(), so there is no process group to signal: the postmaster
        # goes first (a stopped postmaster forks no new backend), then its children.
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        for pid in [postmaster, *_children(postmaster)]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        return self.base is not None and (self.data_dir / "postmaster.pid").exists()

    def ensure_running(self) -> None:
        if self.running:
            self.thaw()
        if not port_open(self.port):
            if self.running:
                self.stop("immediate")
            self.start()

    def destroy(self) -> None:
        try:
            if self.running:
                self.thaw()
            self.stop("immediate")
        finally:
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)
                self.base = None

    def __enter__(self) -> "ThrowawayPostgres":
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()


def _children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found
