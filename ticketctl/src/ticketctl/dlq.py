"""Dead-letter queue operations for the CLI: ``support_shared.messaging.dlq``, shared with the
gateway's admin API, under the names the CLI has always used. Its errors end the command with
the exit code ``errors.EXIT_CODES`` gives them."""
from __future__ import annotations

from support_shared.messaging.dlq import (  # noqa: F401 (re-exported)
    DLQ_SUFFIX, Outcome, QueueDepth, ReplayResult, broker_connection, check_dead_letter_queue,
    is_dead_letter_queue, list_dead_letter_queues, original_queue_of, peek, purge, queue_depths,
    replay,
)
