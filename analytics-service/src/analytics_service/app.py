"""Flask application factory of the analytics service: dashboards plus /health."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from flask import Flask
from sqlalchemy.engine import Engine
from support_shared import dependencies as app_dependencies
from support_shared.events import utcnow
from support_shared.service import engine_for
from support_shared.erasure_api import register_erasure
from support_shared.internal import require_internal_token
from support_shared.web import init_app, register_health

from .api import bp
from .config import SERVICE_NAME, Settings
from .dashboard import init_dashboard
from .persistence import AnalyticsUnitOfWork, unit_of_work


@dataclass(frozen=True)
class Dependencies:
    """What the routes use, built once per app: ``api.deps()`` hands it to them."""

    settings: Settings
    engine: Engine
    uow: Callable[[], AnalyticsUnitOfWork]
    clock: Callable[[], datetime]   # UTC now; tests pin "last 24h" and "today"

    @classmethod
    def build(cls, settings: Settings, clock: Callable[[], datetime] | None = None
              ) -> Dependencies:
        """Nothing connects here: the engine's pool opens at the first request."""
        engine = engine_for(settings)
        return cls(settings, engine, functools.partial(unit_of_work, engine), clock or utcnow)

    def close(self) -> None:
        self.engine.dispose()


def create_app(settings: Settings | None = None, *,
               clock: Callable[[], datetime] | None = None) -> Flask:
    """Build the app; ``clock`` (UTC now) is injectable so tests can pin "last 24h" and "today"."""
    dependencies = Dependencies.build(settings or Settings(), clock)
    app = Flask(__name__, static_folder=None)  # assets are the dashboard blueprint's
    init_app(app)
    require_internal_token(app, dependencies.settings)
    app_dependencies.install(app, dependencies)
    app.register_blueprint(bp)
    init_dashboard(app, dependencies.settings)
    register_health(app, SERVICE_NAME, dependencies.engine, dependencies.settings.rabbitmq_url)
    register_erasure(app, SERVICE_NAME, dependencies.engine, dependencies.settings.db_schema)
    return app
