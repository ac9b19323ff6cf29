"""The connection page (/console/t/<tenant_id>/connection): is the
business's WhatsApp connected (its Evolution instance's state), does
Evolution post its webhooks where HybridFlow expects them, with the
tenant's secret; owners press "Connect" (core/connect.py: checks the
instance and sets the webhook with a new secret) and pair a phone by QR
code (Evolution's GET /instance/connect). An Evolution failure is a
sentence on the page, never an error page: the owner reads what to fix."""
from __future__ import annotations

from flask import Blueprint, current_app, g, render_template

from ..common.errors import ApiError
from ..core.connect import connect_tenant
from ..core.connection_status import instance_status, pairing
from ..core.urls import default_webhook_url
from . import guard

bp = Blueprint("connection", __name__, url_prefix="/console/t/<tenant_id>")


def expected_url() -> str:
    return default_webhook_url(current_app.config["HF"].n8n_webhook_url)


def timeout() -> float:
    # a page waits for Evolution: never longer than a person would
    return min(float(current_app.config["HF"].http_timeout), 10.0)


def render(*, qr=None, connected=None, problem=None, status: int = 200, template: str = "connection.html",
           polling: bool = False):
    state = instance_status(g.tenant, expected_url=expected_url(), timeout=timeout())
    return render_template(template, conn=state, qr=qr, connected=connected, problem=problem, polling=polling,
                           instance=g.tenant["instance_name"], server=g.tenant["evo_server_url"]), status


@bp.get("/connection")
@guard.tenant_page("read")
def show(tenant_id):
    return render()


@bp.get("/connection/state")
@guard.tenant_page("read")
def state(tenant_id):
    """The state alone (htmx polls it while a QR code is on screen)."""
    return render(template="connection_state.html", polling=True)


@bp.post("/connection/connect")
@guard.tenant_page("settings.change")
def connect(tenant_id):
    try:
        answer = connect_tenant(tenant_id, webhook_url=expected_url(), webhook_secret=None, timeout=timeout(),
                                by=g.principal.label)
    except ApiError as err:
        # Evolution refused or is unreachable (502), or the tenant lacks an address (400): said on the page
        return render(problem=err.message, status=err.status)
    # the new webhook secret is Evolution's business: set there, kept here only as a hash, never shown
    return render(connected=answer)


@bp.post("/connection/qr")
@guard.tenant_page("settings.change")
def qr(tenant_id):
    found = pairing(g.tenant, timeout=timeout())
    return render(qr=found, problem=found["error"])
