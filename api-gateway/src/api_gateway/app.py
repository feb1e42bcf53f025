"""The gateway's Flask app: wiring of settings, service clients, auth, limits, routes and docs."""
from __future__ import annotations

from flask import Flask

from support_shared.web import MAX_BODY_BYTES, init_app

from . import context, docs, metrics_auth, routes
from .admin import init_admin
from .auth import (ApiKeyAuthenticator, Authenticator, AuthError, CachedVerifier,
                   HttpKeyVerifier, auth_error_response)
from .clients import ServiceClient, build_clients
from .config import TICKET_SERVICE, GatewaySettings
from .erasure import init_erasure
from .errors import UpstreamFailure, upstream_error_response
from .health import HealthChecker
from .limits import init_limits
from .state import EXTENSION, Gateway


def key_authenticator(settings: GatewaySettings, tickets: ServiceClient) -> Authenticator:
    """API keys verified by ticket-service, cached for ``auth_cache_ttl_s``."""
    verifier = CachedVerifier(HttpKeyVerifier(tickets),
                              settings.auth_cache_ttl_s, settings.auth_cache_size)
    return ApiKeyAuthenticator(verifier)


def create_app(settings: GatewaySettings | None = None, *,
               authenticator: Authenticator | None = None) -> Flask:
    """Build the gateway; nothing connects until the first request."""
    settings = settings or GatewaySettings()
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    init_app(app)
    clients = build_clients(settings)
    context.install(app, authenticator or key_authenticator(settings, clients[TICKET_SERVICE]))
    metrics_auth.configure(app, settings.metrics_token)
    init_limits(app, settings)
    health = HealthChecker(clients, settings.rabbitmq_url, timeout_s=settings.health_timeout_s,
                           broker_ttl_s=settings.broker_check_ttl_s)
    app.extensions[EXTENSION] = Gateway(settings=settings, clients=clients, health=health)
    app.register_error_handler(UpstreamFailure, upstream_error_response)
    app.register_error_handler(AuthError, auth_error_response)
    app.register_blueprint(routes.bp)
    init_admin(app)
    init_erasure(app)
    docs.init_docs(app)
    return app
