"""Where a service's app keeps its one ``Dependencies`` object (settings, engine, unit of work).

Each service defines a frozen ``Dependencies`` dataclass in its ``app.py`` (with ``build`` and
``close``); ``create_app`` stores it with ``install``, routes read it with ``of``.
"""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app

EXTENSION = "support_shared.dependencies"


def install(app: Flask, dependencies: Any) -> None:
    """Make ``dependencies`` the app's (once, at ``create_app``)."""
    app.extensions[EXTENSION] = dependencies


def of(app: Flask | None = None) -> Any:
    """The ``Dependencies`` of ``app`` (default: the app handling this request)."""
    return (app or current_app).extensions[EXTENSION]
