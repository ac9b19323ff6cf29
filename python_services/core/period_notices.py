"""Every query on `period_notices`: what was said once in its period (the
away message per chat per closed period, `rate_limited` per chat per local
hour, the budget notice per tenant per local day). Only a chat's (or the
tenant's) current period matters, so recording a new one drops the older
ones of the same kind: the table holds about one row per chat."""
from __future__ import annotations

KINDS = ("away_message", "rate_limited", "over_budget")
# chat_id of a notice about the whole tenant
TENANT_WIDE = ""


def said(cur, tenant_id, kind: str, chat_id: str, period_start) -> bool:
    cur.execute("SELECT 1 FROM period_notices WHERE tenant_id = %s AND kind = %s AND chat_id = %s"
                " AND period_start = %s", (tenant_id, kind, chat_id, period_start))
    return cur.fetchone() is not None


def record(cur, tenant_id, kind: str, chat_id: str, period_start) -> bool:
    """Records the notice for its period; False when it was already there
    (a concurrent webhook recorded it first: it is said once)."""
    cur.execute("DELETE FROM period_notices WHERE tenant_id = %s AND kind = %s AND chat_id = %s"
                " AND period_start < %s", (tenant_id, kind, chat_id, period_start))
    cur.execute("INSERT INTO period_notices (tenant_id, kind, chat_id, period_start) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING RETURNING period_start", (tenant_id, kind, chat_id, period_start))
    return cur.fetchone() is not None
