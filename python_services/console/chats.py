"""A chat: the conversation (the customer, the bot, the people of the
business) among the decisions HybridFlow took and why, in plain words, and
who did what; pause, resume and "bot off in this chat".

The page shows the newest PAGE_SIZE events, with the messages no event
carries (the bot's confirmed replies) and the replies that were cancelled or
failed within the same span; "show older" walks back a page at a time, so a
chat of thousands of events costs one page. The state and the timeline are
fragments htmx fetches again every few seconds.

Pause and resume are the admin API's own (core/chat_pauses.py): the session
locked, the change, a row in the timeline naming the person."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from ..common import db
from ..common.logs import log_context
from ..common.params import ascii_whole
from ..core import chat_pauses, events, messages, reply_tokens, sessions
from .guard import is_htmx, tenant_page

bp = Blueprint("chats", __name__, url_prefix="/console/t/<tenant_id>/chats")

PAGE_SIZE = 100
CHANGES = {"pause": chat_pauses.pause_by_hand, "resume": chat_pauses.resume_by_hand,
           "off": chat_pauses.switch_off_by_hand}


def chat_of(cur, tenant_id, session_id, *, lock: bool = False) -> dict:
    """The tenant's chat; another tenant's, an unknown or a malformed id: the same 404."""
    try:
        sid = uuid.UUID(str(session_id))
    except ValueError:
        abort(404, "no such chat")
    row = sessions.by_id(cur, sid, lock=lock)
    if row is None or row["tenant_id"] != tenant_id:
        abort(404, "no such chat")
    return row


def parse_before(args) -> int | None:
    raw = args.get("before", "").strip()
    if not raw:
        return None
    before = ascii_whole(raw)
    if before is None:
        abort(400, "before must be an event's id (a whole number), from the \"show older\" link")
    return before


def timeline(cur, chat: dict, before_id: int | None) -> dict:
    """The page of entries, oldest first: {"entries", "older"} where each
    entry is {"kind": "event"|"message"|"reply", "at", "row"} and older is
    the event id to show older entries from (None at the start of the chat)."""
    upper = None
    if before_id is not None:
        upper = events.received_at(cur, chat["tenant_id"], chat["chat_id"], before_id)
        if upper is None:
            abort(400, "before must be one of this chat's events")
    rows = events.chat_page(cur, chat["tenant_id"], chat["chat_id"], PAGE_SIZE + 1, before_id)
    older = None
    lower = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        older = rows[-1]["id"]
        lower = rows[-1]["received_at"]
    entries = [{"kind": "event", "at": r["received_at"], "row": r} for r in rows]
    entries += [{"kind": "message", "at": m["sent_at"], "row": m}
                for m in messages.unrecorded(cur, chat["id"], after=lower, before=upper, limit=PAGE_SIZE)]
    entries += [{"kind": "reply", "at": t["finished_at"], "row": t}
                for t in reply_tokens.ended_unsent(cur, chat["id"], after=lower, before=upper, limit=PAGE_SIZE)]
    entries.sort(key=lambda e: e["at"])
    return {"entries": entries, "older": older}


def render_chat(tenant_id, session_id, template: str, before_id: int | None = None, *, with_timeline=True):
    with db.transaction() as cur:
        row = chat_of(cur, tenant_id, session_id)
        page = timeline(cur, row, before_id) if with_timeline else {}
    return render_template(template, chat=row, before=before_id, **page)


@bp.get("/<session_id>")
@tenant_page("read")
def chat(tenant_id, session_id):
    return render_chat(tenant_id, session_id, "chat.html", parse_before(request.args))


@bp.get("/<session_id>/state")
@tenant_page("read")
def state(tenant_id, session_id):
    """The state block alone, for htmx's polling."""
    return render_chat(tenant_id, session_id, "_chat_state.html", with_timeline=False)


@bp.get("/<session_id>/timeline")
@tenant_page("read")
def timeline_fragment(tenant_id, session_id):
    """The newest page of the timeline alone, for htmx's polling."""
    return render_chat(tenant_id, session_id, "_chat_timeline.html")


@bp.post("/<session_id>/<change>")
@tenant_page("chats.pause")
def change_state(tenant_id, session_id, change):
    """pause | resume | off; htmx gets the new state block, a plain form a
    redirect back to the chat."""
    apply = CHANGES.get(change)
    if apply is None:
        abort(404, "no such action: pause, resume or off")
    with db.transaction() as cur:
        row = chat_of(cur, tenant_id, session_id, lock=True)
        row = apply(cur, row, g.principal.label)
    log_context(tenant=str(tenant_id), chat=row["chat_id"], decision=change)
    if is_htmx():
        return render_template("_chat_state.html", chat=row)
    return redirect(url_for("chats.chat", tenant_id=tenant_id, session_id=row["id"]))
