"""The evolution service: sends replies through Evolution API."""
from __future__ import annotations

from ..common.web import create_base_app
from ..core import secrets_at_rest


def create_app(test_config: dict | None = None):
    app = create_base_app("evolution", test_config)
    from . import routes

    # tenants' Evolution keys are stored encrypted: no HYBRIDFLOW_SECRET_KEYS, no start
    secrets_at_rest.install(app)
    app.register_blueprint(routes.bp)
    return app
