"""The API docs page: Swagger UI from local files, under a strict Content-Security-Policy.

Swagger UI 5 (npm package swagger-ui-dist, fetched by `make docs-assets` into vendor/swagger-ui)
reads the OpenAPI 3.1 document that flask-smorest serves. The page has no inline script or
style, so its policy allows only this origin's files: no CDN, nothing fetched elsewhere, and
no framing (`frame-ancestors 'none'` and `X-Frame-Options: DENY`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory

from backend.errors import problem

blp = Blueprint("docs_page", __name__, url_prefix="/api/v1/docs")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ASSETS_DIR = ROOT / "vendor" / "swagger-ui"
STATIC_DIR = Path(__file__).resolve().parent / "static"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")

CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Nearbank API</title>
<link rel="stylesheet" href="/api/v1/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/v1/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/v1/docs/assets/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/docs.js"></script>
</body>
</html>
"""


def assets_dir() -> Path:
    """Where Swagger UI's files are: DOCS_ASSETS_DIR, or vendor/swagger-ui of the checkout."""
    return Path(current_app.config.get("DOCS_ASSETS_DIR") or DEFAULT_ASSETS_DIR)


@blp.after_request
def _protect(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    return response


@blp.get("")
def page():
    """The docs page; 503 when Swagger UI's files were not installed (`make docs-assets`)."""
    if not all((assets_dir() / name).is_file() for name in ASSETS):
        return problem(503, "Service Unavailable",
                       "The docs page's files are not installed; run `make docs-assets`.")
    return Response(PAGE, mimetype="text/html")


@blp.get("/docs.js")
def start_script():
    """The script that starts Swagger UI on the document (a file: the policy bans inline)."""
    return send_from_directory(STATIC_DIR, "docs.js", mimetype="text/javascript")


@blp.get("/assets/<path:filename>")
def assets(filename: str):
    """Swagger UI's files, served locally so the docs page works offline."""
    return send_from_directory(assets_dir(), filename)
