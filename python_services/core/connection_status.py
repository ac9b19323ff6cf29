"""What a tenant's Evolution instance looks like from HybridFlow, in words a
business owner can act on: is WhatsApp connected, does Evolution post its
webhooks where HybridFlow expects them (with the tenant's secret), and the
QR code that pairs a phone. Nothing here raises on an Evolution failure:
each answer carries the problem as a sentence (core/evolution_client.py's
messages), so a page shows it and never fails. Reads only; connecting is
core/connect.py."""
from __future__ import annotations

import re

from .evolution_client import WEBHOOK_EVENTS, EvolutionClient, EvolutionError
from .webhook_secrets import HEADER, secret_matches

_IMAGE_DATA_URL = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]+")
# Evolution's connection states, for people
STATES = {
    "open": "Connected to WhatsApp",
    "connecting": "Waiting for a phone to scan the QR code",
    "close": "Not connected to WhatsApp",
}


def _client(tenant: dict, timeout: float) -> EvolutionClient:
    # one attempt: a page waits for the answer, and a person can press again
    return EvolutionClient(tenant["evo_server_url"], tenant["evo_api_key"], timeout=timeout, attempts=1)


def _state_of(answer) -> str | None:
    instance = answer.get("instance") if isinstance(answer, dict) else None
    return instance.get("state") if isinstance(instance, dict) else None


def _header(headers, name: str):
    """A header's value in Evolution's stored headers, whatever its case."""
    if not isinstance(headers, dict):
        return None
    return next((v for k, v in headers.items() if isinstance(k, str) and k.lower() == name.lower()), None)


def webhook_check(found: dict | None, expected_url: str, tenant: dict) -> dict:
    """How Evolution's webhook compares with what HybridFlow expects:
    {"set", "enabled", "url", "url_ok", "secret" ("ok" | "wrong" | "missing"
    | "hidden": Evolution shows it masked), "events_missing", "ok"}."""
    if not found:
        return {"set": False, "enabled": False, "url": None, "url_ok": False, "secret": "missing",
                "events_missing": list(WEBHOOK_EVENTS), "ok": False}
    given = _header(found.get("headers"), HEADER)
    if not given:
        secret = "missing"
    elif str(given).startswith("*"):
        secret = "hidden"
    elif secret_matches(str(given), tenant["webhook_secret_hash"]) or secret_matches(
            str(given), tenant.get("previous_webhook_secret_hash")):
        secret = "ok"
    else:
        secret = "wrong"
    events = found.get("events") if isinstance(found.get("events"), list) else []
    # Evolution posts every event when the list is empty
    missing = [e for e in WEBHOOK_EVENTS if events and e not in events]
    url = found.get("url")
    check = {"set": True, "enabled": found.get("enabled") is True, "url": url,
             "url_ok": isinstance(url, str) and url.rstrip("/") == expected_url.rstrip("/"),
             "secret": secret, "events_missing": missing}
    check["ok"] = check["enabled"] and check["url_ok"] and secret in ("ok", "hidden") and not missing
    return check


def qr_data_url(value) -> str | None:
    """Evolution's QR image as a data URL a page may show: PNG or JPEG in
    base64 (with or without the data: prefix), nothing else."""
    if not isinstance(value, str) or not value:
        return None
    if not value.startswith("data:"):
        value = "data:image/png;base64," + value
    return value if _IMAGE_DATA_URL.fullmatch(value) else None


def instance_status(tenant: dict, *, expected_url: str, timeout: float) -> dict:
    """{"configured", "state", "state_text", "state_error", "webhook" (webhook_check),
    "webhook_error", "expected_url"}."""
    status = {"configured": bool(tenant["evo_server_url"]), "state": None, "state_text": None,
              "state_error": None, "webhook": None, "webhook_error": None, "expected_url": expected_url}
    if not status["configured"]:
        status["state_error"] = "No Evolution server is set for this business yet (evo_server_url)."
        return status
    client = _client(tenant, timeout)
    try:
        status["state"] = _state_of(client.connection_state(tenant["instance_name"]))
        status["state_text"] = STATES.get(status["state"], f"Evolution says {status['state']!r}")
    except EvolutionError as err:
        status["state_error"] = err.message
        return status  # the webhook question would fail the same way
    try:
        status["webhook"] = webhook_check(client.find_webhook(tenant["instance_name"]), expected_url, tenant)
    except EvolutionError as err:
        status["webhook_error"] = err.message
    return status


def pairing(tenant: dict, *, timeout: float) -> dict:
    """The QR code that pairs a phone with the instance: {"qr" (a data:image/png
    URL, or None once paired), "code", "pairing_code", "state", "error"}."""
    answer = {"qr": None, "code": None, "pairing_code": None, "state": None, "error": None}
    if not tenant["evo_server_url"]:
        answer["error"] = "No Evolution server is set for this business yet (evo_server_url)."
        return answer
    try:
        found = _client(tenant, timeout).connect(tenant["instance_name"])
    except EvolutionError as err:
        answer["error"] = err.message
        return answer
    qr = qr_data_url(found.get("base64") if isinstance(found, dict) else None)
    if qr:
        answer.update(qr=qr, code=found.get("code"), pairing_code=found.get("pairingCode"))
    else:
        answer["state"] = _state_of(found)
        if answer["state"] != "open":
            answer["error"] = "Evolution gave no QR code: try again in a few seconds."
    return answer
