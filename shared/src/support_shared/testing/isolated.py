"""A whole suite's environment isolated by a suffix (schemas, exchanges, queues, free ports),
and its removal: one recipe for the e2e tests, the fault tests and the bench."""
from __future__ import annotations

import os
import secrets

from ..internal import INSECURE_FLAG
from ..db import drop_schema, make_engine
from ..manifest import SUITE
from .helpers import delete_broker_objects
from .servers.common import free_port


def isolated_env(suffix: str, database_url: str, rabbitmq_url: str | None = None,
                 **overrides: str) -> dict[str, str]:
    """This process's environment (without Anthropic keys) plus names under ``suffix``, a free
    port per web process, each service's URL for the gateway, a random internal credential
    (``INTERNAL_API_TOKEN``) and its own rate-limit key prefix; ``overrides`` last."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    if rabbitmq_url is not None:
        env["RABBITMQ_URL"] = rabbitmq_url
    env.update(EVENT_EXCHANGE=f"tickets.{suffix}", DEAD_LETTER_EXCHANGE=f"tickets.{suffix}.dlx",
               QUEUE_PREFIX=f"{suffix}.", INTERNAL_API_TOKEN=secrets.token_urlsafe(32),
               # Rate-limit counters live in the shared Redis: keep this suite's apart.
               GATEWAY_RATELIMIT_KEY_PREFIX=f"gateway-{suffix}")
    env.pop(INSECURE_FLAG, None)
    for service in SUITE.services:
        port = str(free_port())
        env[f"{service.env_prefix}PORT"] = port
        if service.schema is None:
            continue
        env[f"{service.env_prefix}DATABASE_URL"] = database_url
        env[f"{service.env_prefix}DB_SCHEMA"] = f"{service.schema}_{suffix}"
        env[f"{service.env_prefix}URL"] = f"http://127.0.0.1:{port}"
    env.update(overrides)
    return env


def remove_isolated(env: dict[str, str], database_url: str, suffix: str) -> None:
    """Drop the schemas and broker objects ``isolated_env(suffix, ...)`` named."""
    engine = make_engine(database_url, "public")
    try:
        for service in SUITE.with_schema:
            drop_schema(engine, env[f"{service.env_prefix}DB_SCHEMA"])
    finally:
        engine.dispose()
    delete_broker_objects(f"{suffix}.", f"tickets.{suffix}")
