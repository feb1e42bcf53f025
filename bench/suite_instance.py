"""A private suite instance for the bench: every process on free ports, own schemas, exchange
and queue prefix (like tests/e2e), so a bench never touches a suite someone else runs."""
from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from support_shared.db import ensure_database
from support_shared.suite import Suite, migrate_all
from support_shared.testing.helpers import unique_suffix
from support_shared.testing.isolated import isolated_env, remove_isolated

logger = logging.getLogger(__name__)

DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/ticket_triage_bench"


def bench_env(suffix: str, database_url: str, overrides: dict[str, str]) -> dict[str, str]:
    """The environment of every process: isolated names, free ports, no rate limit, no Claude.

    ``overrides`` (the levers: WEB_WORKERS, PREFETCH_COUNT, ...) are applied last.
    """
    # One key sends every request of the bench: the limit is not what is measured.
    return isolated_env(suffix, database_url, LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
                        GATEWAY_RATE_LIMIT="100000000/minute", **overrides)


@dataclass
class SuiteInstance:
    """Started by ``start()``, removed (processes, schemas, broker objects) by ``stop()``."""

    work_dir: Path
    overrides: dict[str, str]
    database_url: str = DATABASE_URL
    # process name -> command run instead (a patched process under test), same environment
    replace: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.suffix = "bench" + unique_suffix()
        self.env = bench_env(self.suffix, self.database_url, self.overrides)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for old in (self.work_dir / "logs").glob("*.log"):
            old.unlink()
        ensure_database(self.database_url)
        migrate_all(self.env)
        self.suite = Suite(env=self.env, log_dir=self.work_dir / "logs")
        self.suite.start()
        for name, command in self.replace.items():
            self._replace(name, command)
        self.pids_file.write_text(json.dumps(
            [{"name": n, "pid": p.pid, "cmdline": " ".join(p.args)}
             for n, p in self.suite.procs.items()], indent=1))
        took = self.suite.wait_healthy(timeout=120)
        logger.info("private suite %s healthy after %.1fs on %s", self.suffix, took, self.base_url)
        self.key = self._dev_key()

    def _replace(self, name: str, command: str) -> None:
        """Stop process ``name`` and start ``command`` in its place (its own process group,
        so ``Suite.stop`` ends it like the others)."""
        old = self.suite.procs[name]
        os.killpg(old.pid, signal.SIGTERM)
        old.wait(timeout=15)
        with open(self.work_dir / "logs" / f"{name}.log", "ab") as out:
            self.suite.procs[name] = subprocess.Popen(
                shlex.split(command), env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        logger.info("%s replaced by: %s", name, command)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['GATEWAY_PORT']}"

    @property
    def pids_file(self) -> Path:
        return self.work_dir / "suite.json"

    def _dev_key(self) -> str | None:
        """An admin key of tenant "default", the way ``make up`` provisions one."""
        path = self.work_dir / "dev-api-key"
        ticketctl = str(Path(sys.executable).parent / "ticketctl")
        result = subprocess.run([ticketctl, "keys", "ensure-dev", "--file", str(path)],
                                env=self.env, timeout=60, capture_output=True, text=True)
        if result.returncode != 0:
            logger.warning("no API key provisioned (ticketctl keys ensure-dev: %s)",
                           (result.stderr or result.stdout).strip()[-300:])
            return None
        return path.read_text().strip()

    def stop(self) -> None:
        try:
            self.suite.stop()
        finally:
            remove_isolated(self.env, self.database_url, self.suffix)
            logger.info("private suite %s stopped and removed", self.suffix)
