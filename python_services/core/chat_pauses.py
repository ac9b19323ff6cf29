"""A chat paused or resumed by someone: a person through the admin API or
the console (a pause by hand has no end), or the schedule resuming the
chats whose pause ran out. Each is a row in the tenant's timeline naming
who did it. The pause itself, and the replies in flight it cancels, are the
ledger's (core/ledger.py): this module adds who and why, for the timeline.
"""
from __future__ import annotations

from . import events, sessions
from .ledger import pause_session, resume_session

CHAT_PAUSED = "hybridflow.chat_paused"
CHAT_RESUMED = "hybridflow.chat_resumed"
SCHEDULE = "the schedule"


def pause_by_hand(cur, session: dict, by: str) -> dict:
    """A pause from the admin API or the console (the session locked): no
    end, replies in flight cancelled, and a row in the timeline saying who."""
    was = session["paused"]
    row = pause_session(cur, session["tenant_id"], session["chat_id"], "manual", by=by)
    note = f" (it was paused: {session['pause_reason']})" if was else ""
    events.record_tenant_event(cur, row["tenant_id"], CHAT_PAUSED,
                               f"paused by {by} until resumed by hand{note}", actor=by, chat_id=row["chat_id"])
    return row


def resume_by_hand(cur, session: dict, by: str) -> dict:
    """A resume from the admin API or the console (the session locked), with a row in the timeline saying who."""
    row = resume_session(cur, session["id"])
    was = f"it was paused: {session['pause_reason']}, by {session.get('paused_by') or 'unknown'}" \
        if session["paused"] else "it was not paused"
    events.record_tenant_event(cur, row["tenant_id"], CHAT_RESUMED, f"resumed by {by} ({was})", actor=by,
                               chat_id=row["chat_id"])
    return row


def resume_due_sessions(cur) -> int:
    """Auto-resume: chats paused by a person typing whose pause has run out,
    each with a row in the timeline (actor: the schedule)."""
    resumed = sessions.resume_due(cur)
    for row in resumed:
        events.record_tenant_event(
            cur, row["tenant_id"], CHAT_RESUMED,
            f"resumed by {SCHEDULE}: the pause after a person wrote ran out at {row['paused_until'].isoformat()}",
            actor=SCHEDULE, chat_id=row["chat_id"])
    return len(resumed)
