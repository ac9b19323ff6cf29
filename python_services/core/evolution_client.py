"""Evolution API over HTTP: a keep-alive session per thread, and every answer
either parsed JSON or an EvolutionError that says, in words a business owner
can act on, what went wrong.

Evolution's errors look like {"status": N, "error": "...", "response":
{"message": ...}} where message is a string, a list of strings, a list of
lists of strings (schema validation) or a list of {"jid", "exists", "number"}
(a number that is not on WhatsApp).

A failed send has a fate: `not_sent` when it surely never reached Evolution
(connection refused, DNS, connect timeout) or Evolution refused it (4xx);
`unknown` after a read timeout, a connection broken mid-call, a 5xx, or an
answer without a message id: Evolution may have sent it. Only `not_sent`
sends are tried again here; for the others the caller learns the truth
(the echo, `find_sent`) before deciding to send again."""
from __future__ import annotations

import logging
import threading
import time
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from ..common.logs import log_event

log = logging.getLogger("hybridflow.evolution.client")
_local = threading.local()

WEBHOOK_EVENTS = ("MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED")

# kinds worth another attempt: the gateway may answer next time
RETRYABLE = frozenset({"server_error", "timeout", "unreachable", "connection_lost"})
# what a failed call did: never reached Evolution (or was refused by it), or
# may have had its effect (a send may have gone out)
NOT_SENT, UNKNOWN = "not_sent", "unknown"


class EvolutionError(Exception):
    """A gateway problem as a value: kind (stable, for code), message (for
    people), fate (NOT_SENT or UNKNOWN), and whether Evolution itself answered
    (its work on the call is over; a timeout or a proxy's page says nothing)."""

    def __init__(self, kind: str, message: str, status: int | None = None, body=None, attempts: int = 1,
                 fate: str = NOT_SENT, answered: bool = False):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.body = body
        self.attempts = attempts
        self.fate = fate
        self.answered = answered

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def maybe_sent(self) -> bool:
        return self.fate == UNKNOWN


def keepalive_session() -> requests.Session:
    """This thread's keep-alive session: repeated calls reuse their connection."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


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
        """POST /message/sendText/{instance}; the answer's key.id is the WhatsApp id.
        Tried again only when the call surely did not reach Evolution: after a
        read timeout, a broken connection or a 5xx the error's fate is UNKNOWN
        and it is raised at once (a blind retry could send the message twice)."""
        body = {"number": number, "text": text, **{k: v for k, v in options.items() if v is not None}}
        answer = self._call("POST", "/message/sendText/", instance, body, attempts=self.attempts,
                            retry_when=lambda err: err.fate == NOT_SENT)
        key = answer.get("key") if isinstance(answer, dict) else None
        if not (isinstance(key, dict) and isinstance(key.get("id"), str) and key["id"]):
            raise EvolutionError("bad_answer", "Evolution accepted the message but its answer has no key.id",
                                 200, answer, fate=UNKNOWN, answered=True)
        return answer

    def find_messages(self, instance: str, remote_jid: str, *, from_me: bool = True, page_size: int = 20) -> list:
        """POST /chat/findMessages/{instance}: the chat's newest stored messages
        (Evolution v2: {"messages": {"total", "pages", "currentPage", "records"}},
        newest first), as the list of records."""
        body = {"where": {"key": {"remoteJid": remote_jid, "fromMe": from_me}}, "offset": page_size, "page": 1}
        answer = self._call("POST", "/chat/findMessages/", instance, body, attempts=1)
        if isinstance(answer, list):  # some Evolution builds answer the bare list
            return answer
        found = answer.get("messages") if isinstance(answer, dict) else None
        records = found.get("records") if isinstance(found, dict) else None
        if not isinstance(records, list):
            raise EvolutionError("bad_answer", "Evolution's findMessages answer has no messages.records",
                                 200, answer, answered=True)
        return records

    def find_sent(self, instance: str, remote_jid: str, text: str, since: float) -> list[str]:
        """The ids of the bot's (fromMe) messages in the chat with this text
        whose timestamp is not before `since` (epoch seconds), oldest first:
        did a send whose fate is unknown reach WhatsApp after all?"""
        wanted = text.strip()
        hits = []
        for record in self.find_messages(instance, remote_jid):
            key = record.get("key") if isinstance(record, dict) else None
            if not (isinstance(key, dict) and key.get("fromMe") is True and isinstance(key.get("id"), str)):
                continue
            stamp = _epoch_seconds(record.get("messageTimestamp"))
            if stamp is not None and stamp >= since and message_text(record.get("message")).strip() == wanted:
                hits.append((stamp, key["id"]))
        return [msg_id for _, msg_id in sorted(hits)]

    def get_base64_from_media_message(self, instance: str, message_id: str) -> dict:
        """POST /chat/getBase64FromMediaMessage/{instance}: a received message's
        media, downloaded and decrypted by Evolution -> {"mediaType",
        "fileName", "mimetype", "base64", ...}. It changes nothing, so every
        retryable failure is tried again."""
        body = {"message": {"key": {"id": message_id}}, "convertToMp4": False}
        answer = self._call("POST", "/chat/getBase64FromMediaMessage/", instance, body, attempts=self.attempts)
        if not (isinstance(answer, dict) and isinstance(answer.get("base64"), str) and answer["base64"]):
            # the answer itself is not kept on the error: it may be megabytes of media
            raise EvolutionError("bad_answer", "Evolution's getBase64FromMediaMessage answer has no base64",
                                 200, None, answered=True)
        return answer

    def send_presence(self, instance: str, number: str, delay_ms: int, presence: str = "composing") -> dict:
        """POST /chat/sendPresence/{instance}: Evolution holds the call open for delay ms."""
        body = {"number": number, "presence": presence, "delay": int(delay_ms)}
        return self._call("POST", "/chat/sendPresence/", instance, body, attempts=1,
                          timeout=self.timeout + delay_ms / 1000.0)

    def connection_state(self, instance: str) -> dict:
        """GET /instance/connectionState/{instance} -> {"instance": {"instanceName", "state"}}."""
        return self._call("GET", "/instance/connectionState/", instance, None, attempts=1)

    def connect(self, instance: str) -> dict:
        """GET /instance/connect/{instance}: pairing a phone. Not yet paired:
        {"base64": "data:image/png;base64,...", "code", "pairingCode", "count"}
        (the QR code to scan); already paired: {"instance": {"instanceName", "state"}}."""
        return self._call("GET", "/instance/connect/", instance, None, attempts=1)

    def find_webhook(self, instance: str) -> dict | None:
        """GET /webhook/find/{instance} -> {"enabled", "url", "events", "headers", ...},
        or None when the instance has no webhook (Evolution answers null or {})."""
        try:
            answer = self._call("GET", "/webhook/find/", instance, None, attempts=1)
        except EvolutionError as err:
            if err.kind == "bad_answer" and err.status == 200 and err.body in ("", None):
                return None  # JSON null or an empty body: nothing set
            raise
        return answer if isinstance(answer, dict) and answer else None

    def set_webhook(self, instance: str, url: str, headers: dict | None = None,
                    events=WEBHOOK_EVENTS) -> dict:
        """POST /webhook/set/{instance}: JSON bodies, no base64, each event on a
        path of its own under `url` (byEvents: .../messages-upsert,
        .../send-message, .../messages-edited), so the bot's own echoes take
        n8n's lean echo flow instead of the whole inbound flow."""
        body = {"webhook": {
            "enabled": True, "url": url, "headers": dict(headers or {}),
            "byEvents": True, "base64": False, "events": list(events),
        }}
        return self._call("POST", "/webhook/set/", instance, body, attempts=1)

    # ---- the plumbing ----------------------------------------------------
    def _call(self, method, prefix, instance, body, *, attempts, timeout=None, retry_when=None):
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
                if not err.retryable or (retry_when and not retry_when(err)) or attempt == attempts:
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
        except requests.ConnectTimeout:
            raise EvolutionError("timeout", f"Evolution did not accept a connection within {timeout:g} s "
                                            f"({url})") from None
        except requests.Timeout:
            raise EvolutionError("timeout", f"Evolution did not answer within {timeout:g} s ({url})",
                                 fate=UNKNOWN) from None
        except requests.ConnectionError as exc:
            if never_connected(exc):
                raise EvolutionError("unreachable", f"cannot reach Evolution at {self.base_url}: "
                                                    f"{type(exc).__name__}") from None
            raise EvolutionError("connection_lost", f"the connection to Evolution broke before it answered "
                                                    f"({url}: {_cause(exc)})", fate=UNKNOWN) from None
        except requests.RequestException as exc:
            raise EvolutionError("unreachable", f"cannot reach Evolution at {self.base_url}: "
                                                f"{type(exc).__name__}") from None
        try:
            parsed = resp.json()
        except ValueError:
            parsed = resp.text
        if resp.status_code >= 400:
            kind, message = describe_error(resp.status_code, parsed, instance)
            if resp.status_code < 500:
                raise EvolutionError(kind, message, resp.status_code, parsed)
            # a 5xx: Evolution may have sent before failing (storing, the webhook...);
            # its own error body says its work is over, a proxy's page (502/504) does not
            raise EvolutionError(kind, message, resp.status_code, parsed, fate=UNKNOWN,
                                 answered=is_evolution_error(parsed))
        if not isinstance(parsed, (dict, list)):
            raise EvolutionError("bad_answer", f"Evolution answered {resp.status_code} without JSON ({url})",
                                 resp.status_code, parsed)
        return parsed


def never_connected(exc: requests.ConnectionError) -> bool:
    """The connection was never made (refused, DNS, connect timeout): nothing
    reached Evolution. A connection that broke later (reset, closed before
    the answer) may have carried the request."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _cause(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else exc
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return type(reason).__name__ if isinstance(reason, Exception) else str(reason)[:200]


def is_evolution_error(body) -> bool:
    """Evolution's own error shape {"status", "error", "response"}."""
    return isinstance(body, dict) and "status" in body and "response" in body


def message_text(message) -> str:
    """The words of a stored WhatsApp message (text or extended text)."""
    if not isinstance(message, dict):
        return ""
    text = message.get("conversation")
    if not isinstance(text, str):
        extended = message.get("extendedTextMessage")
        text = extended.get("text") if isinstance(extended, dict) else None
    return text if isinstance(text, str) else ""


def _epoch_seconds(value) -> float | None:
    """messageTimestamp: seconds as a number or a string, or protobuf's Long {"low", "high"}."""
    if isinstance(value, dict):
        low, high = value.get("low"), value.get("high", 0)
        if isinstance(low, int) and isinstance(high, int):
            return float((high << 32) + (low & 0xFFFFFFFF))
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().isdigit():
        return float(value.strip())
    return None
