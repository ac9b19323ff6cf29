"""The inbox: every chat of the tenant, newest activity first, with the
customer's name and number, the last message and the state at a glance;
filtered by state, searched by name or number (in any format), a page of
PAGE_SIZE at a time. The list is a fragment (_inbox_rows.html) that htmx
fetches again every few seconds, so the page follows the chats without a
reload; the full page renders the same fragment. While the shop is closed
(core/hours.py), a chat whose customer got the away message or silence
waits for the opening: a badge on its row and a filter of its own."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, abort, g, render_template, request, url_for

from ..common import db
from ..common.params import ascii_whole
from ..core import chat_pauses, hours, sessions
from ..core.jids import chat_from_text
from ..core.settings import effective_settings
from .guard import is_htmx, tenant_page

bp = Blueprint("inbox", __name__, url_prefix="/console/t/<tenant_id>")

PAGE_SIZE = 50
MAX_PAGE = 10_000
MAX_SEARCH_CHARS = 100
# a search with this many digits or more also matches numbers containing them
MIN_SEARCH_DIGITS = 4
# the filter of chats waiting for the shop to open (not a state: data-state keeps its four values)
WAITING = "waiting"


def parse_filters(args) -> dict:
    """state, q, page from the query string; a bad one is a 400 naming it."""
    state = args.get("state", "").strip()
    if state and state not in (*chat_pauses.STATES, WAITING):
        abort(400, f"state must be one of {', '.join(chat_pauses.STATES)}, {WAITING} (or left empty for all)")
    q = args.get("q", "").strip()
    if len(q) > MAX_SEARCH_CHARS:
        abort(400, f"q (the search) must be at most {MAX_SEARCH_CHARS} characters")
    raw_page = args.get("page", "1").strip() or "1"
    page = ascii_whole(raw_page)
    if page is None or not 1 <= page <= MAX_PAGE:
        abort(400, f"page must be a whole number from 1 to {MAX_PAGE}")
    return {"state": state, "q": q, "page": page}


def search_terms(q: str) -> dict:
    """What a search matches: the name as typed, the digits of a number
    however it is written (+55 11 98765-4321, 5511987654321), or a chat's
    JID exactly (the admin API's reading of numbers: core/jids.py)."""
    if not q:
        return {}
    terms = {"search": q}
    found = re.sub(r"\D", "", q)
    if len(found) >= MIN_SEARCH_DIGITS and re.fullmatch(r"[\d\s+().-]+", q):
        terms["digits"] = found
    try:
        terms["chat_id"] = chat_from_text(q)
    except ValueError:
        pass
    return terms


def waiting_for_opening(settings: dict, now: datetime) -> tuple[datetime | None, str]:
    """(since when a chat's outside_hours decision still counts, the badge's
    words) while the shop is closed; (None, "") while it is open. During a
    vacation its start is not known (core/hours.py keeps its end), so every
    chat whose last word was outside_hours waits."""
    shop = hours.status(now, settings)
    if shop.open:
        return None, ""
    since = hours.NEVER_OPENED if shop.vacation else shop.closed_since
    opens = f"opens {hours.when(shop.opens_at, now, shop.zone)}" if shop.opens_at else "no opening hours ahead"
    return since, f"waiting for opening ({opens})"


def load_page(tenant_id, filters: dict) -> dict:
    state = filters["state"]
    paused = None if state in ("", WAITING) else state != "active"
    reasons = chat_pauses.reasons_for(state) if state not in ("", "active", WAITING) else None
    since, waiting_label = waiting_for_opening(effective_settings(g.tenant["settings"]), datetime.now(UTC))
    with db.transaction() as cur:
        rows = sessions.inbox(cur, tenant_id, paused=paused, reasons=reasons, **search_terms(filters["q"]),
                              waiting_since=since, waiting_only=state == WAITING,
                              limit=PAGE_SIZE + 1, offset=(filters["page"] - 1) * PAGE_SIZE)
    return {"chats": rows[:PAGE_SIZE], "has_next": len(rows) > PAGE_SIZE, "waiting_label": waiting_label}


def page_url(tenant_id, filters: dict, endpoint: str = "inbox.inbox", **changes) -> str:
    params = {k: v for k, v in {**filters, **changes}.items() if v and not (k == "page" and v == 1)}
    return url_for(endpoint, tenant_id=tenant_id, **params)


@bp.get("/inbox")
@tenant_page("read")
def inbox(tenant_id):
    filters = parse_filters(request.args)
    listing = load_page(tenant_id, filters)
    template = "_inbox_rows.html" if is_htmx() else "inbox.html"
    return render_template(template, filters=filters, states=chat_pauses.STATES, page_url=page_url,
                           **listing)


@bp.get("/inbox/rows")
@tenant_page("read")
def rows(tenant_id):
    """The list alone, for htmx's polling."""
    filters = parse_filters(request.args)
    return render_template("_inbox_rows.html", filters=filters, page_url=page_url, **load_page(tenant_id, filters))
