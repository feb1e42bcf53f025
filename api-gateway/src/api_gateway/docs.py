"""Serves the OpenAPI document and a Swagger UI page whose assets ship in a pinned package."""
from __future__ import annotations

from flask import (Blueprint, Flask, Response, abort, current_app, jsonify,
                   send_from_directory)
from swagger_ui_bundle import swagger_ui_path

from .openapi import build_document

DOCUMENT_KEY = "api_gateway.openapi"
# Only what the page loads; the package also ships source maps and an ES build.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                    "index.css", "favicon-16x16.png", "favicon-32x32.png"})

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Ticket Triage Suite API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="stylesheet" href="/docs/assets/index.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/assets/init.js"></script>
</body>
</html>
"""
# A file, not an inline script, so the policy needs no 'unsafe-inline' for scripts.
INIT_SCRIPT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
"""
# Swagger UI sets style attributes from script, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "img-src 'self' data:", "style-src 'self' 'unsafe-inline'",
    "script-src 'self'", "connect-src 'self'", "base-uri 'none'", "form-action 'none'",
    "frame-ancestors 'none'", "object-src 'none'",
))
SECURITY_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY,
                    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer"}

bp = Blueprint("docs", __name__)


def init_docs(app: Flask) -> None:
    """Build the document once per app and serve it with the UI."""
    app.extensions[DOCUMENT_KEY] = build_document()
    app.register_blueprint(bp)


@bp.after_request
def _security_headers(resp: Response) -> Response:
    """The page, its assets and the document: no framing, no sniffing, only local sources."""
    resp.headers.update(SECURITY_HEADERS)
    return resp


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return jsonify(current_app.extensions[DOCUMENT_KEY])


@bp.get("/docs")
def swagger_ui() -> Response:
    return Response(PAGE, mimetype="text/html")


@bp.get("/docs/assets/init.js")
def swagger_init() -> Response:
    return Response(INIT_SCRIPT, mimetype="text/javascript")


@bp.get("/docs/assets/<filename>")
def swagger_asset(filename: str) -> Response:
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(str(swagger_ui_path), filename, max_age=86400)
