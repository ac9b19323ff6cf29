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
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..common.errors import bad_request

# events that carry a message of a chat (the others are ignored by the rules)
MESSAGE_EVENTS = ("messages.upsert", "send.message")
EDIT_EVENTS = ("messages.edited",)
PROTOCOL_TYPES = {"MESSAGE_EDIT": "edit", "14": "edit", "REVOKE": "revoke", "0": "revoke"}
# wrappers WhatsApp puts around the real content
WRAPPERS = ("ephemeralMessage", "viewOnceMessage", "viewOnceMessageV2", "viewOnceMessageV2Extension",
            "documentWithCaptionMessage")
CAPTIONED = ("imageMessage", "videoMessage", "documentMessage")
NOT_CONTENT = ("messageContextInfo", "base64", "mediaUrl", "speechToText")
# what a real body never exceeds; beyond it a body is refused (400) or the
# value is not taken for a JID, rather than reaching an index or a jsonb column
MAX_DEPTH = 40
MAX_ID_CHARS = 200
MAX_JID_CHARS = 128
MAX_KEY_CHARS = 300
# what Postgres cannot store in text or jsonb: NUL, and lone UTF-16 surrogates
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


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


# ---------------------------------------------------------------- storable input


def _clean_text(value: str) -> str:
    if _UNSTORABLE.search(value) is None:
        return value
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)


def _clean(value, depth: int):
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN / Infinity: Python's JSON reads them, jsonb refuses them
    if isinstance(value, (dict, list)):
        if depth >= MAX_DEPTH:
            raise bad_request(f"the body is nested more than {MAX_DEPTH} levels deep", "body", "malformed")
        if isinstance(value, dict):
            return {_clean_text(str(k)): _clean(v, depth + 1) for k, v in value.items()}
        return [_clean(v, depth + 1) for v in value]
    return value


def clean_body(body):
    """The body as Postgres can store it: NUL characters dropped, lone
    surrogates replaced by U+FFFD, NaN and Infinity as null; nested more than
    MAX_DEPTH levels: the 400 that says so. Real Evolution bodies pass unchanged."""
    return _clean(body, 0)


def _dig(value, *keys):
    """value[k1][k2]... through objects only; None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# ---------------------------------------------------------------- field readers


def _object(value, path: str) -> dict:
    if not isinstance(value, dict):
        raise bad_request(f"{path} must be a JSON object", path, "malformed")
    return value


def _text_field(value, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{path} must be a non-empty string", path, "malformed")
    return value.strip()


def _id_field(value, path: str) -> str:
    value = _text_field(value, path)
    if len(value) > MAX_ID_CHARS:
        raise bad_request(f"{path} must be a message id (at most {MAX_ID_CHARS} characters)", path, "malformed")
    return value


def _from_me(key: dict, path: str, default: bool | None = None) -> bool:
    value = key.get("fromMe", default)
    if not isinstance(value, bool):
        raise bad_request(f"{path} must be true or false", path, "malformed")
    return value


def epoch_seconds(value, path: str, scale: int = 1) -> datetime | None:
    """An epoch number as Evolution writes it: int, numeric string, or a protobuf
    Long {low, high}."""
    if value is None:
        return None
    if isinstance(value, dict) and "low" in value:
        value = (int(value.get("high") or 0) << 32) + (int(value["low"]) & 0xFFFFFFFF)
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value) / scale
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise bad_request(f"{path} must be a time in epoch seconds", path, "malformed") from None


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
    candidates = [message.get("conversation"), _dig(message, "extendedTextMessage", "text")]
    candidates += [_dig(message, kind, "caption") for kind in CAPTIONED]
    candidates += [
        _dig(message, "buttonsResponseMessage", "selectedDisplayText"),
        _dig(message, "templateButtonReplyMessage", "selectedDisplayText"),
        _dig(message, "listResponseMessage", "title"),
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


def _without_media(body: dict) -> dict:
    """The raw body to keep: inline media (base64) would bloat every row."""
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
    body = _object(body, "body")
    event_type = event_name(_text_field(body.get("event"), "event"))
    instance = _text_field(body.get("instance"), "instance")
    raw = _without_media(body)
    base = {"instance": instance, "event_type": event_type, "raw": raw}

    if event_type in MESSAGE_EVENTS:
        return _message_event(base, _object(body.get("data"), "data"), received_at)
    if event_type in EDIT_EVENTS:
        return _edit_event(base, _object(body.get("data"), "data"), body.get("sender"), received_at)
    if event_type == "messages.update":
        return _receipt_event(base, _object(body.get("data"), "data"))
    if event_type == "messages.delete":
        return _delete_event(base, _object(body.get("data"), "data"), received_at)
    return Event(kind="other", **base)


def _message_event(base: dict, data: dict, received_at: datetime) -> Event:
    key = _object(data.get("key"), "data.key")
    wa_id = _id_field(key.get("id"), "data.key.id")
    _text_field(key.get("remoteJid"), "data.key.remoteJid")
    chat_id, alias = chat_of(key)
    if clean_jid(key["remoteJid"]) is None:
        raise bad_request("data.key.remoteJid must be a WhatsApp JID (…@s.whatsapp.net, …@lid, …@g.us)",
                          "data.key.remoteJid", "malformed")
    # send.message is always our instance's own send
    from_me = _from_me(key, "data.key.fromMe", True if base["event_type"] == "send.message" else None)
    message = data.get("message") or {}
    message = _object(message, "data.message")
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
        target = _dig(reaction, "key", "id")
        return Event(kind="reaction", wa_message_id=wa_id, author=_author(base, from_me, status),
                     message_type="reactionMessage", text=reaction.get("text") or "",
                     target_id=target if isinstance(target, str) else None,
                     dedupe_key=f"{base['event_type']}:{wa_id}", **common)

    return Event(kind="message", wa_message_id=wa_id, author=_author(base, from_me, status),
                 message_type=message_type(data, message), text=message_text(message),
                 dedupe_key=f"{base['event_type']}:{wa_id}", **common)


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
        protocol = _dig(message, "editedMessage", "message", "protocolMessage")
    if isinstance(protocol, dict) and str(protocol.get("type")) in PROTOCOL_TYPES:
        return protocol
    return None


def _protocol_event(common: dict, protocol: dict, event_id: str, sent_at: datetime) -> Event:
    kind = PROTOCOL_TYPES[str(protocol.get("type"))]
    target = _dig(protocol, "key", "id")
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
        key = _object(data.get("key"), "data.key")
        protocol = _protocol_message(_object(data.get("message") or {}, "data.message"))
        if protocol is None:
            raise bad_request("data.type must be MESSAGE_EDIT or REVOKE", "data.type", "malformed")
        event_id = key.get("id") if isinstance(key.get("id"), str) and len(key["id"]) <= MAX_ID_CHARS else ""
        data = protocol
    else:
        event_id = ""
    key = _object(data.get("key"), "data.key")
    _id_field(key.get("id"), "data.key.id")
    chat_id, alias = chat_of(key)
    if chat_id and chat_id == clean_jid(own_jid):
        chat_id, alias = None, None
    common = {**base, "chat_id": chat_id, "alias_jid": alias,
              "from_me": key.get("fromMe") if isinstance(key.get("fromMe"), bool) else None}
    return _protocol_event(common, data, event_id, received_at)


def _receipt_event(base: dict, data: dict) -> Event:
    """messages.update: delivery / read receipts of a message."""
    wa_id = data.get("keyId") or data.get("messageId") or _dig(data, "key", "id")
    chat_id, alias = chat_of({"remoteJid": data.get("remoteJid") or _dig(data, "key", "remoteJid")})
    status = data.get("status") if isinstance(data.get("status"), str) else None
    wa_id = wa_id if isinstance(wa_id, str) and 0 < len(wa_id) <= MAX_ID_CHARS else None
    return Event(kind="receipt", chat_id=chat_id, alias_jid=alias, wa_message_id=wa_id, status=status,
                 from_me=data.get("fromMe") if isinstance(data.get("fromMe"), bool) else None,
                 dedupe_key=f"messages.update:{wa_id}:{status}" if wa_id else None, **base)


def _delete_event(base: dict, data: dict, received_at: datetime) -> Event:
    """messages.delete: the deleted message's key (sometimes under data.key)."""
    key = data.get("key") if isinstance(data.get("key"), dict) else data
    wa_id = _id_field(key.get("id"), "data.key.id" if "key" in data else "data.id")
    chat_id, alias = chat_of(key)
    return Event(kind="revoke", chat_id=chat_id, alias_jid=alias, wa_message_id=wa_id, target_id=wa_id,
                 from_me=key.get("fromMe") if isinstance(key.get("fromMe"), bool) else None,
                 message_type="revoke", sent_at=received_at, dedupe_key=f"messages.delete:{wa_id}", **base)
