"""The Flask application factory: the app's dependencies, JSON errors, every feature's routes."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from flask import Flask
from sqlalchemy.engine import Engine
from support_shared import dependencies as app_dependencies
from support_shared.group_commit import GroupCommitter
from support_shared.service import engine_for
from support_shared.erasure_api import register_erasure
from support_shared.internal import require_internal_token
from support_shared.web import init_app, register_health

from . import web
from .accounts import api as accounts_api
from .accounts import persistence as accounts_persistence
from .activity import api as activity_api
from .batch import api as batch_api
from .config import SERVICE_NAME, Settings
from .erasure import api as erasure_api
from .settings import api as settings_api
from .export import api as export_api
from .sla import api as sla_api
from .tickets import api as tickets_api
from .tickets import persistence as tickets_persistence
from .tickets.handlers import CreateResult, CreateTicket, create_tickets, single


@dataclass(frozen=True)
class Dependencies:
    """What the routes use, built once per app: ``web.deps()`` hands it to them."""

    settings: Settings
    engine: Engine
    uow: Callable[[], tickets_persistence.TicketUnitOfWork]
    accounts_uow: Callable[[], accounts_persistence.AccountsUnitOfWork]
    # Creates arriving together share one transaction; None: each its own, in its request.
    committer: GroupCommitter[CreateTicket, CreateResult] | None

    @classmethod
    def build(cls, settings: Settings) -> Dependencies:
        """Nothing connects here: the engine's pool opens at the first request."""
        engine = engine_for(settings)
        uow = functools.partial(tickets_persistence.unit_of_work, engine, settings.db_schema)
        committer = None
        if settings.group_commit_max > 0:
            committer = GroupCommitter(
                lambda cmds: create_tickets(cmds, uow=uow()),
                lambda cmd: single(create_tickets([cmd], uow=uow())),
                max_batch=settings.group_commit_max,
                timeout_s=2 * settings.db_statement_timeout_ms / 1000 + 5,
                name="ticket-create-writer")
        return cls(settings, engine, uow,
                   functools.partial(accounts_persistence.unit_of_work, engine), committer)

    def close(self) -> None:
        """Let the create writer finish, then close the database connections."""
        if self.committer is not None:
            self.committer.close()
        self.engine.dispose()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app; nothing connects until the first request."""
    dependencies = Dependencies.build(settings or Settings())
    app = Flask(__name__)
    app_dependencies.install(app, dependencies)
    init_app(app)
    require_internal_token(app, dependencies.settings)
    web.register_error_handlers(app)
    tickets_api.init_app(app)
    activity_api.init_app(app)
    accounts_api.init_app(app)
    erasure_api.init_app(app)
    settings_api.init_app(app)
    batch_api.init_app(app)
    export_api.init_app(app)
    sla_api.init_app(app)
    register_health(app, SERVICE_NAME, dependencies.engine, dependencies.settings.rabbitmq_url)
    register_erasure(app, SERVICE_NAME, dependencies.engine, dependencies.settings.db_schema)
    return app
