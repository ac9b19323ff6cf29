"""The admin API describes itself: GET /api/openapi.json (OpenAPI 3.1,
assembled by common/openapi.py from the routes and the pydantic models of
core/api_models*.py, /api/usage of the llm service included) and GET
/api/docs, Swagger UI over it. Swagger UI's files are served from
swagger-ui-dist, pinned in web/package.json and installed by
scripts/install-web-assets.sh (`make up`, `make test`; the Dockerfile's
first stage), so the page needs no internet. Both answer without a token:
they describe the API and hold no data (the page's "Authorize" button takes
a token for trying calls)."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, send_from_directory

from ..common import __version__
from ..common.config import PROJECT_ROOT
from ..common.errors import ApiError, not_found
from ..common.openapi import Operation, document, documented
from ..core.api_models import USAGE, Error

bp = Blueprint("docs", __name__)

ASSETS_DIR = PROJECT_ROOT / "web" / "node_modules" / "swagger-ui-dist"
ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")
TAGS = ("documentation",)

DESCRIPTION = """HybridFlow's admin API. Send `Authorization: Bearer <token>` with either

- `ADMIN_TOKEN`, the platform admin: every tenant, every action;
- a tenant's API token (`hft_...`, made with `POST /api/tenants/{id}/tokens`): that tenant only, with the
  token's role. `viewer` reads; `agent` also pauses and resumes chats; `owner` also changes settings,
  knowledge, users and tokens. Another tenant's ids answer 404, as unknown ids do; a role that may not
  answers 403.

Every refusal is `{"error": {"code", "message", "field"}}`; a 400 names the field. docs/api.md has examples."""

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>HybridFlow admin API</title>
  <link rel="icon" href="docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-testid="api-docs"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      // no badge from the public validator: the page makes no request outside this server
      validatorUrl: null,
      persistAuthorization: false
    });
  </script>
</body>
</html>
"""


def openapi_document() -> dict:
    """Made once per app (its routes do not change after start)."""
    doc = current_app.extensions.get("openapi")
    if doc is None:
        doc = current_app.extensions["openapi"] = document(
            current_app, title="HybridFlow admin API", version=__version__, description=DESCRIPTION,
            error_model=Error, extra=[("/api/usage", "get", USAGE)],
            tags=("tenants", "chats", "users", "tokens", "usage", "schedules", "documentation"))
    return doc


@bp.get("/api/openapi.json")
@documented(Operation("This document (OpenAPI 3.1)", TAGS, public=True, errors=()))
def openapi_json():
    return jsonify(openapi_document())


@bp.get("/api/docs")
@documented(Operation("The API's pages (Swagger UI, served from this server)", TAGS, public=True, errors=(503,),
                      content_type="text/html"))
def docs_page():
    if not (ASSETS_DIR / "swagger-ui-bundle.js").is_file():
        raise ApiError(503, "docs_not_installed", f"Swagger UI is not installed in {ASSETS_DIR}: run "
                       "scripts/install-web-assets.sh (make up and make test do); /api/openapi.json works without it")
    return Response(PAGE, mimetype="text/html")


@bp.get("/api/docs/assets/<name>")
@documented(Operation("Swagger UI's own files", TAGS, public=True, errors=(404,), content_type="text/plain",
                      path_params={"name": "swagger-ui.css, swagger-ui-bundle.js or favicon-32x32.png"}))
def docs_asset(name):
    if name not in ASSETS or not (ASSETS_DIR / name).is_file():
        raise not_found(f"no asset {name!r}")
    return send_from_directory(Path(ASSETS_DIR), name, max_age=3600)
