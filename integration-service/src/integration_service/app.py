"""Flask application factory of integration-service: sources, ingestions, webhooks, /health."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from flask import Flask
from sqlalchemy.engine import Engine
from support_shared import dependencies as app_dependencies
from support_shared.erasure_api import register_erasure
from support_shared.events import utcnow
from support_shared.internal import require_internal_token
from support_shared.service import engine_for
from support_shared.urls import install_id_converter
from support_shared.web import init_app, register_health

from .api import bp
from .config import SERVICE_NAME, Settings
from .crypto import SecretBox
from .persistence import IntegrationUnitOfWork, unit_of_work
from .targets import TargetPolicy
from .webhooks_api import bp as webhooks_bp


@dataclass(frozen=True)
class Dependencies:
    """What the routes use, built once per app: ``api.deps()`` hands it to them."""

    settings: Settings
    engine: Engine
    uow: Callable[[], IntegrationUnitOfWork]
    box: SecretBox
    targets: TargetPolicy
    clock: Callable[[], datetime]

    @classmethod
    def build(cls, settings: Settings, clock: Callable[[], datetime] | None = None,
              targets: TargetPolicy | None = None) -> Dependencies:
        """Nothing connects here: the engine's pool opens at the first request."""
        engine = engine_for(settings)
        return cls(settings, engine, functools.partial(unit_of_work, engine),
                   SecretBox(settings.credentials_key),
                   targets or TargetPolicy(settings.allow_private_targets), clock or utcnow)


def create_app(settings: Settings | None = None, *,
               clock: Callable[[], datetime] | None = None,
               targets: TargetPolicy | None = None) -> Flask:
    dependencies = Dependencies.build(settings or Settings(), clock, targets)
    app = Flask(__name__)
    install_id_converter(app)
    init_app(app)
    require_internal_token(app, dependencies.settings)
    app_dependencies.install(app, dependencies)
    app.register_blueprint(bp)
    app.register_blueprint(webhooks_bp)
    register_health(app, SERVICE_NAME, dependencies.engine, dependencies.settings.rabbitmq_url)
    register_erasure(app, SERVICE_NAME, dependencies.engine, dependencies.settings.db_schema)
    return app
