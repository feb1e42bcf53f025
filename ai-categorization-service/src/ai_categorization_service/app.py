"""The Flask application factory of the AI categorization service."""
from __future__ import annotations

from flask import Flask

from support_shared.service import engine_for
from support_shared.erasure import register_erasure
from support_shared.web import init_app, register_health, register_outbox_gauge

from .api import CATEGORIZER_EXTENSION, UOW_EXTENSION, bp
from .bootstrap import build_categorizer
from .categorizer import Categorizer
from .config import SERVICE_NAME, Settings
from .persistence import unit_of_work

ENGINE_EXTENSION = "ai_categorization_service.engine"


def create_app(settings: Settings | None = None, *,
               categorizer: Categorizer | None = None) -> Flask:
    """Build the web app; nothing connects (and no model loads) until the first request."""
    settings = settings or Settings()
    engine = engine_for(settings)
    app = Flask(__name__)
    init_app(app)
    app.extensions[ENGINE_EXTENSION] = engine
    app.extensions[CATEGORIZER_EXTENSION] = (categorizer
                                             or build_categorizer(settings, engine=engine))
    app.extensions[UOW_EXTENSION] = lambda: unit_of_work(engine, settings.db_schema, SERVICE_NAME)
    app.register_blueprint(bp)
    register_health(app, SERVICE_NAME, engine, settings.rabbitmq_url)
    register_outbox_gauge(app, engine)
    register_erasure(app, SERVICE_NAME, engine, settings.db_schema)
    return app
