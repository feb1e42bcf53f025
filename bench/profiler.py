"""py-spy (PyPI ``py-spy``) on every suite process during a load phase, and what the samples say:
the share of each process's active samples spent per layer (database round trips, SQLAlchemy,
Flask, pydantic, the HTTP client, logging, metrics, AMQP, ...) and the top functions."""
from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RATE = 67   # samples/s per process: low enough not to steal much of 2 cores
# Functions whose time is spent in the database driver (libpq: network round trip + server).
DB_CALLS = ("do_execute ", "do_executemany ", "do_commit ", "do_rollback ", "_do_ping",
            "do_ping ", "connect (psycopg2")
# (layer, substrings of a frame's file); the deepest frame of a known layer decides.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("pydantic", ("pydantic/", "pydantic_core/")),
    ("HTTP client (requests/urllib3)", ("requests/", "urllib3/", "http/client.py")),
    ("logging", ("logging/", "support_shared/logging.py", "pythonjsonlogger")),
    ("metrics (prometheus_client)", ("prometheus_client/", "support_shared/metrics.py")),
    ("rate limiter", ("flask_limiter/", "limits/")),
    ("AMQP (pika)", ("pika/",)),
    ("gunicorn", ("gunicorn/",)),
    ("Flask/Werkzeug", ("flask/", "werkzeug/")),
    ("model (scikit-learn/numpy)", ("sklearn/", "numpy/", "scipy/")),
    ("service code", ("_service/", "api_gateway/", "support_shared/")),
)


def frame_layer(frame: str) -> str | None:
    if frame.startswith(DB_CALLS):
        return "database round trips (psycopg2)"
    for layer, needles in LAYERS:
        if any(n in frame for n in needles):
            return layer
    return None


def stack_layer(frames: list[str]) -> str:
    """The layer of the deepest frame that belongs to one (``frames`` root first)."""
    if not frames:
        # The GIL is held but no Python frame runs: thread start-up and exit, GC, C calls.
        return "native (no Python frame)"
    for frame in reversed(frames):
        layer = frame_layer(frame)
        if layer is not None:
            return layer
    return "other (stdlib, interpreter)"


def summarize(raw: str, top: int = 12) -> dict[str, Any]:
    """Layers and top self/inclusive functions of py-spy's ``--format raw`` (collapsed) output."""
    layers: Counter = Counter()
    own: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        total += n
        layers[stack_layer(frames)] += n
        if frames:
            own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n

    def share(counter: Counter, k: int) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(k)]

    return {"samples": total, "layers_pct": dict(share(layers, len(layers))),
            "top_self_pct": share(own, top), "top_inclusive_pct": share(inclusive, top * 2)}


class Profiler:
    """``py-spy record`` on each suite process group leader (with its subprocesses)."""

    def __init__(self, pids: dict[str, int], out_dir: Path, duration_s: float) -> None:
        self.pids = pids
        self.out_dir = out_dir
        self.duration_s = duration_s
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            # --gil: only the thread holding the GIL, i.e. Python's own CPU work; time in C
            # code that releases it (libpq waiting for PostgreSQL, sockets) is not counted.
            cmd = [spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--gil",
                   "--rate", str(RATE), "--duration", str(int(self.duration_s)),
                   "--format", "raw", "--output", str(self.out_dir / f"{name}.txt")]
            self.procs[name] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE)

    def finish(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, proc in self.procs.items():
            _, err = proc.communicate(timeout=self.duration_s + 60)
            path = self.out_dir / f"{name}.txt"
            if proc.returncode != 0 or not path.exists():
                logger.warning("py-spy on %s failed: %s", name, err.decode()[-300:])
                continue
            out[name] = summarize(path.read_text())
        return out
