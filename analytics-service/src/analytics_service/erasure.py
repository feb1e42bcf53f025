"""``requester.erased``: overwrite the texts this service holds of the erased requester's tickets
(the event log's data; rows and counts stay), with the inbox claim."""
from __future__ import annotations

from typing import Sequence

from support_shared.erasure import erase_requesters
from support_shared.events import Envelope

from .persistence import AnalyticsUnitOfWork


def handle_requesters_erased(events: Sequence[Envelope], *, uow: AnalyticsUnitOfWork) -> None:
    erase_requesters(events, uow)
