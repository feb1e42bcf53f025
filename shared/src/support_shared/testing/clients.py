"""Flask test clients of internal services that carry the internal credential."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from ..internal import EXTENSION


class InternalClient(FlaskClient):
    """Sends the app's internal credential (``X-Internal-Token``) with every request; pass
    ``headers={"X-Internal-Token": ...}`` to send another."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        token = self.application.extensions.get(EXTENSION)
        if token:
            self.environ_base["HTTP_X_INTERNAL_TOKEN"] = token


def trusted(app: Flask) -> Flask:
    """``app``, whose ``test_client()`` now sends its internal credential."""
    app.test_client_class = InternalClient
    return app
