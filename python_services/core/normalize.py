"""Evolution API v2 webhook body -> one internal Event. A pure function: no
database, no clock (the receive time is passed in), no configuration.

Facts it survives (Evolution v2.2-2.3):
- our own API sends come back as `send.message` (2.3) or as a `fromMe`
  `messages.upsert` (2.2); the owner's phone/Web/Desktop as `fromMe` upserts;
- LID chats carry the phone JID in `remoteJid`, `remoteJidAlt` or `senderPn`
  and an `…@lid` id in another; JIDs may carry a `:device` suffix;
- edits and deletions come as `messages.edited`, whose body is the
  protocolMessage itself, keyed from the sender's side (`fromMe: true`,
  `remoteJid` = our own number even when the customer edited): the chat is
  found later through the edited message's id;
- `date_time` is server local time with a misleading `Z`: the message's own
  `messageTimestamp` (epoch seconds) is used instead.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from ..common.errors import bad_request
from .media import media_reference
from .payload import (MAX_ID_CHARS, MAX_JID_CHARS, MAX_KEY_CHARS, dig, epoch_seconds, from_me_field,
                      id_field, object_field, text_field)

# events that carry a message of a chat (the others are ignored by the rules)
MESSAGE_EVENTS = ("messages.upsert", "send.message")
EDIT_EVENTS = ("messages.edited",)
PROTOCOL_TYPES = {"MESSAGE_EDIT": "edit", "14": "edit", "REVOKE": "revoke", "0": "revoke"}
# wrappers WhatsApp puts around the real content
WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension",
            "documentWithCaptionMessage")
CAPTIONED = ("imageMessage", "videoMessage", "documentMessage")
NOT_CONTENT = ("messageContextInfo", "base64", "mediaUrl", "speechToText")


@dataclass(frozen=True)
class Event:
    instance: str
    event_type: str
    # message | reaction | edit | revoke | receipt | delete | other
    kind: str
    chat_id: str | None = None
    # the chat's …@lid id when its phone JID is known too (kept as an alias)
    alias_jid: str | None = None
    wa_message_id: str | None = None
    from_me: bool | None = None
    # customer | business | system; the rules may decide it is the bot
    author: str | None = None
    message_type: str | None = None
    text: str | None = None
    sent_at: datetime | None = None
    push_name: str = ""
    status: str | None = None
    # reaction / edit / revoke: the message it is about
    target_id: str | None = None
    dedupe_key: str | None = None
    # a photo, voice note, document...: its reference (core/media.py), never its bytes
    media: dict | None = field(default=None, compare=False)
    # the body as messages.raw keeps it (stored_body): no envelope secrets, no inline media
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        # an absurdly long key (a huge id or status) would not fit the unique index
        if self.dedupe_key and len(self.dedupe_key) > MAX_KEY_CHARS:
            digest = hashlib.sha256(self.dedupe_key.encode("utf-8", "replace")).hexdigest()
            object.__setattr__(self, "dedupe_key", f"sha256:{digest}")

    @property
    def chat_kind(self) -> str:
        return chat_kind(self.chat_id)


def chat_kind(jid: str | None) -> str:
    """direct | group | status | newsletter | broadcast | unknown"""
    if not jid:
        return "unknown"
    if jid == "status@broadcast":
        return "status"
    server = jid.rpartition("@")[2]
    return {"g.us": "group", "newsletter": "newsletter", "broadcast": "broadcast"}.get(server, "direct")


def clean_jid(jid) -> str | None:
    """`5511…:12@s.whatsapp.net` -> `5511…@s.whatsapp.net`; `c.us` is the phone server too."""
    if not isinstance(jid, str) or "@" not in jid or len(jid) > MAX_JID_CHARS:
        return None
    local, _, server = jid.strip().partition("@")
    local = local.split(":", 1)[0]
    if server == "c.us":
        server = "s.whatsapp.net"
    return f"{local}@{server}" if local and server else None


def event_name(raw) -> str:
    # some servers send MESSAGES_UPSERT instead of messages.upsert
    return raw.strip().lower().replace("_", ".")


def _unwrap(message: dict) -> dict:
    for _ in range(3):
        for wrapper in WRAPPERS:
            inner = message.get(wrapper)
            if isinstance(inner, dict) and isinstance(inner.get("message"), dict):
                message = {**inner["message"], **{k: v for k, v in message.items() if k in NOT_CONTENT}}
                break
        else:
            return message
    return message


def message_text(message: dict) -> str | None:
    """The words of a message: the text, a caption, or a transcription."""
    message = _unwrap(message)
    candidates = [message.get("conversation"), dig(message, "extendedTextMessage", "text")]
    candidates += [dig(message, kind, "caption") for kind in CAPTIONED]
    candidates += [
        dig(message, "buttonsResponseMessage", "selectedDisplayText"),
        dig(message, "templateButtonReplyMessage", "selectedDisplayText"),
        dig(message, "listResponseMessage", "title"),
        message.get("speechToText"),
    ]
    for text in candidates:
        if isinstance(text, str) and text.strip():
            return text
    return None


def message_type(data: dict, message: dict) -> str:
    given = data.get("messageType")
    if isinstance(given, str) and given:
        return given
    kinds = [k for k in _unwrap(message) if k not in NOT_CONTENT]
    return kinds[0] if kinds else "unknown"


def chat_of(key: dict) -> tuple[str | None, str | None]:
    """(chat_id, alias): the phone JID when any field has it, else the first JID."""
    jids = [clean_jid(key.get(f)) for f in ("remoteJid", "remoteJidAlt", "senderPn", "senderLid")]
    jids = [j for j in jids if j]
    phone = next((j for j in jids if j.endswith("@s.whatsapp.net")), None)
    lid = next((j for j in jids if j.endswith("@lid")), None)
    if phone:
        return phone, lid
    return (jids[0] if jids else None), None


# envelope fields that describe the sender's setup, not the message: the
# instance's API key, Evolution's address, the instance's own number, the
# address the webhook was sent to (it may carry a token)
NOT_KEPT = frozenset({"apikey", "serverurl", "sender", "destination", "authorization", "cookie"})
# and any envelope field named like a credential (api_key, X-Api-Key, token, secret, ...)
SECRET_LIKE = ("apikey", "token", "secret", "password", "credential")


def kept_field(name: str) -> bool:
    """Whether an envelope field may be stored (case, `-` and `_` ignored)."""
    folded = name.lower().replace("-", "").replace("_", "")
    return folded not in NOT_KEPT and not any(word in folded for word in SECRET_LIKE)


def stored_body(body: dict) -> dict:
    """The raw body to keep (messages.raw): without the envelope's secrets and
    setup (kept_field), and without inline media (base64 would bloat every row)."""
    body = {k: v for k, v in body.items() if kept_field(k)}
    data = body.get("data")
    message = data.get("message") if isinstance(data, dict) else None
    if isinstance(message, dict) and isinstance(message.get("base64"), str):
        omitted = f"<{len(message['base64'])} characters omitted>"
        return {**body, "data": {**data, "message": {**message, "base64": omitted}}}
    return body


# ---------------------------------------------------------------- the normaliser


def normalize(body, received_at: datetime) -> Event:
    """One Evolution webhook body -> one Event; a malformed body raises the 400
    that names the field."""
    body = object_field(body, "body")
    event_type = event_name(text_field(body.get("event"), "event"))
    instance = text_field(body.get("instance"), "instance")
    raw = stored_body(body)
    base = {"instance": instance, "event_type": event_type, "raw": raw}

    if event_type in MESSAGE_EVENTS:
        return _message_event(base, object_field(body.get("data"), "data"), received_at)
    if event_type in EDIT_EVENTS:
        return _edit_event(base, object_field(body.get("data"), "data"), body.get("sender"), received_at)
    if event_type == "messages.update":
        return _receipt_event(base, object_field(body.get("data"), "data"))
    if event_type == "messages.delete":
        return _delete_event(base, object_field(body.get("data"), "data"), received_at)
    return Event(kind="other", **base)


def _message_event(base: dict, data: dict, received_at: datetime) -> Event:
    key = object_field(data.get("key"), "data.key")
    wa_id = id_field(key.get("id"), "data.key.id")
    text_field(key.get("remoteJid"), "data.key.remoteJid")
    chat_id, alias = chat_of(key)
    if clean_jid(key["remoteJid"]) is None:
        raise bad_request("data.key.remoteJid must be a WhatsApp JID (…@s.whatsapp.net, …@lid, …@g.us)",
                          "data.key.remoteJid", "malformed")
    # send.message is always our instance's own send
    from_me = from_me_field(key, "data.key.fromMe", True if base["event_type"] == "send.message" else None)
    message = data.get("message") or {}
    message = object_field(message, "data.message")
    sent_at = epoch_seconds(data.get("messageTimestamp"), "data.messageTimestamp") or received_at
    status = data.get("status") if isinstance(data.get("status"), str) else None
    common = {
        **base, "chat_id": chat_id, "alias_jid": alias, "from_me": from_me, "sent_at": sent_at,
        "push_name": data.get("pushName") if isinstance(data.get("pushName"), str) else "",
        "status": status,
    }

    protocol = _protocol_message(message)
    if protocol is not None:
        # an edit or deletion delivered as an upsert (older servers)
        return _protocol_event(common, protocol, wa_id, sent_at)

    if isinstance(message.get("reactionMessage"), dict):
        reaction = message["reactionMessage"]
        target = dig(reaction, "key", "id")
        return Event(kind="reaction", wa_message_id=wa_id, author=_author(base, from_me, status),
                     message_type="reactionMessage", text=reaction.get("text") or "",
                     target_id=target if isinstance(target, str) else None,
                     dedupe_key=f"{base['event_type']}:{wa_id}", **common)

    return Event(kind="message", wa_message_id=wa_id, author=_author(base, from_me, status),
                 message_type=message_type(data, message), text=message_text(message),
                 dedupe_key=f"{base['event_type']}:{wa_id}", media=media_reference(_unwrap(message)), **common)


def _author(base: dict, from_me: bool, status: str | None) -> str:
    if not from_me:
        return "customer"
    # Evolution's automatic call-reject reply (msgCall): its own upsert, still
    # PENDING. Our bot's sends look the same but are matched as echoes first.
    if base["event_type"] == "messages.upsert" and status == "PENDING":
        return "system"
    return "business"


def _protocol_message(message: dict) -> dict | None:
    message = _unwrap(message)
    protocol = message.get("protocolMessage")
    if not isinstance(protocol, dict):
        protocol = dig(message, "editedMessage", "message", "protocolMessage")
    if isinstance(protocol, dict) and str(protocol.get("type")) in PROTOCOL_TYPES:
        return protocol
    return None


def _protocol_event(common: dict, protocol: dict, event_id: str, sent_at: datetime) -> Event:
    kind = PROTOCOL_TYPES[str(protocol.get("type"))]
    target = dig(protocol, "key", "id")
    if not isinstance(target, str) or not target or len(target) > MAX_ID_CHARS:
        raise bad_request("the edited or deleted message's key.id is missing", "data.key.id", "malformed")
    edited = protocol.get("editedMessage")
    text = message_text(edited) if isinstance(edited, dict) else None
    stamp = epoch_seconds(protocol.get("timestampMs"), "data.timestampMs", 1000)
    # every edit of one message is its own event, and a redelivery must repeat
    # its key: the protocol message's own id, else its time, else its text
    if event_id:
        version = event_id
    elif stamp:
        version = str(round(stamp.timestamp() * 1000))
    else:
        version = hashlib.sha256((text or "").encode()).hexdigest()[:16]
    return Event(kind=kind, wa_message_id=target, author=None, message_type=kind, text=text, target_id=target,
                 dedupe_key=f"{common['event_type']}:{target}:{kind}:{version}",
                 **{**common, "sent_at": stamp or sent_at})


def _edit_event(base: dict, data: dict, own_jid, received_at: datetime) -> Event:
    """messages.edited: `data` is the protocolMessage, keyed from the sender's
    side; the chat named in it is trusted only when it is not our own number."""
    if str(data.get("type")) not in PROTOCOL_TYPES:
        # the upsert-shaped variant (data.key + data.message)
        key = object_field(data.get("key"), "data.key")
        protocol = _protocol_message(object_field(data.get("message") or {}, "data.message"))
        if protocol is None:
            raise bad_request("data.type must be MESSAGE_EDIT or REVOKE", "data.type", "malformed")
        event_id = key.get("id") if isinstance(key.get("id"), str) and len(key["id"]) <= MAX_ID_CHARS else ""
        data = protocol
    else:
        event_id = ""
    key = object_field(data.get("key"), "data.key")
    id_field(key.get("id"), "data.key.id")
    chat_id, alias = chat_of(key)
    if chat_id and chat_id == clean_jid(own_jid):
        chat_id, alias = None, None
    common = {**base, "chat_id": chat_id, "alias_jid": alias,
              "from_me": key.get("fromMe") if isinstance(key.get("fromMe"), bool) else None}
    return _protocol_event(common, data, event_id, received_at)


def _receipt_event(base: dict, data: dict) -> Event:
    """messages.update: delivery / read receipts of a message."""
    wa_id = data.get("keyId") or data.get("messageId") or dig(data, "key", "id")
    chat_id, alias = chat_of({"remoteJid": data.get("remoteJid") or dig(data, "key", "remoteJid")})
    status = data.get("status") if isinstance(data.get("status"), str) else None
    wa_id = wa_id if isinstance(wa_id, str) and 0 < len(wa_id) <= MAX_ID_CHARS else None
    return Event(kind="receipt", chat_id=chat_id, alias_jid=alias, wa_message_id=wa_id, status=status,
                 from_me=data.get("fromMe") if isinstance(data.get("fromMe"), bool) else None,
                 dedupe_key=f"messages.update:{wa_id}:{status}" if wa_id else None, **base)


def _delete_event(base: dict, data: dict, received_at: datetime) -> Event:
    """messages.delete: the deleted message's key (sometimes under data.key)."""
    key = data.get("key") if isinstance(data.get("key"), dict) else data
    wa_id = id_field(key.get("id"), "data.key.id" if "key" in data else "data.id")
    chat_id, alias = chat_of(key)
    return Event(kind="revoke", chat_id=chat_id, alias_jid=alias, wa_message_id=wa_id, target_id=wa_id,
                 from_me=key.get("fromMe") if isinstance(key.get("fromMe"), bool) else None,
                 message_type="revoke", sent_at=received_at, dedupe_key=f"messages.delete:{wa_id}", **base)
