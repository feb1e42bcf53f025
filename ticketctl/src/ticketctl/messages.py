"""What a dead message says about itself and how to replay it: ``support_shared.messaging.dead_letters``
under the names the CLI has always used."""
from __future__ import annotations

from support_shared.messaging.dead_letters import (  # noqa: F401 (re-exported)
    DELIVERY_COUNT, DROPPED_ON_REPLAY, ERROR_HEADER_PREFIX, FAILED_AT, ORIGINAL_QUEUE, REPLAY_COUNT,
    REPLAYED_AT, DeadMessage, Death, ReplayTarget, deaths, plain, replay_count, replay_headers,
    replay_properties, replay_target,
)
