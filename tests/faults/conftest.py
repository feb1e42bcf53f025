"""The whole suite on throwaway PostgreSQL and RabbitMQ servers that tests may stop, kill or freeze.

The machine's shared servers are never touched: one ``ThrowawayPostgres`` and one
``ThrowawayRabbit`` per session, and one suite on them (its own schemas, exchange and queue
prefix) shared by the tests to save its start-up. Before each test the servers and every
process are brought back, whatever the previous test did, and everything is drained; tests
audit only what they created (``suite.baseline()``). Each test records one line of figures,
printed at the end of the run ("faults: <name> sent=... lost=... duplicated=...").
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from support_shared.manifest import SUITE
from support_shared.suite import Suite, migrate_all
from support_shared.testing.helpers import unique_suffix
from support_shared.testing.pipeline import FaultDriver
from support_shared.testing.isolated import isolated_env
from support_shared.testing.servers import (ServerUnavailable, ThrowawayPostgres,
                                            ThrowawayPostgresPair, ThrowawayRabbit,
                                            ThrowawayRabbitCluster)

FIGURES: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: kills and restarts throwaway servers and processes")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("fault figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


def _or_skip(factory: Callable[[], Any]) -> Any:
    """Build a throwaway server; without its binaries skip locally, fail in CI."""
    try:
        return factory()
    except ServerUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    with _or_skip(ThrowawayPostgres) as pg:
        yield pg


@pytest.fixture(scope="session")
def throwaway_rabbit() -> Iterator[ThrowawayRabbit]:
    with _or_skip(lambda: ThrowawayRabbit(timeout_s=180)) as rabbit:   # a busy machine boots slowly
        yield rabbit


def suite_env(suffix: str, database_url: str, rabbitmq_url: str) -> dict[str, str]:
    env = isolated_env(suffix, database_url, rabbitmq_url, LOG_FORMAT="text", WEB_WORKERS="1",
                       GATEWAY_RATE_LIMIT="1000000/minute", GATEWAY_AUTH_CACHE_TTL_S="60",
                       **{f"{s.env_prefix}RELAY_POLL_SECONDS": "0.5" for s in SUITE.with_schema})
    # The throwaway broker only: a RABBITMQ_* variable of the machine must not leak in.
    for name in [k for k in env if k.startswith("RABBITMQ_") and k != "RABBITMQ_URL"]:
        del env[name]
    return env


def provision_key(env: dict[str, str], path: Path) -> str | None:
    """A development admin key (``ticketctl keys ensure-dev``), or None before API keys exist."""
    ticketctl = str(Path(sys.executable).parent / "ticketctl")
    done = subprocess.run([ticketctl, "keys", "ensure-dev", "--file", str(path)], env=env,
                          timeout=60, capture_output=True, text=True)
    if done.returncode == 2 and "No such command" in done.stderr:
        return None
    assert done.returncode == 0, done.stderr
    return path.read_text().strip()


@contextlib.contextmanager
def started_suite(database_url: str, rabbitmq_url: str, tmp: Path,
                  **extra_env: str) -> Iterator[FaultDriver]:
    """A whole suite (own schemas, exchange and queue prefix) on the given servers."""
    env = {**suite_env(unique_suffix(), database_url, rabbitmq_url), **extra_env}
    migrate_all(env)
    suite = Suite(env=env, log_dir=tmp / "logs")
    suite.start()
    driver = FaultDriver(suite, database_url, rabbitmq_url)
    try:
        try:
            suite.wait_healthy(timeout=240)   # a busy machine: start-up can take minutes
        except RuntimeError:
            for name, text in driver.logs().items():
                sys.stdout.write(f"==== {name}\n{text[-2500:]}\n")
            raise
        key = provision_key(env, tmp / "dev-api-key")
        if key:
            driver.http.headers["Authorization"] = f"Bearer {key}"
        yield driver
    finally:
        driver.revive()  # stops the extra processes
        suite.stop(grace=5)
        driver.close()


@pytest.fixture(scope="session")
def running(throwaway_pg: ThrowawayPostgres, throwaway_rabbit: ThrowawayRabbit,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultDriver]:
    """The suite, started once on the throwaway servers."""
    with started_suite(throwaway_pg.url, throwaway_rabbit.url,
                       tmp_path_factory.mktemp("faults")) as driver:
        yield driver


@pytest.fixture(scope="module")
def rabbit_cluster() -> Iterator[ThrowawayRabbitCluster]:
    """Three RabbitMQ nodes joined in a cluster (only for the tests that ask for it)."""
    with _or_skip(ThrowawayRabbitCluster) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster_suite(throwaway_pg: ThrowawayPostgres, rabbit_cluster: ThrowawayRabbitCluster,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultDriver]:
    """A second suite whose ``RABBITMQ_URL`` lists the three nodes of ``rabbit_cluster``."""
    with started_suite(throwaway_pg.url, rabbit_cluster.url,
                       tmp_path_factory.mktemp("cluster")) as driver:
        yield driver


@pytest.fixture(scope="module")
def pg_pair() -> Iterator[ThrowawayPostgresPair]:
    """A PostgreSQL primary with a synchronous streaming standby."""
    with _or_skip(ThrowawayPostgresPair) as pair:
        yield pair


@pytest.fixture(scope="module")
def failover_suite(pg_pair: ThrowawayPostgresPair, throwaway_rabbit: ThrowawayRabbit,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultDriver]:
    """A second suite whose ``DATABASE_URL`` names the primary and the standby."""
    with started_suite(pg_pair.url, throwaway_rabbit.url,
                       tmp_path_factory.mktemp("failover")) as driver:
        yield driver


@pytest.fixture
def suite(running: FaultDriver, throwaway_pg: ThrowawayPostgres,
          throwaway_rabbit: ThrowawayRabbit, request: pytest.FixtureRequest) -> Iterator[FaultDriver]:
    """The running suite, healthy and drained, with its log offsets noted for this test."""
    throwaway_pg.ensure_running()
    throwaway_rabbit.ensure_running()
    running.revive()
    running.suite.wait_healthy(timeout=60)
    running.wait_drained(timeout=60)
    marks = running.log_marks()
    yield running
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for name, text in running.logs(since=marks).items():
            sys.stdout.write(f"==== {name}\n{text[-2500:]}\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


@pytest.fixture
def figures() -> Callable[..., str]:
    """``figures(name, sent=..., lost=..., duplicated=..., **more)`` records the test's line."""
    started = time.monotonic()

    def record(name: str, **values: Any) -> str:
        parts = " ".join(f"{k}={v}" for k, v in values.items())
        line = f"faults: {name} {parts} duration={time.monotonic() - started:.1f}s"
        FIGURES.append(line)
        sys.stdout.write(line + "\n")
        return line

    return record
