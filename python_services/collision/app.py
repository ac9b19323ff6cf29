"""The collision service: tenants, sessions, messages, idempotency, the
outbound ledger, the pause/resume rules and the admin API."""
from __future__ import annotations

from ..common.web import create_base_app


def create_app(test_config: dict | None = None):
    app = create_base_app("collision", test_config)
    from . import webhooks

    app.register_blueprint(webhooks.bp)
    return app
