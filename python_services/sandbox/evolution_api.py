"""The Evolution API routes the sandbox imitates, with Evolution's checks in
Evolution's order (unknown instance 404, then the apikey 401, then the body
400) and its answer shapes."""
from __future__ import annotations

import re
import time

from flask import Blueprint, current_app, g, jsonify, request

from . import fake_qr, payloads
from .state import Instance, Sandbox, masked_webhook, url_allowed

bp = Blueprint("evolution_api", __name__)

PRESENCES = ("unavailable", "available", "composing", "recording", "paused")
WEBHOOK_EVENT_NAMES = (
    "APPLICATION_STARTUP", "QRCODE_UPDATED", "MESSAGES_SET", "MESSAGES_UPSERT", "MESSAGES_EDITED",
    "MESSAGES_UPDATE", "MESSAGES_DELETE", "SEND_MESSAGE", "SEND_MESSAGE_UPDATE", "CONTACTS_SET",
    "CONTACTS_UPSERT", "CONTACTS_UPDATE", "PRESENCE_UPDATE", "CHATS_SET", "CHATS_UPSERT", "CHATS_UPDATE",
    "CHATS_DELETE", "GROUPS_UPSERT", "GROUP_UPDATE", "GROUP_PARTICIPANTS_UPDATE", "CONNECTION_UPDATE",
    "LABELS_EDIT", "LABELS_ASSOCIATION", "CALL", "TYPEBOT_START", "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE", "LOGOUT_INSTANCE", "INSTANCE_CREATE", "INSTANCE_DELETE", "STATUS_INSTANCE",
)


class EvolutionHttpError(Exception):
    """Answered as Evolution's {"status", "error", "response": {"message"}}."""

    def __init__(self, status: int, message):
        super().__init__(str(message))
        self.status = status
        self.message = message


def sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]


def received_at() -> float:
    """When this request came in (set before any routing, see app.py)."""
    return g.get("received_at") or time.time()


def _instance(name: str, kind: str, *, create_with_global_key: bool = False) -> Instance:
    """The instance of the path, once it exists and the apikey header opens it
    (refusals are logged as calls too, for the tests to see)."""
    sb = sandbox()
    key = request.headers.get("apikey")
    inst = sb.instance(name)
    if inst is None and create_with_global_key and key and key == sb.api_key:
        inst = sb.ensure_instance(name)
    if inst is None:
        sb.record_call(kind, name, _body(), 404, received_at())
        raise EvolutionHttpError(404, [f'The "{name}" instance does not exist'])
    if not sb.key_opens(inst, key):
        sb.record_call(kind, name, _body(), 401, received_at())
        raise EvolutionHttpError(401, "Unauthorized")
    return inst


def _body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _validate(body: dict, schema: dict) -> None:
    """Evolution's jsonschema messages, as it phrases them (a list in a list)."""
    problems = [f'instance requires property "{name}"' for name in schema if name not in body]
    for name, (kind, description) in schema.items():
        if name not in body:
            continue
        value = body[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            type_name = "number" if isinstance(kind, tuple) else {str: "string", int: "integer"}.get(kind, "value")
            problems.append(description or f"{name} is not of a type(s) {type_name}")
    if problems:
        raise EvolutionHttpError(400, [problems])


_NUMBER_SCHEMA = (str, "Invalid format")


def _whatsapp_number(inst: Instance, raw: str) -> str:
    """The digits of a phone number or phone JID; a @lid, a group or a listed
    number answers 400 exists:false, the way Evolution reports a number that
    is not on WhatsApp."""
    cleaned = raw.strip()
    digits = re.sub(r"\D", "", cleaned.split("@")[0])
    is_phone = bool(digits) and ("@" not in cleaned or cleaned.endswith(("@s.whatsapp.net", "@c.us")))
    if not is_phone or not sandbox().on_whatsapp(digits):
        jid = cleaned if "@" in cleaned else payloads.phone_jid(digits or cleaned)
        raise EvolutionHttpError(400, [{"jid": jid, "exists": False, "number": cleaned, "name": ""}])
    return digits


def _hold(delay_ms) -> None:
    if delay_ms and delay_ms > 0:
        time.sleep(delay_ms / 1000.0)


@bp.post("/message/sendText/<instance>")
def send_text(instance):
    sb = sandbox()
    inst = _instance(instance, "sendText")
    body = _body()
    try:
        _validate(body, {"number": _NUMBER_SCHEMA, "text": (str, None)})
        if "delay" in body:
            _validate(body, {"delay": (int, "Enter a value in milliseconds")})
        number = _whatsapp_number(inst, body["number"])
        failure = sb.take_send_failure()
        stall_ms = 0
        if not failure:
            failure, stall_ms = sb.roll_send_fault()
        if failure:
            raise EvolutionHttpError(failure, "Connection Closed" if failure >= 500 else "refused by a sandbox knob")
    except EvolutionHttpError as err:
        sb.record_call("sendText", inst.name, body, err.status, received_at())
        raise
    knobs = sb.get_knobs()
    _hold(stall_ms)
    if body.get("delay"):
        # Evolution types for `delay` ms before sending
        sb.set_typing(inst.name, number, body["delay"])
        _hold(body["delay"])
    _hold(knobs["send_delay_ms"])

    msg_id = payloads.api_message_id()
    data = payloads.api_sent_message(number=number, text=body["text"], msg_id=msg_id,
                                     timestamp=int(time.time()), instance_id=inst.instance_id)
    event = knobs["bot_echo_event"]
    sb.add_message(inst.name, number, "bot", body["text"], msg_id, event)
    # sent; then, when a knob asks, Evolution fails anyway (storing it, say) and answers an error
    failed_after = sb.take_failure_after_sending()
    sb.record_call("sendText", inst.name, body, failed_after or 201, received_at(), message_id=msg_id,
                   **({"stalled_ms": stall_ms} if stall_ms else {}),
                   **({"sent_before_failing": True} if failed_after else {}))

    echo, hook_data = knobs["echo"], data
    if event == "messages.upsert":
        # Evolution 2.2 reported its own sends as an upsert, without contextInfo
        hook_data = {k: v for k, v in data.items() if k != "contextInfo"}
    if echo == "before":
        sb.emit(inst, number, event, hook_data, mode="sync")
    elif echo == "async" or (echo == "after" and failed_after):
        sb.emit(inst, number, event, hook_data, mode="async")
    # the message is on the phone; the answer may still keep the client waiting
    _hold(knobs["answer_delay_ms"])
    if failed_after:
        raise EvolutionHttpError(failed_after,
                                 "Connection Closed" if failed_after >= 500 else "refused by a sandbox knob")
    response = jsonify(data)
    response.status_code = 201
    if echo == "after":
        response.call_on_close(lambda: sb.emit(inst, number, event, hook_data, mode="async"))
    return response


def _find_messages_query(body: dict) -> tuple[str | None, bool | None, str | None, int, int]:
    """(remoteJid, fromMe, id, page size, page) from Evolution's findMessages
    body {"where": {"key": {"remoteJid", "fromMe", "id"}}, "offset", "page"},
    checked as its JSON schema does."""
    where = body.get("where", {})
    key = where.get("key", {}) if isinstance(where, dict) else None
    problems = []
    if not isinstance(where, dict):
        problems.append("where is not of a type(s) object")
    if not isinstance(key, dict):
        problems.append("where.key is not of a type(s) object")
        key = {}
    for name in ("remoteJid", "id"):
        if name in key and (not isinstance(key[name], str) or not key[name]):
            problems.append("The property cannot be empty")
    if "fromMe" in key and not isinstance(key["fromMe"], bool):
        problems.append("where.key.fromMe is not one of enum values: true,false")
    for name in ("offset", "page"):
        if name in body and (isinstance(body[name], bool) or not isinstance(body[name], int)):
            problems.append(f"{name} is not of a type(s) integer")
    if problems:
        raise EvolutionHttpError(400, [problems])
    size = body.get("offset") or 50  # Evolution's page size (named offset), 50 unless given
    return key.get("remoteJid"), key.get("fromMe"), key.get("id"), max(1, size), max(1, body.get("page") or 1)


@bp.post("/chat/findMessages/<instance>")
def find_messages(instance):
    """The chat's stored messages, newest first, one page (Evolution v2's
    chatService.fetchMessages): here the business side of a chat (the bot's
    sends and the owner's messages) when asked fromMe true, else the customer's."""
    sb = sandbox()
    inst = _instance(instance, "findMessages")
    body = _body()
    try:
        jid, from_me, msg_id, size, page = _find_messages_query(body)
        if sb.get_knobs()["fail_find_messages"]:
            raise EvolutionHttpError(500, "Connection Closed")
    except EvolutionHttpError as err:
        sb.record_call("findMessages", inst.name, body, err.status, received_at())
        raise
    numbers = [re.sub(r"\D", "", jid.split("@")[0])] if jid else sb.chat_numbers(inst.name)
    found = []
    for number in numbers:
        for m in sb.messages(inst.name, number):
            if (from_me is None or m["from_me"] == from_me) and (msg_id is None or m["id"] == msg_id):
                found.append((m["at"], m["seq"], payloads.stored_message(
                    number=number, text=m["text"], msg_id=m["id"], from_me=m["from_me"],
                    push_name=inst.business_name if m["from_me"] else "Cliente", timestamp=m["at"] // 1000,
                    instance_id=inst.instance_id, status="SERVER_ACK" if m["from_me"] else "DELIVERY_ACK")))
    found.sort(key=lambda item: item[:2], reverse=True)
    sb.record_call("findMessages", inst.name, body, 200, received_at())
    records = [record for _, _, record in found[(page - 1) * size: page * size]]
    return jsonify(payloads.found_messages(records, size, page, len(found))), 200


@bp.post("/chat/sendPresence/<instance>")
def send_presence(instance):
    sb = sandbox()
    inst = _instance(instance, "sendPresence")
    body = _body()
    try:
        _validate(body, {"number": _NUMBER_SCHEMA, "presence": (str, None), "delay": ((int, float), None)})
        if body["presence"] not in PRESENCES:
            raise EvolutionHttpError(400, [[f"presence is not one of enum values: {','.join(PRESENCES)}"]])
        number = _whatsapp_number(inst, body["number"])
    except EvolutionHttpError as err:
        sb.record_call("sendPresence", inst.name, body, err.status, received_at())
        raise
    sb.record_call("sendPresence", inst.name, body, 201, received_at())
    if body["presence"] in ("composing", "recording"):
        sb.set_typing(inst.name, number, body["delay"])
    # Evolution holds the call open for the whole delay
    _hold(body["delay"])
    return jsonify({"presence": body["presence"]}), 201


@bp.post("/webhook/set/<instance>")
def set_webhook(instance):
    sb = sandbox()
    inst = _instance(instance, "webhook/set", create_with_global_key=True)
    body = _body()
    hook = body.get("webhook")
    problems = []
    if not isinstance(hook, dict):
        problems.append('instance requires property "webhook"')
    else:
        for name in ("enabled", "url"):
            if name not in hook:
                problems.append(f'webhook requires property "{name}"')
        if "enabled" in hook and not isinstance(hook["enabled"], bool):
            problems.append("webhook.enabled is not of a type(s) boolean")
        if "url" in hook and (not isinstance(hook["url"], str) or not hook["url"]):
            problems.append('The "url" cannot be empty')
        elif "url" in hook and not url_allowed(hook["url"], sb.webhook_allowed):
            # development only: webhooks go to the configured n8n / door, never elsewhere
            problems.append(f'webhook.url must start with one of: {", ".join(sb.webhook_allowed) or "(none)"}'
                            " (SANDBOX_WEBHOOK_ALLOWED)")
        if "headers" in hook and not isinstance(hook["headers"], dict):
            problems.append("webhook.headers is not of a type(s) object")
        events = hook.get("events", [])
        if not isinstance(events, list) or any(e not in WEBHOOK_EVENT_NAMES for e in events):
            problems.append("webhook.events contains an unknown event")
    if problems:
        sb.record_call("webhook/set", inst.name, body, 400, received_at())
        raise EvolutionHttpError(400, [problems])
    if hook["enabled"] and not hook.get("events"):
        hook = {**hook, "events": list(WEBHOOK_EVENT_NAMES)}
    stored = sb.set_webhook(inst, hook)
    sb.record_call("webhook/set", inst.name, body, 201, received_at())
    return jsonify(stored), 201


@bp.get("/webhook/find/<instance>")
def find_webhook(instance):
    inst = _instance(instance, "webhook/find")
    return jsonify(masked_webhook(inst.webhook))


@bp.get("/instance/connectionState/<instance>")
def connection_state(instance):
    inst = _instance(instance, "connectionState")
    sandbox().record_call("connectionState", inst.name, None, 200, received_at())
    return jsonify({"instance": {"instanceName": inst.name, "state": inst.state}})


@bp.get("/instance/connect/<instance>")
def connect(instance):
    """Pairing a phone: an instance not yet paired (its state is not "open",
    set with POST /sandbox/instances) answers Evolution's QR shape with a
    fake QR code (sandbox/fake_qr.py); a paired one answers its state."""
    inst = _instance(instance, "connect")
    sandbox().record_call("connect", inst.name, None, 200, received_at())
    if inst.state == "open":
        return jsonify({"instance": {"instanceName": inst.name, "state": inst.state}})
    code = "2@sandbox-" + inst.instance_id
    return jsonify({"pairingCode": None, "code": code, "base64": fake_qr.data_url(code), "count": 1})
