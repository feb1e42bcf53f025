"""What the numbers were measured on: cores, memory, CPU model, PostgreSQL and RabbitMQ versions."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
MANAGEMENT_URL = "http://guest:guest@127.0.0.1:15672"


def _cpu_model() -> str | None:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def _mem_total_gib() -> float | None:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _postgres_version(url: str) -> str | None:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SHOW server_version"))
    except SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def _rabbitmq_version(url: str) -> str | None:
    try:
        resp = requests.get(f"{url}/api/overview", timeout=5)
        return resp.json().get("rabbitmq_version") if resp.ok else None
    except (requests.RequestException, ValueError):
        return None


def describe() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": _postgres_version(os.environ.get("BENCH_POSTGRES_URL", DATABASE_URL)),
        "rabbitmq": _rabbitmq_version(os.environ.get("RABBITMQ_MANAGEMENT_URL", MANAGEMENT_URL)),
    }
