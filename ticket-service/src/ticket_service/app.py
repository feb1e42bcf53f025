"""The Flask application factory: engine, JSON error handling, public and internal routes, /health."""
from __future__ import annotations

import functools

from flask import Flask
from support_shared.service import engine_for
from support_shared.web import init_app, register_health

from .accounts_store import accounts_unit_of_work
from .api import init_api
from .config import SERVICE_NAME, Settings
from .internal_api import TOKEN_EXTENSION
from .persistence import unit_of_work

ENGINE_EXTENSION = "ticket_service.engine"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app; nothing connects until the first request."""
    settings = settings or Settings()
    engine = engine_for(settings)
    app = Flask(__name__)
    app.extensions[ENGINE_EXTENSION] = engine
    app.extensions[TOKEN_EXTENSION] = settings.internal_token
    init_app(app)
    init_api(app, functools.partial(unit_of_work, engine, settings.db_schema),
             functools.partial(accounts_unit_of_work, engine),
             group_commit_max=settings.group_commit_max,
             group_commit_timeout_s=2 * settings.db_statement_timeout_ms / 1000 + 5)
    register_health(app, SERVICE_NAME, engine, settings.rabbitmq_url)
    return app
