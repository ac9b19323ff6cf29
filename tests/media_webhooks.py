"""Media messages recorded the way the collision service records a webhook
(normalise, decide, store), for the llm and evolution service tests."""
from __future__ import annotations

import base64
import contextlib
import io
import time
from datetime import datetime, timezone
from pathlib import Path

import responses
from PIL import Image

from python_services.collision.recording import record_webhook
from python_services.core.normalize import normalize
from tests.fixtures import webhook

# the sandbox's shipped voice note: 3.7 s of Portuguese speech, Ogg Opus as WhatsApp records it
VOICE_NOTE = (Path(__file__).resolve().parents[1] / "python_services" / "sandbox" / "static"
              / "voice-note-sample.ogg").read_bytes()


def photo_bytes(width: int = 1600, height: int = 1200, color: str = "navy") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG")
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# where make_tenant's tenants have their Evolution (tests/conftest.py), faked with `responses`
GET_BASE64 = "http://127.0.0.1:9/chat/getBase64FromMediaMessage/acme-store"


@contextlib.contextmanager
def evolution_serving(*media: tuple[str, bytes]):
    """Evolution answering getBase64FromMediaMessage with these (mimetype,
    bytes), one a call, the last again after that (any message id)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for mimetype, data in media:
            kind = "imageMessage" if mimetype.startswith("image/") else "audioMessage"
            mock.add(responses.POST, GET_BASE64, status=201,
                     json={"mediaType": kind, "fileName": None, "mimetype": mimetype, "base64": b64(data)})
        yield mock


def record(tx, tenant: dict, fixture: str, wa_id: str | None = None, **data_changes) -> dict:
    """The fixture's webhook, as of now, recorded for the tenant: the
    collision service's answer (decision, reply_token, wa_message_id...)."""
    body = webhook(fixture, messageTimestamp=int(time.time()), **data_changes)
    body["instance"] = tenant["instance_name"]
    if wa_id:
        body["data"]["key"]["id"] = wa_id
    event = normalize(body, datetime.now(timezone.utc))
    return tx(lambda cur: record_webhook(cur, tenant, event, datetime.now(timezone.utc), time.perf_counter()))


def customer_text(tx, tenant: dict, text: str, wa_id: str) -> dict:
    return record(tx, tenant, "01_customer_text_pn", wa_id=wa_id, message={"conversation": text},
                  messageType="conversation")
