"""The bodies a real Evolution API v2.3 server produces, built from plain
values: the sendText answer, the webhook envelope, and the message data of a
customer's message, the owner's own message (from the phone) and an API send.
Shapes follow the recorded fixtures (shared/fixtures/evolution)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone


def customer_message_id() -> str:
    """Android-style id: 32 upper-case hex digits."""
    return secrets.token_hex(16).upper()


def phone_message_id() -> str:
    """iOS-style id of a message typed on the owner's phone: 3A + 18 hex."""
    return "3A" + secrets.token_hex(9).upper()


def api_message_id() -> str:
    """An id like Evolution's own sends (Baileys web ids): 3EB0 + 18 hex."""
    return "3EB0" + secrets.token_hex(9).upper()


def phone_jid(number: str) -> str:
    return f"{number}@s.whatsapp.net"


def lid_for(number: str) -> str:
    """A stable, made-up LID for a number (15 digits), as remoteJidAlt."""
    digits = int(hashlib.sha256(number.encode()).hexdigest(), 16) % 10**15
    return f"{digits:015d}@lid"


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bytes_obj(*values) -> dict:
    # Baileys buffers arrive as {"0": n, "1": n, ...}
    return {str(i): v for i, v in enumerate(values)}


def _device_list_context() -> dict:
    return {
        "deviceListMetadata": {
            "senderKeyHash": _bytes_obj(*secrets.token_bytes(4)),
            "senderTimestamp": {"low": 1760980011, "high": 0, "unsigned": True},
            "recipientKeyHash": _bytes_obj(*secrets.token_bytes(4)),
            "recipientTimestamp": {"low": 1761040122, "high": 0, "unsigned": True},
        },
        "deviceListMetadataVersion": 2,
        "messageSecret": _bytes_obj(*secrets.token_bytes(4)),
    }


def _phone_message(*, number, text, msg_id, push_name, timestamp, instance_id, from_me, status, source,
                   context) -> dict:
    return {
        "key": {
            "remoteJid": phone_jid(number), "remoteJidAlt": lid_for(number),
            "fromMe": from_me, "id": msg_id, "addressingMode": "pn",
        },
        "pushName": push_name,
        "status": status,
        "message": {"conversation": text, "messageContextInfo": context},
        "messageType": "conversation",
        "messageTimestamp": timestamp,
        "instanceId": instance_id,
        "source": source,
    }


def customer_message(*, number: str, text: str, msg_id: str, push_name: str, timestamp: int,
                     instance_id: str) -> dict:
    """messages.upsert data of a customer's text (fromMe false)."""
    return _phone_message(number=number, text=text, msg_id=msg_id, push_name=push_name, timestamp=timestamp,
                          instance_id=instance_id, from_me=False, status="DELIVERY_ACK", source="android",
                          context=_device_list_context())


def owner_message(*, number: str, text: str, msg_id: str, push_name: str, timestamp: int,
                  instance_id: str) -> dict:
    """messages.upsert data of the business typing on its own phone (fromMe true)."""
    return _phone_message(number=number, text=text, msg_id=msg_id, push_name=push_name, timestamp=timestamp,
                          instance_id=instance_id, from_me=True, status="SERVER_ACK", source="ios",
                          context={"messageSecret": _bytes_obj(*secrets.token_bytes(4))})


def api_sent_message(*, number: str, text: str, msg_id: str, timestamp: int, instance_id: str) -> dict:
    """What sendText answers (201), and the data of its send.message webhook."""
    return {
        "key": {"remoteJid": phone_jid(number), "fromMe": True, "id": msg_id},
        "pushName": "Você",
        "status": "PENDING",
        "message": {"conversation": text},
        "contextInfo": {
            "mentionedJid": [], "groupMentions": [],
            "ephemeralSettingTimestamp": {"low": timestamp, "high": 0, "unsigned": False},
            "disappearingMode": {"initiator": 0},
        },
        "messageType": "conversation",
        "messageTimestamp": timestamp,
        "instanceId": instance_id,
        "source": "web",
    }


def stored_message(*, number: str, text: str, msg_id: str, from_me: bool, push_name: str, timestamp: int,
                   instance_id: str, status: str) -> dict:
    """One record of POST /chat/findMessages: the message as Evolution's store
    keeps it (its own row id, the WhatsApp key, seconds since the epoch)."""
    return {
        "id": "c" + hashlib.sha256(msg_id.encode()).hexdigest()[:24],
        "key": {"id": msg_id, "fromMe": from_me, "remoteJid": phone_jid(number)},
        "pushName": push_name,
        "messageType": "conversation",
        "message": {"conversation": text},
        "messageTimestamp": timestamp,
        "instanceId": instance_id,
        "source": "web" if from_me else "android",
        "contextInfo": None,
        "MessageUpdate": [{"status": status}],
    }


def found_messages(records: list[dict], page_size: int, page: int, total: int) -> dict:
    """POST /chat/findMessages's answer (Evolution v2): one page, newest first."""
    return {"messages": {"total": total, "pages": -(-total // page_size) if page_size else 0,
                         "currentPage": page, "records": records}}


def envelope(*, event: str, instance: str, data: dict, destination: str, sender: str, server_url: str,
             apikey: str) -> dict:
    """The webhook body around an event's data."""
    return {
        "event": event,
        "instance": instance,
        "data": data,
        "destination": destination,
        "date_time": iso_now(),
        "sender": sender,
        "server_url": server_url,
        "apikey": apikey,
    }


def evolution_error(status: int, message) -> dict:
    """Evolution's error body: {"status", "error", "response": {"message"}}."""
    labels = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return {"status": status, "error": labels.get(status, "Error"), "response": {"message": message}}


def event_flag(event: str) -> str:
    """messages.upsert -> MESSAGES_UPSERT (the names webhook/set's events list uses)."""
    return event.replace(".", "_").replace("-", "_").upper()
