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

# A chat's state at a glance (the console's inbox and chat page), from its
# pause reason: `active` (the bot answers); `paused`: a person of the
# business wrote (until paused_until, pushed out by each further message) or
# someone pressed pause in the API or the console (until resumed by hand);
# `handoff`: the customer asked for a person; `off`: the bot switched off in
# this chat (`#bot off` from the phone, or the console's "bot off in this
# chat"). Every pause but a person writing waits for a hand to lift it
# (decide.HAND_PAUSES).
STATES = ("active", "paused", "handoff", "off")
STATE_OF_REASON = {"human_takeover": "paused", "manual": "paused", "handoff": "handoff",
                   "customer_request": "handoff", "owner_command": "off"}


def state_of(session: dict) -> str:
    if not session["paused"]:
        return "active"
    return STATE_OF_REASON.get(session["pause_reason"], "paused")


def reasons_for(state: str) -> tuple[str, ...]:
    """The pause reasons a (paused) state stands for: the inbox's filter."""
    return tuple(reason for reason, shown in STATE_OF_REASON.items() if shown == state)


def pause_by_hand(cur, session: dict, by: str) -> dict:
    """A pause from the admin API or the console (the session locked): no
    end, replies in flight cancelled, and a row in the timeline saying who."""
    return _pause(cur, session, "manual", by, f"paused by {by} until resumed by hand")


def switch_off_by_hand(cur, session: dict, by: str) -> dict:
    """"Bot off in this chat" from the console (the session locked): what
    `#bot off` typed on the business's phone does (reason owner_command: no
    end, replies in flight cancelled), with a row in the timeline saying who."""
    return _pause(cur, session, "owner_command", by,
                  f"bot switched off in this chat by {by} until switched on by hand")


def _pause(cur, session: dict, reason: str, by: str, said: str) -> dict:
    was = session["paused"]
    row = pause_session(cur, session["tenant_id"], session["chat_id"], reason, by=by)
    note = f" (it was paused: {session['pause_reason']})" if was else ""
    events.record_tenant_event(cur, row["tenant_id"], CHAT_PAUSED, said + note, actor=by, chat_id=row["chat_id"])
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
