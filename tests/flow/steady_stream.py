"""A steady stream of customer messages into one chat, delivered through the
door the way Evolution delivers them (testkit/evolution_retry.py), for the
restart scenarios: n8n killed and started again, and the rolling restart of
queue mode's webhook processors. Each scenario counts afterwards what was
recorded; this module only sets the stream going."""
from __future__ import annotations

import time

from testkit.evolution_retry import Stream, StreamResult

from .helpers import Chat, new_chat, wait_for


def customer_message(chat, msg_id: str, text: str) -> dict:
    """A customer's text as Evolution posts it (messages.upsert), with the given message id."""
    return {
        "event": "messages.upsert", "instance": chat.instance,
        "data": {"key": {"remoteJid": chat.chat_id, "fromMe": False, "id": msg_id, "addressingMode": "pn"},
                 "pushName": "Restart Customer", "status": "DELIVERY_ACK", "message": {"conversation": text},
                 "messageType": "conversation", "messageTimestamp": int(time.time()), "source": "android"},
        "date_time": "2026-11-25T10:00:00.000Z", "sender": "5511999990000@s.whatsapp.net",
        "server_url": "http://127.0.0.1", "apikey": None,
    }


def stream_into_a_paused_chat(stack, label: str, threads: int, pause_timeout: float = 30.0,
                              interval: float = 0.2) -> tuple[Chat, str, Stream]:
    """A new chat, paused by hand, then a message every `interval` seconds
    into it (message i with the id message_id(prefix, i)); returns (chat,
    prefix, the started stream). Paused: each message is recorded ("paused")
    and none starts a reply, so what is measured is the webhook path alone."""
    chat = new_chat(stack)
    chat.owner_says("#bot off")
    wait_for("the chat is paused", lambda: (s := chat.session()) and s["paused"], timeout=pause_timeout)
    prefix = f"{label}{int(time.time())}"
    stream = Stream(stack.webhook_url, {"X-Webhook-Secret": chat.secret},
                    lambda i: customer_message(chat, message_id(prefix, i), f"message {i}"),
                    interval=interval, threads=threads).start()
    return chat, prefix, stream


def message_id(prefix: str, i: int) -> str:
    return f"{prefix}{i:05d}"


def message_ids(prefix: str, sent: int) -> list[str]:
    """The ids of the stream's messages, in the order they were sent."""
    return [message_id(prefix, i) for i in range(sent)]


def summary(result: StreamResult) -> str:
    """How the deliveries went, for the test's output."""
    return (f"{result.sent} messages sent, {result.delivered} delivered, {result.retried} needed more than one "
            f"try, slowest {result.slowest():.1f}s; answers {dict(sorted(result.answers().items(), key=str))}")


def decisions(chat: Chat, ids: list[str]) -> list[dict]:
    """Per message id, how many times a webhook decision was recorded for it
    (duplicates aside): exactly once each is what the scenarios expect."""
    return chat.query("SELECT wa_message_id, count(*) AS n FROM events WHERE tenant_id = %s"
                      " AND wa_message_id = ANY(%s) AND decision <> 'duplicate' GROUP BY wa_message_id",
                      chat.tenant["id"], ids)
