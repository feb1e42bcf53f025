"""The security suite runs against the same whole suite as tests/e2e: its fixtures, reused.

``running`` (the suite started once per session, the development admin key, ``tenant()``,
``operator()``, ``ctl()``) and ``settle`` come from tests/e2e/conftest.py, loaded by path:
tests/ is no package, and one definition of the suite keeps the two directories alike.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

_E2E = Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
_spec = importlib.util.spec_from_file_location("security_e2e_fixtures", _E2E)
assert _spec is not None and _spec.loader is not None
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

ApiClient = e2e.ApiClient
running = e2e.running
settle = e2e.settle
