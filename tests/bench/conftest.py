"""The bench's modules are scripts in bench/ that import each other by bare name (``import
results``); tests load them from their files and forget them afterwards, without sys.path."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench_module() -> Iterator[Callable[[str], ModuleType]]:
    """``bench_module("timeline")``: bench/timeline.py; load what it imports first."""
    added: list[str] = []

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        previous = sys.modules.get(name)
        sys.modules[name] = module
        added.append((name, previous))
        spec.loader.exec_module(module)
        return module

    yield load
    for name, previous in reversed(added):
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
