"""The unit tests' unit of work: complete in-memory fakes (fakes.py)."""
from __future__ import annotations

import pytest

from routing_service.testing import FakeRoutingUnitOfWork


@pytest.fixture
def uow() -> FakeRoutingUnitOfWork:
    return FakeRoutingUnitOfWork()
