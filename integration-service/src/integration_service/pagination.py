"""Reading one page of a source from a stored position, for each pagination style.

A position (``cursor`` of the source) is a string: a Zendesk ``after_cursor``, a page
number, an API's cursor, or the URL a ``Link`` header named. ``Page.next`` is where the next
page starts; at the end of the stream it is where the next sync should start (Zendesk: the
last ``after_cursor``; the others: the last page again, so records added to it are seen).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urljoin

import requests

from .mapping import dig

ZENDESK_EXPORT = "/api/v2/incremental/tickets/cursor.json"
Getter = Callable[[str, dict[str, Any]], requests.Response]


class SourceResponseError(RuntimeError):
    """The source answered something that is not a page (not JSON, no record list, a 4xx)."""


@dataclass(frozen=True)
class Page:
    records: list[Any]
    next: str | None
    done: bool


def _json(response: requests.Response) -> Any:
    if response.status_code != 200:
        raise SourceResponseError(f"source answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise SourceResponseError("source answered a body that is not JSON") from exc


def _records(body: Any, path: str) -> list[Any]:
    records = dig(body, path) if path else body
    if not isinstance(records, list):
        raise SourceResponseError(f"no record list at {path or '(body)'!r}")
    return records


def zendesk_page(get: Getter, base_url: str, config: dict[str, Any], position: str | None
                 ) -> Page:
    params = {"cursor": position} if position else {"start_time": config.get("start_time", 0)}
    body = _json(get(urljoin(base_url, ZENDESK_EXPORT), params))
    records = _records(body, "tickets")
    after = body.get("after_cursor") or position
    return Page(records, after, bool(body.get("end_of_stream")) or not records)


def json_api_page(get: Getter, base_url: str, config: dict[str, Any], position: str | None
                  ) -> Page:
    pagination = config.get("pagination") or {}
    style = pagination.get("style", "page")
    url = urljoin(base_url, config.get("path") or "")
    size = int(pagination.get("page_size", 100))
    params: dict[str, Any] = {pagination.get("size_param", "per_page"): size}
    if style == "page":
        number = int(position) if position else int(pagination.get("first_page", 1))
        params[pagination.get("page_param", "page")] = number
        response = get(url, params)
        records = _records(_json(response), pagination.get("records_path", ""))
        done = len(records) < size
        return Page(records, str(number if done else number + 1), done)
    if style == "cursor":
        if position:
            params[pagination.get("cursor_param", "cursor")] = position
        body = _json(get(url, params))
        records = _records(body, pagination.get("records_path", ""))
        following = dig(body, pagination.get("next_cursor_path", "next_cursor"))
        return Page(records, str(following) if following else position, not following)
    response = get(position or url, {} if position else params)
    records = _records(_json(response), pagination.get("records_path", ""))
    following = response.links.get("next", {}).get("url")
    if following:
        following = urljoin(response.url or url, following)
    return Page(records, following or position or None, not following)


def read_page(kind: str, get: Getter, base_url: str, config: dict[str, Any],
              position: str | None) -> Page:
    reader = zendesk_page if kind == "zendesk" else json_api_page
    return reader(get, base_url, config, position)
