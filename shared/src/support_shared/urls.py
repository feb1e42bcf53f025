"""The URL converter every service uses for ids in paths: ASCII digits, a positive 64-bit int."""
from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, ValidationError

MAX_ID = 2**63 - 1


class AsciiIdConverter(IntegerConverter):
    """``<int:...>`` for every service: only ASCII digits match, at most a signed 64-bit int.

    Werkzeug's own int converter matches ``\\d``, which takes any Unicode digit (full-width
    ``８１５７`` became ticket 8157 in one service and 404 in another). Anything else is no match,
    so every service answers the same 404 for an id that cannot exist.
    """

    regex = r"[0-9]{1,19}"

    def __init__(self, map, *args: object, **kwargs: object) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)  # type: ignore[arg-type]

    def to_python(self, value: str) -> int:
        if not (value.isascii() and value.isdigit()):
            raise ValidationError()
        return super().to_python(value)


def install_id_converter(app: Flask) -> None:
    """Replace Flask's ``int`` converter on ``app`` (before any route using it is added)."""
    app.url_map.converters["int"] = AsciiIdConverter
