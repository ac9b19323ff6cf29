"""The evolution service: sends replies through Evolution API."""
from __future__ import annotations

from ..common import metrics
from ..common.web import create_base_app
from ..core import secrets_at_rest


def create_app(test_config: dict | None = None):
    app = create_base_app("evolution", test_config)
    from . import media, notify, routes

    # tenants' Evolution keys are stored encrypted: no HYBRIDFLOW_SECRET_KEYS, no start
    secrets_at_rest.install(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(media.bp)
    # telling the team (the inbound flow's "Notify the team" branch)
    app.register_blueprint(notify.bp)
    # requests by route, sends and retries at GET /metrics (service token; docs/metrics.md)
    metrics.install(app)
    return app
