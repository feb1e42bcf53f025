"""The Flask application factory of routing-service (served by gunicorn)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from flask import Flask
from sqlalchemy.engine import Engine

from support_shared.service import engine_for
from support_shared.erasure import register_erasure
from support_shared.web import init_app, register_health, register_outbox_gauge

from . import api
from .config import SERVICE_NAME, Settings
from .persistence import RoutingUnitOfWork, uow_factory


@dataclass
class Services:
    """What the request handlers need, built once per app."""

    settings: Settings
    engine: Engine
    uow: Callable[[], RoutingUnitOfWork] = field(init=False)

    def __post_init__(self) -> None:
        self.uow = uow_factory(self.engine, self.settings.db_schema)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings()
    engine = engine_for(settings)
    app = Flask(__name__)
    init_app(app)
    app.extensions[api.EXTENSION] = Services(settings, engine)
    app.register_blueprint(api.bp)
    register_health(app, SERVICE_NAME, engine, settings.rabbitmq_url)
    register_outbox_gauge(app, engine)
    register_erasure(app, SERVICE_NAME, engine, settings.db_schema)
    return app
