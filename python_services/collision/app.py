"""The collision service: tenants, sessions, messages, idempotency, the
outbound ledger, the pause/resume rules and the admin API."""
from __future__ import annotations

from ..common.web import create_base_app


def create_app(test_config: dict | None = None):
    app = create_base_app("collision", test_config)
    from . import connect, events, flow_errors, replies, sessions, tenants, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(replies.bp)
    app.register_blueprint(tenants.bp)
    app.register_blueprint(sessions.bp)
    app.register_blueprint(sessions.cron_bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(connect.bp)
    app.register_blueprint(flow_errors.bp)
    return app
