"""Flask application factory of the analytics service: dashboards plus /health."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import Flask
from support_shared.events import utcnow
from support_shared.service import engine_for
from support_shared.erasure import register_erasure
from support_shared.web import init_app, register_health

from .api import EXTENSION, Dependencies, bp
from .config import SERVICE_NAME, Settings
from .dashboard import init_dashboard


def create_app(settings: Settings | None = None, *,
               clock: Callable[[], datetime] | None = None) -> Flask:
    """Build the app; ``clock`` (UTC now) is injectable so tests can pin "last 24h" and "today"."""
    settings = settings or Settings()
    engine = engine_for(settings)
    app = Flask(__name__, static_folder=None)  # assets are the dashboard blueprint's
    init_app(app)
    app.extensions[EXTENSION] = Dependencies(engine=engine, clock=clock or utcnow)
    app.register_blueprint(bp)
    init_dashboard(app, settings)
    register_health(app, SERVICE_NAME, engine, settings.rabbitmq_url)
    register_erasure(app, SERVICE_NAME, engine, settings.db_schema)
    return app
