"""The settings page (/console/t/<tenant_id>/settings): every setting a
business may change, grouped and explained (settings_fields.py), with a
preview of the system prompt the model receives. Everyone reads it; owners
save it. Saving changes only what changed (merged key by key, never the
whole object; an empty secret stays as it is), through the same rules and
the same timeline row as the admin API's PATCH (core/tenant_changes.py);
one wrong field and nothing is saved, each message next to its field."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, g, render_template, request

from ..common import db
from ..common.errors import ApiError
from ..core import prompt, tenants
from ..core.settings import effective_settings
from ..core.tenant_changes import change_tenant
from . import guard
from .settings_fields import DAY_NAMES, field_by_key, shown_groups
from .settings_form import current_values, error_key, in_words, posted_values, read_form, secret_hints

bp = Blueprint("settings_page", __name__, url_prefix="/console/t/<tenant_id>")

# the name the preview fills in for {customer_name}
PREVIEW_CUSTOMER = "Maria"


def prompt_preview(tenant: dict, now: datetime | None = None) -> str:
    """The system prompt as the model would get it for a customer writing now
    (core/prompt.py builds it for every reply too)."""
    settings = effective_settings(tenant["settings"])
    variables = prompt.prompt_variables(business_name=tenant["business_name"], customer_name=PREVIEW_CUSTOMER,
                                        timezone_name=settings["timezone"], now=now or datetime.now(timezone.utc))
    return prompt.build_system_prompt(tenant["system_prompt"], variables, int(settings["max_reply_chars"]))


def render(tenant: dict, *, values=None, errors=None, saved=None, status: int = 200):
    return render_template(
        "settings.html", groups=shown_groups(), values=values or current_values(tenant), errors=errors or {},
        saved=saved, secret_hints=secret_hints(tenant), day_names=DAY_NAMES, preview=prompt_preview(tenant),
        preview_customer=PREVIEW_CUSTOMER,
    ), status


@bp.get("/settings")
@guard.tenant_page("read")
def show(tenant_id):
    return render(g.tenant)


@bp.post("/settings")
@guard.tenant_page("settings.change")
def save(tenant_id):
    columns, changes, errors = read_form(request.form, g.tenant)
    if errors:
        return render(g.tenant, values=posted_values(request.form, g.tenant), errors=errors, status=400)
    fields = field_by_key()
    try:
        with db.transaction() as cur:
            row = tenants.by_id(cur, tenant_id, lock=True)
            row = change_tenant(cur, row, columns, changes if changes else None, actor=g.principal.label)
    except ApiError as err:
        # a rule over several fields (typing_min_ms <= typing_max_ms) speaks only now
        key = error_key(err.field)
        field = fields.get(key)
        message = in_words(err.message, field) if field else err.message
        return render(g.tenant, values=posted_values(request.form, g.tenant),
                      errors={key if field else "_form": message}, status=400)
    g.tenant = row
    saved = [fields[k].label for k in (*columns, *changes) if k in fields]
    return render(row, saved=saved)
