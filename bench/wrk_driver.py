"""Closed-loop load with wrk (Debian package ``wrk``) and bench/wrk.lua; parses its summary."""
from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from results import LoadResult

logger = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("wrk.lua")
MARKER = "BENCH_JSON "


def available() -> bool:
    return shutil.which("wrk") is not None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_summary(stdout: str) -> dict:
    """The JSON line bench/wrk.lua's done() prints."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    raise RuntimeError(f"wrk printed no summary:\n{stdout[-2000:]}")


def read_logs(prefix: Path) -> tuple[Counter, list[int]]:
    """Statuses and created ticket ids from the per-thread logs ``<prefix>.<n>``."""
    statuses: Counter = Counter()
    ids: list[int] = []
    for log in sorted(prefix.parent.glob(prefix.name + ".*")):
        for line in log.read_text().splitlines():
            status, _, location = line.partition(" ")
            statuses[int(status)] += 1
            if status == "201" and location:
                ids.append(int(location.rstrip("/").rsplit("/", 1)[1]))
    return statuses, ids


def run(base_url: str, mode: str, input_path: Path, *, key: str | None, connections: int,
        duration_s: float, threads: int = 2, timeout_s: float = 10.0) -> LoadResult:
    """``connections`` keep-alive connections sending requests for ``duration_s`` seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        prefix = Path(tmp) / "log"
        env = dict(os.environ, BENCH_MODE=mode, BENCH_INPUT=str(input_path),
                   BENCH_OUT=str(prefix), BENCH_KEY=key or "")
        cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration_s:g}s",
               "--timeout", f"{timeout_s:g}s", "-s", str(SCRIPT), base_url]
        cpu_before = _children_cpu()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=duration_s + timeout_s + 60, check=False)
        cpu = _children_cpu() - cpu_before
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
        summary = parse_summary(done.stdout)
        statuses, ids = read_logs(prefix)
    errors = summary["errors"]
    lat = summary["latency_us"]
    result = LoadResult(
        generator="wrk",
        duration_s=summary["duration_us"] / 1e6,
        statuses=statuses,
        socket_errors={k: errors[k] for k in ("connect", "read", "write", "timeout")},
        latency_ms={f"p{k}": round(v / 1000, 2) for k, v in lat.items()
                    if k not in ("mean", "max")} | {"mean": round(lat["mean"] / 1000, 2),
                                                    "max": round(lat["max"] / 1000, 2)},
        created_ids=ids,
        generator_cpu_s=cpu,
    )
    if result.requests != summary["requests"]:
        logger.warning("wrk counted %d answers, the logs %d", summary["requests"], result.requests)
    return result
