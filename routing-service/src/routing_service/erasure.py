"""``requester.erased``: overwrite the texts this service holds of the erased requester's tickets
(the tables of ``persistence.ERASABLE`` and this schema's outbox), with the inbox claim."""
from __future__ import annotations

from typing import Sequence

from support_shared.erasure import erase_requesters
from support_shared.events import Envelope

from .persistence import RoutingUnitOfWork


def handle_requesters_erased(events: Sequence[Envelope], *, uow: RoutingUnitOfWork) -> None:
    erase_requesters(events, uow)
