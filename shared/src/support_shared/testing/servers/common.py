"""What both throwaway servers share: errors, free ports, log tails, finding the binaries."""
from __future__ import annotations

import glob
import os
import random
import re
import shutil
import socket
from pathlib import Path


class ServerError(RuntimeError):
    """A throwaway server could not be started, stopped or reached in time."""


class ServerUnavailable(ServerError):
    """The binaries this server needs are not installed."""


# Ports for test servers come from below the kernel's ephemeral range (32768-60999 on Linux):
# a port the kernel hands out (bind to 0) can be taken again, as the source port of any outgoing
# connection, before the server that was meant to listen on it starts.
_PORTS = range(20000, 32000)
_given: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never given before by this process."""
    for _ in range(200):
        port = random.choice(_PORTS)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise ServerError("no free port in 20000-31999")


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
