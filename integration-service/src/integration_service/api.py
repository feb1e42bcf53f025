"""HTTP routes of integration-service: sources and ingestion jobs (webhooks: webhooks_api)."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, jsonify
from support_shared import dependencies
from support_shared.integrations import IngestionStart, SourceCreate, SourcePatch
from support_shared.schemas import Page
from support_shared.web import ApiError, decode_cursor, parse_body, parse_query, tenant_id

from . import views
from .crypto import SecretsUnavailableError
from .ingestion import (JobNotFoundError, JobRunningError, SourceNotFoundError, cancel_job,
                        start_job)
from .targets import TargetRefusedError

if TYPE_CHECKING:
    from .app import Dependencies

bp = Blueprint("integration", __name__, url_prefix="/api")
CONFIG_KEYS = ("base_url", "path", "pagination", "field_map", "defaults", "priority_map")


def deps() -> Dependencies:
    found: Dependencies = dependencies.of()
    return found


def source_not_found(name: str) -> ApiError:
    return ApiError(404, "source_not_found", f"source {name!r} not found")


def job_not_found(job_id: object) -> ApiError:
    return ApiError(404, "ingestion_not_found", f"ingestion {job_id} not found")


def check_target(url: str) -> None:
    try:
        deps().targets.check(url)
    except TargetRefusedError as exc:
        raise ApiError(422, "target_refused", str(exc), {"url": url}) from exc


def _seal(secrets: dict[str, Any]) -> bytes:
    try:
        return deps().box.seal(secrets)
    except SecretsUnavailableError as exc:
        raise ApiError(503, "secrets_unavailable", str(exc)) from exc


def _config(body: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    config = {k: body[k] for k in CONFIG_KEYS if k in body}
    config["base_url"] = str(config["base_url"])
    config["has_credentials"] = bool(secrets.get("credentials"))
    config["has_webhook_secret"] = bool(secrets.get("webhook_secret"))
    return config


@bp.post("/sources")
def create_source() -> tuple[Response, int]:
    body = parse_body(SourceCreate).model_dump(mode="json")
    check_target(body["base_url"])
    secrets = {k: body.pop(k) for k in ("credentials", "webhook_secret") if body.get(k)}
    now = deps().clock()
    values = {"name": body["name"], "kind": body["kind"], "config": _config(body, secrets),
              "secrets": _seal(secrets) if secrets else None,
              "schedule_minutes": body["schedule_minutes"],
              "next_sync_at": (now + timedelta(minutes=body["schedule_minutes"])
                               if body["schedule_minutes"] else None)}
    with deps().uow() as uow:
        row = uow.sources.add(tenant_id(), values)
        if row is None:
            raise ApiError(409, "source_exists", f"source {body['name']!r} exists")
        uow.commit()
    return jsonify(views.source_json(row)), 201


@bp.get("/sources")
def list_sources() -> Response:
    query = parse_query(Page)
    with deps().uow() as uow:
        rows = uow.sources.page(tenant_id(), decode_cursor(query.cursor), query.limit + 1)
    return jsonify(views.page_json("sources", rows, query.limit, views.source_json))


@bp.get("/sources/<name>")
def get_source(name: str) -> Response:
    with deps().uow() as uow:
        row = uow.sources.get(tenant_id(), name)
    if row is None:
        raise source_not_found(name)
    return jsonify(views.source_json(row))


@bp.patch("/sources/<name>")
def update_source(name: str) -> Response:
    patch = parse_body(SourcePatch).model_dump(mode="json", exclude_unset=True)
    if "base_url" in patch:
        check_target(patch["base_url"])
    with deps().uow() as uow:
        row = uow.sources.get(tenant_id(), name, lock=True)
        if row is None:
            raise source_not_found(name)
        secrets = dict(deps().box.open(row.secrets) or {}) if row.secrets else {}
        secrets.update({k: patch.pop(k) for k in ("credentials", "webhook_secret") if k in patch})
        merged = {**row.config, **{k: v for k, v in patch.items() if k in CONFIG_KEYS}}
        values: dict[str, Any] = {"config": _config(merged, secrets),
                                  "secrets": _seal(secrets) if secrets else None}
        if "schedule_minutes" in patch:
            minutes = patch["schedule_minutes"]
            values["schedule_minutes"] = minutes
            values["next_sync_at"] = (deps().clock() + timedelta(minutes=minutes)
                                      if minutes else None)
        if patch.get("reset_cursor"):
            values["cursor"] = None
        row = uow.sources.update(tenant_id(), name, values)
        uow.commit()
    return jsonify(views.source_json(row))


@bp.delete("/sources/<name>")
def delete_source(name: str) -> tuple[str, int]:
    with deps().uow() as uow:
        if not uow.sources.delete(tenant_id(), name):
            raise source_not_found(name)
        uow.commit()
    return "", 204


@bp.post("/ingestions")
def start_ingestion() -> tuple[Response, int]:
    body = parse_body(IngestionStart)
    d = deps()
    try:
        job = start_job(tenant_id(), body.source, uow=d.uow(), now=d.clock(),
                        lock_s=d.settings.job_lock_seconds)
    except SourceNotFoundError as exc:
        raise source_not_found(body.source) from exc
    except JobRunningError as exc:
        raise ApiError(409, "ingestion_running",
                       f"an ingestion of {body.source!r} is already running",
                       {"source": body.source}) from exc
    return jsonify(views.job_json(job)), 202


@bp.get("/ingestions/<uuid:job_id>")
def get_ingestion(job_id: uuid.UUID) -> Response:
    with deps().uow() as uow:
        job = uow.jobs.get(tenant_id(), job_id)
    if job is None:
        raise job_not_found(job_id)
    return jsonify(views.job_json(job))


@bp.get("/ingestions/<uuid:job_id>/logs")
def ingestion_logs(job_id: uuid.UUID) -> Response:
    query = parse_query(Page)
    with deps().uow() as uow:
        if uow.jobs.get(tenant_id(), job_id) is None:
            raise job_not_found(job_id)
        rows = uow.jobs.logs(job_id, decode_cursor(query.cursor), query.limit + 1)
    return jsonify(views.page_json("logs", rows, query.limit, lambda r: {
        "at": r.at, "level": r.level, "message": r.message}))


@bp.post("/ingestions/<uuid:job_id>/cancel")
def cancel_ingestion(job_id: uuid.UUID) -> tuple[Response, int]:
    try:
        job = cancel_job(tenant_id(), job_id, uow=deps().uow(), now=deps().clock())
    except JobNotFoundError as exc:
        raise job_not_found(job_id) from exc
    return jsonify(views.job_json(job)), 202
