"""Evolution API over HTTP: a keep-alive session per thread, and every answer
either parsed JSON or an EvolutionError that says, in words a business owner
can act on, what went wrong.

Evolution's errors look like {"status": N, "error": "...", "response":
{"message": ...}} where message is a string, a list of strings, a list of
lists of strings (schema validation) or a list of {"jid", "exists", "number"}
(a number that is not on WhatsApp)."""
from __future__ import annotations

import logging
import time
from urllib.parse import quote

import requests

from ..common.logs import log_event
# the keep-alive session of this thread, shared with the calls between services
from ..common.service_client import keepalive_session

log = logging.getLogger("hybridflow.evolution.client")

WEBHOOK_EVENTS = ("MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED")

# kinds worth another attempt: the gateway may answer next time
RETRYABLE = frozenset({"server_error", "timeout", "unreachable"})


class EvolutionError(Exception):
    """A gateway problem as a value: kind (stable, for code), message (for people)."""

    def __init__(self, kind: str, message: str, status: int | None = None, body=None, attempts: int = 1):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.body = body
        self.attempts = attempts

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def _flatten(message) -> list:
    """Evolution's response.message as a flat list (strings and objects)."""
    if message is None:
        return []
    if isinstance(message, list):
        out = []
        for item in message:
            out.extend(_flatten(item))
        return out
    return [message]


def _text_of(items: list) -> str:
    return "; ".join(str(i) for i in items if not isinstance(i, dict)) or ""


def describe_error(status: int, body, instance: str = "") -> tuple[str, str]:
    """(kind, message) for an Evolution error answer."""
    if isinstance(body, dict):
        label = str(body.get("error") or "")
        response = body.get("response")
        items = _flatten(response.get("message") if isinstance(response, dict) else body.get("message"))
    else:
        label, items = "", ([body.strip()[:200]] if isinstance(body, str) and body.strip() else [])
    text = _text_of(items)
    head = f"{status} {label}".strip()
    if status == 401:
        return "unauthorized", f"Evolution refused the API key ({head}): check the tenant's evo_api_key"
    if status == 404:
        if "instance does not exist" in text:
            return "unknown_instance", (f"Evolution has no instance {instance!r} ({head}: {text}): "
                                        "check the tenant's instance_name and evo_server_url")
        return "not_found", (f"Evolution answered {head}{': ' + text if text else ''}; "
                             "is evo_server_url the address of the Evolution API?")
    if status == 400:
        missing = [i for i in items if isinstance(i, dict) and i.get("exists") is False]
        if missing:
            number = missing[0].get("number") or missing[0].get("jid") or "?"
            return "not_on_whatsapp", f"the number {number} is not on WhatsApp (Evolution {head}, exists: false)"
        return "invalid", f"Evolution refused the request as invalid ({head}){': ' + text if text else ''}"
    if 400 < status < 500:
        return "rejected", f"Evolution refused the request ({head}){': ' + text if text else ''}"
    return "server_error", f"Evolution failed ({head}){': ' + text if text else ''}"


class EvolutionClient:
    """One tenant's Evolution server. Retries (with doubling backoff) only the
    calls that asked for them, and only timeouts, connection errors and 5xx."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float = 30.0, attempts: int = 3,
                 backoff: float = 0.5, session: requests.Session | None = None, sleep=time.sleep):
        self.base_url = (base_url or "").rstrip("/")
        self.api_key = api_key or ""
        self.timeout = timeout
        self.attempts = max(1, int(attempts))
        self.backoff = backoff
        self.session = session
        self.sleep = sleep

    # ---- the calls -------------------------------------------------------
    def send_text(self, instance: str, number: str, text: str, **options) -> dict:
        """POST /message/sendText/{instance}; the answer's key.id is the WhatsApp id."""
        body = {"number": number, "text": text, **{k: v for k, v in options.items() if v is not None}}
        answer = self._call("POST", "/message/sendText/", instance, body, attempts=self.attempts)
        key = answer.get("key") if isinstance(answer, dict) else None
        if not (isinstance(key, dict) and isinstance(key.get("id"), str) and key["id"]):
            raise EvolutionError("bad_answer", "Evolution accepted the message but its answer has no key.id",
                                 200, answer)
        return answer

    def send_presence(self, instance: str, number: str, delay_ms: int, presence: str = "composing") -> dict:
        """POST /chat/sendPresence/{instance}: Evolution holds the call open for delay ms."""
        body = {"number": number, "presence": presence, "delay": int(delay_ms)}
        return self._call("POST", "/chat/sendPresence/", instance, body, attempts=1,
                          timeout=self.timeout + delay_ms / 1000.0)

    def connection_state(self, instance: str) -> dict:
        """GET /instance/connectionState/{instance} -> {"instance": {"instanceName", "state"}}."""
        return self._call("GET", "/instance/connectionState/", instance, None, attempts=1)

    def set_webhook(self, instance: str, url: str, headers: dict | None = None,
                    events=WEBHOOK_EVENTS) -> dict:
        """POST /webhook/set/{instance}: one URL for every event, JSON bodies, no base64."""
        body = {"webhook": {
            "enabled": True, "url": url, "headers": dict(headers or {}),
            "byEvents": False, "base64": False, "events": list(events),
        }}
        return self._call("POST", "/webhook/set/", instance, body, attempts=1)

    # ---- the plumbing ----------------------------------------------------
    def _call(self, method, prefix, instance, body, *, attempts, timeout=None):
        if not self.base_url:
            raise EvolutionError("not_configured", "the tenant has no evo_server_url")
        url = self.base_url + prefix + quote(instance, safe="")
        last = None
        for attempt in range(1, attempts + 1):
            try:
                return self._once(method, url, instance, body, timeout or self.timeout)
            except EvolutionError as err:
                err.attempts = attempt
                last = err
                if not err.retryable or attempt == attempts:
                    break
                wait = self.backoff * (2 ** (attempt - 1))
                log_event(log, "evolution call failed, retrying", logging.WARNING, url=url, kind=err.kind,
                          status=err.status, attempt=attempt, retry_in_s=wait)
                self.sleep(wait)
        if last.attempts > 1:
            last.message += f" (after {last.attempts} attempts)"
        raise last

    def _once(self, method, url, instance, body, timeout):
        session = self.session or keepalive_session()
        try:
            resp = session.request(method, url, json=body, timeout=timeout,
                                   headers={"apikey": self.api_key})
        except requests.Timeout:
            raise EvolutionError("timeout", f"Evolution did not answer within {timeout:g} s ({url})") from None
        except requests.RequestException as exc:
            raise EvolutionError("unreachable", f"cannot reach Evolution at {self.base_url}: "
                                                f"{type(exc).__name__}") from None
        try:
            parsed = resp.json()
        except ValueError:
            parsed = resp.text
        if resp.status_code >= 400:
            kind, message = describe_error(resp.status_code, parsed, instance)
            raise EvolutionError(kind, message, resp.status_code, parsed)
        if not isinstance(parsed, (dict, list)):
            raise EvolutionError("bad_answer", f"Evolution answered {resp.status_code} without JSON ({url})",
                                 resp.status_code, parsed)
        return parsed
