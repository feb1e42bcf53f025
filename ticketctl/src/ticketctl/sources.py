"""Tickets to import from a CSV file: column mapping, derived titles, per-row idempotency keys."""
from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from support_shared.schemas import TicketCreate

from .errors import TicketctlError
from .importer import RowFailure, TicketRequest

TITLE_MAX = next(m.max_length for m in TicketCreate.model_fields["title"].metadata
                 if hasattr(m, "max_length"))
DERIVED_TITLE_CHARS = 80
ELLIPSIS = "\u2026"
ENCODING = "utf-8-sig"        # a BOM from spreadsheet exports is dropped


class SourceError(TicketctlError):
    """The file cannot be read as CSV (encoding, quoting, a field over the size limit)."""


@dataclass(frozen=True)
class ColumnMapping:
    description: str = "Document"
    title: str | None = None          # None: derived from the description
    priority: str | None = None       # None: the API's default (medium)
    user_name: str = "ticketctl import"
    user_email: str = "import@example.com"

    def columns(self) -> list[str]:
        return [c for c in (self.description, self.title, self.priority) if c]


def shorten(text: str, limit: int) -> str:
    """``text`` with whitespace collapsed, cut at a word boundary to at most ``limit``
    characters (an ellipsis marks the cut)."""
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    cut = words[: limit - 1]
    if " " in cut and not words[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + ELLIPSIS


def derive_title(description: str) -> str:
    """The first words of the description, sentence-cased, within ``DERIVED_TITLE_CHARS``."""
    title = shorten(re.split(r"(?<=[.!?])\s", description.strip(), maxsplit=1)[0],
                    DERIVED_TITLE_CHARS)
    return title[:1].upper() + title[1:]


def row_key(header: list[str], record: list[str], row: int) -> str:
    """Idempotency key of data row ``row``: its content (with the header) and its position, so
    a re-run of the same file, even after rows were appended, sends the same keys."""
    digest = hashlib.sha256()
    for part in (*header, "\x1e", str(row), "\x1e", *record):
        digest.update(part.encode() + b"\x1f")
    return f"ticketctl-import-{digest.hexdigest()[:48]}"


def _reader(path: Path) -> Iterator[list[str]]:
    try:
        with path.open(encoding=ENCODING, newline="") as handle:
            reader = csv.reader(handle)
            try:
                yield from reader
            except csv.Error as exc:
                raise SourceError(f"{path}: not valid CSV near line {reader.line_num}: "
                                  f"{exc}") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror or exc}") from exc


def read_header(path: Path) -> list[str]:
    for header in _reader(path):
        return [h.strip() for h in header]
    raise SourceError(f"{path}: empty file (no header row)")


def count_rows(path: Path, limit: int | None = None) -> int:
    """How many data rows will be read (for the progress bar)."""
    total = -1
    for total, _ in enumerate(_reader(path)):
        if limit is not None and total >= limit:
            break
    return max(total, 0)


def _request(header: list[str], record: list[str], row: int,
             mapping: ColumnMapping) -> TicketRequest | RowFailure:
    values = dict(zip(header, record))
    description = (values.get(mapping.description) or "").strip()
    if not description:
        return RowFailure(row, f"empty description (column {mapping.description!r})")
    title = (values.get(mapping.title) or "").strip() if mapping.title else ""
    body = {
        "title": shorten(title, TITLE_MAX) if title else derive_title(description),
        "description": description,
        "user_name": mapping.user_name,
        "user_email": mapping.user_email,
    }
    priority = (values.get(mapping.priority) or "").strip().lower() if mapping.priority else ""
    if priority:
        body["priority"] = priority
    return TicketRequest(row, row_key(header, record, row), body)


def csv_requests(path: Path, mapping: ColumnMapping,
                 limit: int | None = None) -> Iterator[TicketRequest | RowFailure]:
    """One request (or a known-bad row) per data row, row 1 being the first after the header."""
    records = _reader(path)
    header = [h.strip() for h in next(records, [])]
    for row, record in enumerate(records, start=1):
        if limit is not None and row > limit:
            break
        yield _request(header, record, row, mapping)
