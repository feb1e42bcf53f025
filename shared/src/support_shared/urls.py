"""The URL converter every service uses for ids in paths: ASCII digits, within a 64-bit int."""
from __future__ import annotations

from flask import Flask
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1


class AsciiIdConverter(IntegerConverter):
    """``<int:...>`` for every service: only ASCII digits match, at most a signed 64-bit int.

    Werkzeug's own int converter matches ``\\d``, which takes any Unicode digit (full-width
    ``８１５７`` became ticket 8157 in one service and 404 in another). Anything else does not
    match, and an id over the 64-bit range is a 404 itself: werkzeug's ValidationError would
    let a rule of another method answer 405 instead.
    """

    regex = r"[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value) if value.isascii() and value.isdigit() else -1
        if not 0 <= number <= MAX_ID:
            raise NotFound()
        return number


def install_id_converter(app: Flask) -> None:
    """Replace Flask's ``int`` converter on ``app`` (before any route using it is added)."""
    app.url_map.converters["int"] = AsciiIdConverter
