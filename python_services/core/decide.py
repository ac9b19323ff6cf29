"""The rules: one normalised Evolution event, the chat's state, the tenant's
settings and a few facts from the database -> the decision and why.

Pure: no database, no clock. Every row of the events timeline was written
from a Verdict of `decide`, so reading this function top to bottom explains
any row. The webhook (webhooks.py) gathers the facts and applies the effects.
Business hours are core/hours.py's rules, asked with the facts' `now`; the
periods they count in (the closed period, the tenant's local hour and day)
are `periods()`, which the webhook also uses to look the facts up.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import hours
from .normalize import Event
from .text_template import render_template

# pauses that only a person lifts (API, `#bot on`); auto-resume leaves them
HAND_PAUSES = ("manual", "owner_command", "customer_request", "handoff")


@dataclass(frozen=True)
class Facts:
    """What the database knows that the rules need."""
    now: datetime
    # id of the first delivery's event row when this one was seen before
    duplicate_of: int | None = None
    # the message id is in the outbound ledger: the bot sent it
    in_ledger: bool = False
    # the chat's sends whose WhatsApp id is not known yet: claimed by the guard
    # and not yet answered, of unknown fate (Evolution timed out or failed
    # after it may have sent), or failed after going out to Evolution:
    # [{"id", "text", "claimed_at", "state"?, "tried_at"?}], oldest first
    claimed_sends: list = field(default_factory=list)
    # edit / deletion / reaction: the message it is about is in history
    target_known: bool = False
    # limits: the bot's replies in this chat since the tenant's local hour
    # began (sent or being sent), and the tenant's estimated LLM spend since
    # its local midnight, in US dollars
    replies_this_hour: int = 0
    spent_today_usd: float = 0.0
    # what was already said once in its period (see periods())
    away_sent: bool = False
    rate_limited_this_hour: bool = False
    budget_told_today: bool = False


@dataclass(frozen=True)
class Verdict:
    decision: str
    reason: str
    # who wrote it, as recorded (the rules may find that a fromMe is the bot)
    author: str | None = None
    store_message: bool = False
    # ("human_takeover", until) / ("owner_command", None) / ("customer_request", None);
    # a third element names who paused it when the reason alone does not say
    pause: tuple | None = None
    resume: bool = False
    # cancel the chat's replies in flight, with this reason
    cancel_replies: str | None = None
    reply: bool = False
    notify: bool = False
    # a fromMe that is a human's: last_human_at moves to its own time
    human_at: datetime | None = None
    # the send an echo matched: a claimed one gets the id bound, an unknown or
    # failed one is confirmed as sent by it
    echo_outbound_id: int | None = None
    # the reply's text is decided here (the away message): sent as it is, no LLM
    fixed_text: str | None = None
    # the reply is written by the offline provider only (over the daily budget)
    over_budget: bool = False
    # said once per period: (kind, period start), recorded with the decision
    once: tuple | None = None


@dataclass(frozen=True)
class Periods:
    """The periods the rules count in, at one instant."""
    shop: hours.Status
    # the tenant's local hour and day
    hour: datetime
    day: datetime


def periods(now: datetime, settings: dict) -> Periods:
    return Periods(hours.status(now, settings), hours.hour_start(now, settings["timezone"]),
                   hours.day_start(now, settings["timezone"]))


def decide(event: Event, chat: dict | None, settings: dict, facts: Facts) -> Verdict:
    # 3. a delivery seen before has no effect (checked first: receipts and
    #    edits are redelivered too, and only the first one counts)
    if facts.duplicate_of is not None:
        return Verdict("duplicate", f"already handled as event {facts.duplicate_of}")

    # 2. not a message: connection, presence, receipts
    if event.kind == "other":
        return Verdict("ignore", f"not a message event ({event.event_type})")
    if event.kind == "receipt":
        return Verdict("ignore", f"delivery status {event.status or 'unknown'}, changes nothing")

    # 7. edits and deletions update history only; they are never a person replying
    if event.kind in ("edit", "revoke"):
        what = "edit" if event.kind == "edit" else "deletion"
        if not facts.target_known:
            return Verdict("ignore", f"{what} of a message not in history")
        return Verdict("ignore", f"{what} stored in history, changes nothing")

    # 4. chats the bot never speaks in
    kind = event.chat_kind
    if kind in ("status", "newsletter", "broadcast"):
        return Verdict("ignore", f"{kind} chat")
    if kind == "group" and settings["ignore_groups"]:
        return Verdict("ignore", "group chat (ignore_groups)")
    if _is_ignored_jid(event.chat_id, settings["ignore_jids"]):
        return Verdict("ignore", "chat is in ignore_jids")

    # 7. reactions are stored and change nothing
    if event.kind == "reaction":
        return Verdict("ignore", "reaction stored, changes nothing", author=event.author, store_message=True)

    paused, due = _pause_state(chat, facts.now)
    if event.from_me:
        return _from_the_business(event, chat, paused, due, settings, facts)
    return _from_the_customer(event, paused, due, settings, facts)


def _from_the_business(event, chat, paused, due, settings, facts) -> Verdict:
    # 5a. the bot's own message coming back: by its id, or by the text of a
    #     send whose id is not known yet (the echo can beat Evolution's send
    #     answer; a send of unknown fate or recorded as failed may have gone out)
    if facts.in_ledger:
        return Verdict("bot_echo", "message id is in the outbound ledger", author="bot", store_message=True,
                       resume=due)
    match = _claimed_send_matching(event, facts, settings["echo_window_seconds"])
    if match is not None:
        said = _SEND_STATES[match.get("state", "claimed")]
        return Verdict("bot_echo", f"same text as send {match['id']} {said}",
                       author="bot", store_message=True, echo_outbound_id=match["id"], resume=due)
    if event.author == "system":
        return Verdict("ignore", "Evolution's own automatic message (PENDING upsert, e.g. call rejected), not a person",
                       author="system", resume=due)

    # 5b. owner commands
    command = _owner_command(event.text, settings["owner_commands"])
    if command == "pause":
        return Verdict("command", f"owner typed {settings['owner_commands']['pause']!r}: paused until resumed by hand",
                       author="business", pause=("owner_command", None), cancel_replies="owner_command")
    if command == "resume":
        was = f"was paused ({chat['pause_reason']})" if paused else "was not paused"
        return Verdict("command", f"owner typed {settings['owner_commands']['resume']!r}: resumed ({was})",
                       author="business", resume=True)

    # 5c. a person of the business (or another integration) wrote in the chat
    human = dict(author="business", store_message=True, human_at=event.sent_at)
    until = event.sent_at + timedelta(minutes=settings["resume_after_minutes"])
    if paused and chat["pause_reason"] in HAND_PAUSES:
        return Verdict("human_takeover", f"a person wrote; chat stays paused ({chat['pause_reason']}) until resumed by hand",
                       cancel_replies="human_takeover", **human)
    if paused:
        until = max(until, chat["paused_until"] or until)
        return Verdict("human_takeover", f"a person wrote again; pause extended to {until.isoformat()}",
                       pause=("human_takeover", until), cancel_replies="human_takeover", **human)
    if until <= facts.now:
        # a replayed old message: human activity as of its own time, nothing to pause now
        return Verdict("human_takeover", f"a person wrote at {event.sent_at.isoformat()}; that pause ended at "
                       f"{until.isoformat()}", resume=due, **human)
    return Verdict("human_takeover", f"a person wrote; bot paused until {until.isoformat()}",
                   pause=("human_takeover", until), cancel_replies="human_takeover", notify=True, **human)


def _from_the_customer(event, paused, due, settings, facts) -> Verdict:
    customer = dict(author="customer", store_message=True, resume=due)
    # the owner answering a notification on the team's number is not a customer
    if settings["notify_owner_phone"] and _is_ignored_jid(event.chat_id, [settings["notify_owner_phone"]]):
        return Verdict("ignore", "chat with the team's notification number (notify_owner_phone): the bot does "
                       "not answer it", **customer)
    # 6a. a paused chat keeps the message, and the bot stays quiet
    if paused:
        return Verdict("paused", "chat is paused, no reply", **customer)
    # a replay after a reconnect: no automatic answer to old news
    age = facts.now - event.sent_at
    if age > timedelta(minutes=settings["stale_after_minutes"]):
        return Verdict("stale", f"message is {int(age.total_seconds() // 60)} minutes old "
                       f"(stale_after_minutes {settings['stale_after_minutes']}), no reply", **customer)
    # 6b. the customer asks for a person
    keyword = _handoff_keyword(event.text, settings["handoff_keywords"])
    if keyword:
        return Verdict("handoff", f"customer asked for a person ({keyword!r}); paused until resumed by hand",
                       pause=("customer_request", None), cancel_replies="customer_request", notify=True, **customer)
    now = facts.now
    at = periods(now, settings)
    shop = at.shop
    # 6c. closed: quiet, or the away message once per closed period
    if not shop.open and settings["outside_hours"] == "silent":
        return Verdict("outside_hours", f"{shop.describe(now)}; no reply (outside_hours silent)", **customer)
    if not shop.open and settings["outside_hours"] == "away_message":
        return _away_message(shop, settings, facts, customer)
    # 6d. limits: replies per chat per hour (a loop with another bot ends here), the daily LLM budget
    limit = settings["max_replies_per_chat_per_hour"]
    if facts.replies_this_hour >= limit:
        until = f"{hours.when(at.hour + timedelta(hours=1), now, shop.zone)}, {hours.zone_label(shop.zone)}"
        if facts.rate_limited_this_hour:
            return Verdict("ignore", f"still over max_replies_per_chat_per_hour ({limit}); rate_limited was "
                           f"recorded this hour: no reply until {until}", **customer)
        sent = f"{facts.replies_this_hour} {'reply' if facts.replies_this_hour == 1 else 'replies'}"
        return Verdict("rate_limited", f"the bot sent {sent} in this chat this hour "
                       f"(max_replies_per_chat_per_hour {limit}): no reply until {until}", notify=True,
                       once=("rate_limited", at.hour), **customer)
    budget = settings["daily_llm_budget_usd"]
    if budget is not None and facts.spent_today_usd >= budget:
        return _over_budget(facts, settings, budget, at, customer)
    # 6e. answer (after the debounce wait, once for the whole burst)
    if not shop.open:
        return Verdict("outside_hours", f"{shop.describe(now)}; the bot answers and says when it opens "
                       "(outside_hours reply)", reply=True, **customer)
    return Verdict("reply", "customer message in an active chat", reply=True, **customer)


def _away_message(shop, settings, facts, customer) -> Verdict:
    closed = shop.describe(facts.now)
    if facts.away_sent:
        return Verdict("outside_hours", f"{closed}; the away message was already sent in this closed period: "
                       "no reply", **customer)
    text = render_template(settings["away_message"], {"opens": shop.opens_text(facts.now)}).strip()
    if not text:
        return Verdict("outside_hours", f"{closed}; away_message is empty: no reply", **customer)
    return Verdict("outside_hours", f"{closed}; sending the away message (once per closed period)",
                   reply=True, fixed_text=text, once=("away_message", shop.closed_since), **customer)


def _over_budget(facts, settings, budget, at: Periods, customer) -> Verdict:
    spent = f"today's LLM spend (US$ {facts.spent_today_usd:.2f}) reached daily_llm_budget_usd ({budget:g})"
    # the owner hears of it once a day
    tell = {} if facts.budget_told_today else dict(notify=True, once=("over_budget", at.day))
    if settings["over_budget"] == "handoff":
        return Verdict("over_budget", f"{spent}: the chat goes to a person (over_budget handoff), paused until "
                       "resumed by hand", pause=("handoff", None, "the daily LLM budget (over_budget handoff)"),
                       **tell, **customer)
    return Verdict("over_budget", f"{spent}: the offline provider answers (over_budget offline)", reply=True,
                   over_budget=True, **tell, **customer)


# ---------------------------------------------------------------- small rules


def _pause_state(chat, now) -> tuple[bool, bool]:
    """(paused now, a timed pause that has run out and should be lifted)."""
    if not chat or not chat["paused"]:
        return False, False
    if chat["paused_until"] is not None and chat["paused_until"] <= now:
        return False, True
    return True, False


_SEND_STATES = {
    "claimed": "claimed and not yet confirmed",
    "unknown": "whose fate was unknown (Evolution did not answer, or failed after it may have sent): it was sent",
    "failed": "recorded as failed: it was sent after all",
}


def _claimed_send_matching(event, facts, window_seconds) -> dict | None:
    """The send (within the echo window from its latest try) whose text the
    echo carries; a send in flight before one whose fate is already decided."""
    text = (event.text or "").strip()
    if not text:
        return None
    oldest = facts.now - timedelta(seconds=window_seconds)
    matching = [send for send in facts.claimed_sends
                if send["text"].strip() == text and (send.get("tried_at") or send["claimed_at"]) >= oldest]
    order = {"claimed": 0, "unknown": 1, "failed": 2}
    return min(matching, key=lambda send: order.get(send.get("state", "claimed"), 3), default=None)


def _owner_command(text, commands) -> str | None:
    said = (text or "").strip().casefold()
    for name in ("pause", "resume"):
        if said and said == commands[name].strip().casefold():
            return name
    return None


def _handoff_keyword(text, keywords) -> str | None:
    said = (text or "").casefold()
    for keyword in keywords:
        # whole words only: "human" must not fire on "inhumano"
        if re.search(r"(?<!\w)" + re.escape(keyword.casefold()) + r"(?!\w)", said):
            return keyword
    return None


def _is_ignored_jid(chat_id, ignore_jids) -> bool:
    if not chat_id or not ignore_jids:
        return False
    number = chat_id.partition("@")[0]
    return any(j in (chat_id, number) for j in ignore_jids)
