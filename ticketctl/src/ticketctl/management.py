"""The RabbitMQ management HTTP API (``support_shared.messaging.management``) raising the CLI's
``Unavailable`` (exit code 2)."""
from __future__ import annotations

from typing import Any

from support_shared.messaging import dead_letters
from support_shared.messaging import management as shared
from support_shared.messaging.management import error_reason  # noqa: F401 (re-exported)

from .errors import Unavailable


class Management(shared.Management):
    def _get(self, path: str) -> Any | None:
        try:
            return super()._get(path)
        except dead_letters.Unavailable as exc:
            raise Unavailable(str(exc)) from exc
