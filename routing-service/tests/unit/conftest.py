"""The unit tests' unit of work: complete in-memory fakes (fakes.py)."""
from __future__ import annotations

import pytest

from .fakes import FakeRoutingUnitOfWork


@pytest.fixture
def uow() -> FakeRoutingUnitOfWork:
    return FakeRoutingUnitOfWork()
