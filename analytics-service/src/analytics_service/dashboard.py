"""The web dashboard: the page at /dashboard, its local assets, and the queue depths it shows."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from support_shared.config import ServiceSettings
from support_shared.web import METRICS_EXTENSION
from support_shared.messaging.management import Management, direct_session, vhost_of
from support_shared.messaging.topology import Topology

from .queue_depths import QueueCollector, QueueDepths, suite_queues

EXTENSION = "analytics_service.dashboard"
# Everything the page loads comes from this origin: no CDN, works without internet.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))

bp = Blueprint("dashboard", __name__, static_folder="static",
               static_url_path="/dashboard/static", template_folder="templates")


class DashboardSettings(BaseSettings):
    """Dashboard settings; ``RABBITMQ_MANAGEMENT_URL`` is the name ticketctl and the tests use."""

    model_config = SettingsConfigDict(
        env_prefix="ANALYTICS_SERVICE_", populate_by_name=True, extra="ignore"
    )

    rabbitmq_management_url: str = Field(
        "http://guest:guest@127.0.0.1:15672",
        # Its own (the broker's monitoring user), else the suite's.
        validation_alias=AliasChoices("ANALYTICS_SERVICE_RABBITMQ_MANAGEMENT_URL",
                                      "RABBITMQ_MANAGEMENT_URL", "rabbitmq_management_url"),
    )
    management_timeout_s: float = Field(2.0, gt=0, le=30)
    queue_cache_s: float = Field(3.0, ge=0, le=60)
    dashboard_refresh_s: int = Field(5, ge=1, le=300)


@dataclass(frozen=True)
class Dashboard:
    settings: DashboardSettings
    queues: QueueDepths


def init_dashboard(app: Flask, settings: ServiceSettings,
                   dashboard: DashboardSettings | None = None) -> None:
    """Serve the dashboard on ``app``; queue names follow ``settings``' prefix and exchange."""
    dashboard = dashboard or DashboardSettings()
    management = Management(dashboard.rabbitmq_management_url, vhost_of(settings.rabbitmq_url),
                            dashboard.management_timeout_s, session=direct_session())
    depths = QueueDepths(
        management,
        suite_queues(settings.queue_prefix),
        Topology.from_settings(settings).unroutable_queue,
        cache_s=dashboard.queue_cache_s,
    )
    app.extensions[EXTENSION] = Dashboard(settings=dashboard, queues=depths)
    app.extensions.setdefault(METRICS_EXTENSION, []).append(QueueCollector(depths))
    app.register_blueprint(bp)


def _state() -> Dashboard:
    return current_app.extensions[EXTENSION]


@bp.after_request
def _security_headers(resp: Response) -> Response:
    """Every dashboard answer: no MIME sniffing, no framing (clickjacking), no referrer."""
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.get("/dashboard")
def page() -> ResponseReturnValue:
    """The page; public (the API key, if any, is entered in the page and sent on its fetches)."""
    html = render_template("dashboard.html", refresh_seconds=_state().settings.dashboard_refresh_s)
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.get("/api/dashboard/queues")
def queue_depths() -> ResponseReturnValue:
    """Depth, consumers and dead letters of every suite queue; 200 with available=false when
    the management API cannot be reached (the broker's state is not this service's failure)."""
    return jsonify(_state().queues.snapshot())
