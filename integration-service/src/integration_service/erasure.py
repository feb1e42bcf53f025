"""``requester.erased``: the webhook deliveries of the erased requester's tickets keep their
rows (status, attempts) but lose every text of the person (``scrub_json`` of the payload), with
the inbox claim. A delivery retried afterwards sends the scrubbed payload."""
from __future__ import annotations

from typing import Sequence

from support_shared.erasure import erase_requesters
from support_shared.events import Envelope

from .persistence import IntegrationUnitOfWork


def handle_requesters_erased(events: Sequence[Envelope], *, uow: IntegrationUnitOfWork) -> None:
    erase_requesters(events, uow)
