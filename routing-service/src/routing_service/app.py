"""The Flask application factory of routing-service: the app's dependencies, its routes."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from flask import Flask
from sqlalchemy.engine import Engine

from support_shared import dependencies as app_dependencies
from support_shared.service import engine_for
from support_shared.erasure_api import register_erasure
from support_shared.internal import require_internal_token
from support_shared.web import init_app, register_health, register_outbox_gauge

from . import api
from .assignment import api as assignment_api
from .config import SERVICE_NAME, Settings
from .persistence import RoutingUnitOfWork, unit_of_work


@dataclass(frozen=True)
class Dependencies:
    """What the routes use, built once per app: ``api.deps()`` hands it to them."""

    settings: Settings
    engine: Engine
    uow: Callable[[], RoutingUnitOfWork]

    @classmethod
    def build(cls, settings: Settings) -> Dependencies:
        """Nothing connects here: the engine's pool opens at the first request."""
        engine = engine_for(settings)
        return cls(settings, engine, functools.partial(unit_of_work, engine, settings.db_schema))

    def close(self) -> None:
        self.engine.dispose()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app; nothing connects until the first request."""
    dependencies = Dependencies.build(settings or Settings())
    app = Flask(__name__)
    init_app(app)
    require_internal_token(app, dependencies.settings)
    app_dependencies.install(app, dependencies)
    app.register_blueprint(api.bp)
    app.register_blueprint(assignment_api.bp)
    register_health(app, SERVICE_NAME, dependencies.engine, dependencies.settings.rabbitmq_url)
    register_outbox_gauge(app, dependencies.engine)
    register_erasure(app, SERVICE_NAME, dependencies.engine, dependencies.settings.db_schema)
    return app
