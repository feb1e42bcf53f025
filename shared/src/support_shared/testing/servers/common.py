"""What both throwaway servers share: errors, free ports, log tails, finding the binaries."""
from __future__ import annotations

import glob
import os
import re
import shutil
import socket
from pathlib import Path


class ServerError(RuntimeError):
    """A throwaway server could not be started, stopped or reached in time."""


class ServerUnavailable(ServerError):
    """The binaries this server needs are not installed."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return f"({path} unreadable)"


def _version_key(path: str) -> list[object]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", path)]


def find_binary(candidates: list[str], name: str) -> str:
    """The first executable matching a glob of ``candidates`` (newest version first), else
    ``name`` on PATH; ``ServerUnavailable`` when neither exists."""
    for pattern in candidates:
        for match in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            if os.access(match, os.X_OK):
                return match
    found = shutil.which(name)
    if found is None:
        raise ServerUnavailable(f"{name} not found (looked in {candidates} and PATH)")
    return found
