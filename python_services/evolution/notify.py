"""POST /notify: tell the team about one recorded event (a takeover, a
handoff, a chat over its hourly limit, the daily budget spent) — the inbound
flow's "Notify the team" branch calls it when the webhook's answer says
`notify`. What is said, to whom and for which events are the tenant's
settings (core/notify.py): a WhatsApp message to notify_owner_phone sent
from the tenant's own Evolution instance, and an e-mail to notify_email when
SMTP_HOST is set.

The WhatsApp message is a send of the bot's like any other: claimed in the
outbound ledger (by its text) before it goes, its WhatsApp id recorded once
Evolution answers. So its echo, which comes back in the chat with the
owner's number, is the bot's own (`bot_echo`): it never pauses that chat,
and it cannot touch the customer's chat it is about, which is another chat.

Each event is told at most once (the notifications table); every outcome is
a value in the answer, never a 500."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

from ..common import db
from ..common.auth import protect
from ..common.errors import bad_request, not_found
from ..common.logs import log_context, log_event
from ..common.mail import MailError, mail_on, send_mail
from ..common.web import json_body
from ..core import events, hours, notifications, notify, outbound, tenants
from ..core.evolution_client import EvolutionError
from ..core.settings import effective_settings
from .sending import client_for

log = logging.getLogger("hybridflow.evolution.notify")

bp = Blueprint("notify", __name__)
protect(bp)


@bp.post("/notify")
def post_notify():
    body = json_body()
    event_id = body.get("event_id")
    if isinstance(event_id, bool) or not isinstance(event_id, int) or event_id < 1:
        raise bad_request("event_id must be the recorded event's id (a whole number), as the webhook answered it",
                          "event_id")
    result = notify_team(event_id)
    log_context(outcome=result["outcome"])
    return jsonify(result)


def notify_team(event_id: int) -> dict:
    cfg = current_app.config["HF"]
    with db.transaction() as cur:
        row = events.for_notice(cur, event_id)
        if row is None:
            raise not_found(f"no event {event_id}", "event_id")
        tenant = tenants.by_id(cur, row["tenant_id"])
        settings = effective_settings(tenant["settings"])
        log_context(tenant=str(tenant["id"]))
        event = notify.event_of(row["decision"])
        if event is None:
            return {"outcome": "skipped", "reason": f"the team is not told of {row['decision']} decisions"}
        if not row["notify"]:
            # e.g. a concurrent duplicate of a once-per-period notice: another event already told it
            return {"outcome": "skipped", "event": event, "reason": "the event's verdict did not ask to tell the team"}
        if event not in settings["notify_events"]:
            return {"outcome": "skipped", "event": event, "reason": f"{event} is not in notify_events"}
        phone = settings["notify_owner_phone"]
        email = settings["notify_email"] if mail_on(cfg) else ""
        if not phone and not email:
            return {"outcome": "off", "event": event,
                    "reason": "no notify_owner_phone, and no notify_email (or no SMTP_HOST on the services)"}
        zone = hours.zone_of(settings["timezone"])
        text = notify.compose(
            settings["notify_text"][event], business_name=tenant["business_name"], chat_id=row["chat_id"],
            customer_name=row["customer_name"], message=row["text"], reason=row["reason"], event=event,
            time=f"{row['received_at'].astimezone(zone):%a %H:%M} ({hours.zone_label(zone)})")
        if not notifications.claim(cur, event_id, tenant["id"], event, text):
            return {"outcome": "already_sent", "event": event}
        owner_chat = f"{phone}@s.whatsapp.net"
        claimed = outbound.insert_claimed(cur, tenant_id=tenant["id"], chat_id=owner_chat, reply_token_id=None,
                                          part=0, text=text) if phone else None
    # no transaction is open while Evolution or the mail server is called
    whatsapp = _whatsapp(cfg, tenant, phone, text, claimed) if phone else "off"
    mailed = _email(cfg, email, notify.subject(event, tenant["business_name"]), text) if email else "off"
    with db.transaction() as cur:
        notifications.finish(cur, event_id, whatsapp=whatsapp, email=mailed)
    log_event(log, "team notified", event=event, event_id=event_id, whatsapp=whatsapp, email=mailed)
    sent = "sent" in (whatsapp, mailed)
    return {"outcome": "sent" if sent else "failed", "event": event, "whatsapp": whatsapp, "email": mailed}


def _whatsapp(cfg, tenant: dict, phone: str, text: str, outbound_id: int) -> str:
    try:
        answer = client_for(tenant, cfg).send_text(tenant["instance_name"], phone, text)
    except EvolutionError as err:
        with db.transaction() as cur:
            outbound.end_unanswered(cur, outbound_id, err.message, err.maybe_sent)
        return f"failed: {err.message}"
    # the id into the ledger, also across a database restart: its echo is then the bot's
    db.retry_on_disconnect(lambda: _confirmed(tenant["id"], outbound_id, answer["key"]["id"]))
    return "sent"


def _confirmed(tenant_id, outbound_id: int, wa_message_id: str) -> None:
    with db.transaction() as cur:
        # an early echo may have bound this id to another claimed send with the same text
        outbound.unbind_other_claims(cur, tenant_id, wa_message_id, outbound_id)
        outbound.mark_sent(cur, outbound_id, wa_message_id)


def _email(cfg, to: str, subject: str, text: str) -> str:
    try:
        send_mail(cfg, to, subject, text)
    except MailError as err:
        return f"failed: {err}"
    return "sent"
