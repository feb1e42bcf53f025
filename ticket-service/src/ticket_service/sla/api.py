"""HTTP routes of a tenant's service levels: its targets (policy) and business-hours calendar.

Each tenant has one of each (its own; no other tenant's is reachable). Reads are the tenant's
read scope, writes its admin scope (at the gateway)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from support_shared.sla import (DAYS, SlaCalendar, SlaCalendarUpdate, SlaPolicy,
                                SlaPolicyUpdate)
from support_shared.web import parse_body, tenant_id

from ..web import deps
from . import handlers
from .calendar import Calendar
from .domain import Target
from .persistence import Stored

bp = Blueprint("sla", __name__, url_prefix="/api/sla")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _policy(stored: Stored) -> dict[str, Any]:
    targets = {p: {"first_response_minutes": t.first_response_minutes,
                   "resolution_minutes": t.resolution_minutes} for p, t in stored.value.items()}
    return SlaPolicy.model_validate({"targets": targets, "default": stored.updated_at is None,
                                     "updated_at": stored.updated_at}).model_dump(mode="json")


def _calendar(stored: Stored) -> dict[str, Any]:
    calendar: Calendar = stored.value
    hours = {day: [[_clock(a), _clock(b)] for a, b in spans]
             for day, spans in zip(DAYS, calendar.hours)}
    return SlaCalendar.model_validate({
        "time_zone": calendar.time_zone, "hours": hours, "holidays": sorted(calendar.holidays),
        "default": stored.updated_at is None, "updated_at": stored.updated_at,
    }).model_dump(mode="json")


@bp.get("/policy")
def get_policy() -> Response:
    return jsonify(_policy(handlers.get_policy(tenant_id(), uow=deps().uow())))


@bp.put("/policy")
def put_policy() -> Response:
    body = parse_body(SlaPolicyUpdate)
    targets = {p: Target(t.first_response_minutes, t.resolution_minutes)
               for p, t in body.targets}
    return jsonify(_policy(handlers.set_policy(tenant_id(), targets, uow=deps().uow())))


@bp.get("/calendar")
def get_calendar() -> Response:
    return jsonify(_calendar(handlers.get_calendar(tenant_id(), uow=deps().uow())))


@bp.put("/calendar")
def put_calendar() -> Response:
    body = parse_body(SlaCalendarUpdate)
    calendar = Calendar(body.time_zone, body.hours.spans(), frozenset(body.holidays))
    return jsonify(_calendar(handlers.set_calendar(tenant_id(), calendar, uow=deps().uow())))
