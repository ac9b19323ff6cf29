"""The evolution service: sends replies through Evolution API."""
from __future__ import annotations

from ..common.web import create_base_app


def create_app(test_config: dict | None = None):
    app = create_base_app("evolution", test_config)
    from . import routes

    app.register_blueprint(routes.bp)
    return app
