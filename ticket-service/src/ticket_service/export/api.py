"""HTTP route of the export: the tenant's changed tickets streamed as JSON Lines or CSV."""
from __future__ import annotations

import csv
import io
import json
import logging
from datetime import datetime
from typing import Any, Iterator

from flask import Blueprint, Flask, Response, stream_with_context
from support_shared.exchange import ExportQuery
from support_shared.schemas import Ticket as TicketOut
from support_shared.web import ApiError, decode_position, encode_position, parse_query, tenant_id
from sqlalchemy.engine import Engine

from ..tickets.api import representation
from ..web import deps
from .persistence import Position, changed_since

logger = logging.getLogger(__name__)

bp = Blueprint("export", __name__)
CURSOR_KIND = "export"
PAGE_ROWS = 500     # rows per read: each read is its own short transaction
CSV_COLUMNS = (*TicketOut.model_fields, "cursor")
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _start(query: ExportQuery) -> tuple[datetime | None, Position]:
    """``updated_since`` and the position to start after: the cursor's, else the beginning."""
    if query.cursor is None:
        return query.updated_since, Position()
    position = decode_position(CURSOR_KIND, query.cursor)
    invalid = ApiError(400, "invalid_cursor", "cursor is not one this API issued")
    if len(position) != 3:
        raise invalid
    since, xid, ticket_id = position
    if not (isinstance(xid, str) and xid.isdigit() and type(ticket_id) is int
            and (since is None or isinstance(since, str))):
        raise invalid
    try:
        return (datetime.fromisoformat(since) if since else None), Position(xid, ticket_id)
    except ValueError as exc:
        raise invalid from exc


def _cursor(since: datetime | None, position: Position) -> str:
    return encode_position(CURSOR_KIND, [since.isoformat() if since else None, position.xid,
                                         position.ticket_id])


def _jsonl(ticket: dict[str, Any], cursor: str) -> str:
    return json.dumps({"ticket": ticket, "cursor": cursor}, separators=(",", ":")) + "\n"


def _csv(ticket: dict[str, Any], cursor: str) -> str:
    out = io.StringIO()
    values = {**ticket, "tags": ";".join(ticket["tags"]), "cursor": cursor}
    csv.writer(out).writerow(["" if values[c] is None else values[c] for c in CSV_COLUMNS])
    return out.getvalue()


def _records(engine: Engine, tenant: str, query: ExportQuery) -> Iterator[str]:
    """Pages of changed tickets, one line each, until ``limit`` or the horizon is reached."""
    since, position = _start(query)
    line = _csv if query.format == "csv" else _jsonl
    if query.format == "csv":
        yield _csv_header()
    left = query.limit
    while left > 0:
        with engine.connect() as conn:
            page = changed_since(conn, tenant, since, position, min(PAGE_ROWS, left))
        for ticket, position in page:
            yield line(representation(ticket), _cursor(since, position))
        left -= len(page)
        if len(page) < PAGE_ROWS:
            break
    logger.info("export for tenant %s: %d row(s)", tenant, query.limit - left)


def _csv_header() -> str:
    out = io.StringIO()
    csv.writer(out).writerow(CSV_COLUMNS)
    return out.getvalue()


@bp.get("/api/tickets/export")
def export_route() -> Response:
    query = parse_query(ExportQuery)
    _start(query)   # a bad cursor is a 400 before the stream starts
    records = _records(deps().engine, tenant_id(), query)
    return Response(stream_with_context(records), mimetype=MEDIA_TYPES[query.format],
                    headers={"Cache-Control": "no-store"})
