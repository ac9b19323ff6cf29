"""The sandbox's own JSON API (for the two-phone page and for tests) and the
page itself. No token: the sandbox is a local test gateway, bound to
127.0.0.1 by default. Errors use HybridFlow's {"error": {...}} shape."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import requests
from flask import Blueprint, current_app, jsonify, request, send_from_directory

from ..common.errors import bad_request, not_found
from ..common.web import json_body
from ..core.tenants import valid_instance_name
from . import payloads
from .knobs import KnobError
from .state import Instance, Sandbox

bp = Blueprint("sandbox_api", __name__)
STATIC_DIR = Path(__file__).with_name("static")


def sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]


def _digits(value, field_name: str) -> str:
    digits = re.sub(r"\D", "", str(value).split("@")[0]) if isinstance(value, (str, int)) else ""
    if not 6 <= len(digits) <= 20:
        raise bad_request(f"{field_name} must be a phone number (6-20 digits)", field_name)
    return digits


def default_instance(sb: Sandbox) -> str | None:
    """The page's instance: the first with a webhook set, else the first."""
    with sb._lock:
        names = list(sb.instances)
        hooked = [n for n in names if sb.instances[n].webhook]
    return (hooked or names or [None])[0]


def _instance_of(source: dict) -> Instance:
    sb = sandbox()
    name = source.get("instance") or default_instance(sb)
    if not name:
        raise bad_request("no instance yet: set one with POST /webhook/set/<instance> or POST /sandbox/instances",
                          "instance")
    inst = sb.instance(name)
    if inst is None:
        raise not_found(f"no instance {name!r} in the sandbox", "instance")
    return inst


def _number_of(source: dict) -> str:
    raw = source.get("number") or source.get("chat")
    return _digits(raw, "number") if raw else sandbox().default_number


# ---- the page ---------------------------------------------------------------
@bp.get("/")
def page():
    return send_from_directory(STATIC_DIR, "index.html")


@bp.get("/sandbox/config")
def config():
    sb = sandbox()
    with sb._lock:
        instances = {n: {"business_name": i.business_name, "owner_number": i.owner_number,
                         "webhook": bool(i.webhook and i.webhook["enabled"])} for n, i in sb.instances.items()}
    return jsonify({"default_instance": default_instance(sb), "default_number": sb.default_number,
                    "instances": instances, "session_source": "collision" if _collision_configured() else "inferred",
                    # the page links to the console (CONSOLE_URL), opened on the instance's tenant
                    "console_url": current_app.config["HF"].console_url})


# ---- people typing ----------------------------------------------------------
def _incoming(author: str):
    sb = sandbox()
    body = json_body(optional=True)
    inst = _instance_of(body)
    number = _number_of(body)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("text must be a non-empty string", "text")
    wait = body.get("wait", False)
    if not isinstance(wait, bool):
        raise bad_request("wait must be true or false", "wait")
    now = int(time.time())
    if author == "customer":
        name = body.get("name") or "Sandbox Customer"
        msg_id = payloads.customer_message_id()
        data = payloads.customer_message(number=number, text=text, msg_id=msg_id, push_name=str(name),
                                         timestamp=now, instance_id=inst.instance_id)
    else:
        msg_id = payloads.phone_message_id()
        data = payloads.owner_message(number=number, text=text, msg_id=msg_id, push_name=inst.business_name,
                                      timestamp=now, instance_id=inst.instance_id)
    message = sb.add_message(inst.name, number, author, text, msg_id, "messages.upsert")
    return delivered(sb, inst, number, data, message, wait)


def delivered(sb: Sandbox, inst: Instance, number: str, data: dict, message: dict, wait: bool, shown=None):
    """A phone's message as its messages.upsert webhook, delivered now (wait)
    or queued; the answer says which (`shown`: the data as the answer shows it)."""
    target = sb.webhook_bodies(inst, "messages.upsert", data)
    answer = {"instance": inst.name, "number": number, "message": message, "data": shown or data,
              "webhook": "none" if target is None else ("delivered" if wait else "queued")}
    if wait:
        answer["deliveries"] = [{k: r[k] for k in ("status", "ok", "attempts", "error")}
                                for r in sb.emit(inst, number, "messages.upsert", data, mode="sync")]
    else:
        sb.emit(inst, number, "messages.upsert", data, mode="async")
    return jsonify(answer), 201


@bp.post("/sandbox/customer")
def customer_says():
    """The customer types: a messages.upsert webhook with fromMe false."""
    return _incoming("customer")


@bp.post("/sandbox/owner")
def owner_says():
    """The business owner types on the phone: messages.upsert with fromMe true."""
    return _incoming("owner")


# ---- what happened ------------------------------------------------------------
@bp.get("/sandbox/messages")
def messages():
    sb = sandbox()
    inst = _instance_of(request.args)
    number = _number_of(request.args)
    try:
        after = int(request.args.get("after", 0))
    except ValueError:
        raise bad_request("after must be a whole number", "after") from None
    return jsonify({"instance": inst.name, "number": number, "messages": sb.messages(inst.name, number, after),
                    "typing": sb.is_typing(inst.name, number)})


@bp.get("/sandbox/calls")
def calls():
    """?instance=&kind=&after=<seq>&wait=<seconds, at most 30>: with wait, the
    answer comes as soon as a call newer than `after` is there."""
    sb = sandbox()
    try:
        after = int(request.args.get("after", 0))
        wait = min(max(float(request.args.get("wait", 0)), 0.0), 30.0)
    except ValueError:
        raise bad_request("after must be a whole number and wait a number of seconds", "after") from None
    found = sb.calls_of(request.args.get("instance"), request.args.get("kind"), after=after, wait=wait)
    return jsonify({"calls": found, "last_seq": found[-1]["seq"] if found else after})


@bp.get("/sandbox/deliveries")
def deliveries():
    sb = sandbox()
    if request.args.get("wait") in ("1", "true"):
        sb.deliverer.wait_idle(float(request.args.get("timeout", 10)))
    instance = request.args.get("instance")
    found = [r for r in list(sb.deliverer.results) if instance is None or r["instance"] == instance]
    return jsonify({"pending": sb.deliverer.pending, "deliveries": found})


# ---- knobs, instances, reset ----------------------------------------------------
@bp.get("/sandbox/knobs")
def get_knobs():
    return jsonify(sandbox().get_knobs())


@bp.post("/sandbox/knobs")
def set_knobs():
    try:
        return jsonify(sandbox().set_knobs(json_body(optional=True)))
    except KnobError as err:
        raise bad_request(str(err), err.field) from None


@bp.post("/sandbox/reset")
def reset():
    body = json_body(optional=True)
    forget = body.get("instances", False)
    if not isinstance(forget, bool):
        raise bad_request("instances must be true or false", "instances")
    sb = sandbox()
    sb.deliverer.wait_idle(5)
    sb.reset(instances=forget)
    with _tenant_ids_lock:
        _tenant_ids.clear()
    return jsonify({"reset": True, "instances": sorted(sb.instances)})


@bp.get("/sandbox/instances")
def list_instances():
    sb = sandbox()
    with sb._lock:
        return jsonify({"instances": [i.public() for i in sb.instances.values()]})


@bp.post("/sandbox/instances")
def put_instance():
    body = json_body(optional=True)
    name = body.get("instance")
    if not valid_instance_name(name):
        raise bad_request("instance must be an instance name", "instance")
    fields = {}
    for key in ("apikey", "state", "business_name"):
        if key in body:
            if not isinstance(body[key], str) or not body[key]:
                raise bad_request(f"{key} must be a non-empty string", key)
            fields[key] = body[key]
    if "owner_number" in body:
        fields["owner_number"] = _digits(body["owner_number"], "owner_number")
    inst = sandbox().ensure_instance(name, **fields)
    return jsonify(inst.public()), 201


# ---- is the chat paused? -------------------------------------------------------
_tenant_ids: dict[str, str] = {}
_tenant_ids_lock = threading.Lock()


def _collision_configured() -> bool:
    cfg = current_app.config["HF"]
    return bool(cfg.collision_url and cfg.admin_token)


def items_of(body, *keys) -> list:
    """The list in an admin API answer (a bare list or {key: [...]})."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in keys:
            if isinstance(body.get(key), list):
                return body[key]
    return []


def _admin_get(path: str, params=None):
    cfg = current_app.config["HF"]
    resp = requests.get(cfg.collision_url + path, params=params, timeout=3,
                        headers={"Authorization": f"Bearer {cfg.admin_token}"})
    resp.raise_for_status()
    return resp.json()


def session_from_collision(instance: str, number: str) -> dict:
    with _tenant_ids_lock:
        tenant_id = _tenant_ids.get(instance)
    if tenant_id is None:
        tenants = items_of(_admin_get("/api/tenants"), "tenants", "items", "data")
        match = [t for t in tenants if isinstance(t, dict) and t.get("instance_name") == instance]
        if not match:
            return {"paused": False, "known": False, "source": "collision",
                    "note": f"no tenant for instance {instance!r}"}
        tenant_id = str(match[0]["id"])
        with _tenant_ids_lock:
            _tenant_ids[instance] = tenant_id
    # the paused chats of the tenant: this chat is either among them or active
    paused = items_of(_admin_get("/api/sessions", {"tenant_id": tenant_id, "paused": "true", "limit": 1000}),
                    "sessions", "items", "data")
    jid = payloads.phone_jid(number)
    for s in paused:
        if isinstance(s, dict) and s.get("chat_id") in (jid, number) and s.get("paused"):
            return {"paused": True, "known": True, "source": "collision",
                    "reason": s.get("pause_reason"), "paused_until": s.get("paused_until")}
    return {"paused": False, "known": True, "source": "collision", "reason": None, "paused_until": None}


def session_inferred(sb: Sandbox, instance: str, number: str) -> dict:
    """Without the admin API: the owner's last word pauses, the bot's next
    message (or '#bot on') means it is back."""
    paused, reason = False, None
    for m in sb.messages(instance, number):
        text = m["text"].strip().lower()
        if m["author"] == "owner":
            paused = text != "#bot on"
            reason = "owner_command" if text == "#bot off" else ("human_takeover" if paused else None)
        elif m["author"] == "bot":
            paused, reason = False, None
    return {"paused": paused, "known": True, "source": "inferred", "reason": reason, "paused_until": None}


@bp.get("/sandbox/session")
def session():
    sb = sandbox()
    inst = _instance_of(request.args)
    number = _number_of(request.args)
    if _collision_configured():
        try:
            return jsonify(session_from_collision(inst.name, number))
        except (requests.RequestException, ValueError, KeyError) as exc:
            fallback = session_inferred(sb, inst.name, number)
            fallback["error"] = f"collision admin API: {type(exc).__name__}"
            return jsonify(fallback)
    return jsonify(session_inferred(sb, inst.name, number))
