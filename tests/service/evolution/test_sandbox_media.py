"""The sandbox's voice notes and photos: the page's phones send them as the
webhooks a real Evolution sends (shaped like the recorded fixtures), and
its getBase64FromMediaMessage gives the bytes back, to HybridFlow's
evolution service too (POST /media/fetch over real HTTP)."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest

from python_services.collision.recording import record_webhook
from python_services.core.normalize import normalize
from tests.media_webhooks import VOICE_NOTE, b64, photo_bytes

from .conftest import INSTANCE, NUMBER, SANDBOX_KEY, fixture

KEY = {"apikey": SANDBOX_KEY}
GET_BASE64 = f"/chat/getBase64FromMediaMessage/{INSTANCE}"


def send_media(sandbox, who="customer", **body):
    resp = sandbox.post(f"/sandbox/{who}/media", json={"number": NUMBER, **body})
    assert resp.status_code == 201, resp.text
    return resp.json()


def keys(value) -> set:
    return set(value) if isinstance(value, dict) else set()


def test_the_customers_voice_note_arrives_as_an_audio_message_like_the_real_one(sandbox, receiver):
    sandbox.hook(receiver.url)
    sent = send_media(sandbox, kind="audio", base64=b64(VOICE_NOTE), seconds=4)
    [got] = receiver.wait_for(1)

    data = got["body"]["data"]
    real = fixture("04_customer_audio_ptt.json")["data"]
    assert data["messageType"] == "audioMessage" and data["key"]["fromMe"] is False
    assert keys(real["message"]["audioMessage"]) <= keys(data["message"]["audioMessage"])
    audio = data["message"]["audioMessage"]
    assert (audio["mimetype"], audio["seconds"], audio["ptt"]) == ("audio/ogg; codecs=opus", 4, True)
    assert audio["fileLength"]["low"] == len(VOICE_NOTE)
    assert "base64" not in data["message"]  # the webhook was set with base64 off, as HybridFlow sets it
    assert sent["message"]["media"] == {"kind": "audio", "mimetype": "audio/ogg; codecs=opus", "seconds": 4,
                                        "url": f"/sandbox/media/{data['key']['id']}"}


def test_a_photo_with_a_caption_arrives_as_an_image_message(sandbox, receiver):
    sandbox.hook(receiver.url)
    send_media(sandbox, kind="image", base64="data:image/jpeg;base64," + b64(photo_bytes(320, 240)),
               caption="É esse aqui", mimetype="image/jpeg")
    [got] = receiver.wait_for(1)

    image = got["body"]["data"]["message"]["imageMessage"]
    assert (image["caption"], image["width"], image["height"]) == ("É esse aqui", 320, 240)
    assert keys(fixture("03_customer_image_caption.json")["data"]["message"]["imageMessage"]) <= keys(image)


def test_with_webhook_base64_on_the_webhook_carries_the_bytes(sandbox, receiver):
    sandbox.hook(receiver.url, base64=True)
    send_media(sandbox, kind="audio", base64=b64(VOICE_NOTE))
    [got] = receiver.wait_for(1)
    assert got["body"]["data"]["message"]["base64"] == b64(VOICE_NOTE)


def test_get_base64_from_media_message_gives_the_sent_bytes_back(sandbox):
    sent = send_media(sandbox, kind="audio", base64=b64(VOICE_NOTE))
    msg_id = sent["message"]["id"]

    resp = sandbox.post(GET_BASE64, json={"message": {"key": {"id": msg_id}}, "convertToMp4": False}, headers=KEY)

    assert resp.status_code == 201
    body = resp.json()
    assert (body["mediaType"], body["mimetype"]) == ("audioMessage", "audio/ogg; codecs=opus")
    assert base64.b64decode(body["base64"]) == VOICE_NOTE
    assert body["size"]["fileLength"] == str(len(VOICE_NOTE))
    assert sandbox.calls("getBase64FromMediaMessage")[-1]["message_id"] == msg_id
    assert sandbox.get(f"/sandbox/media/{msg_id}").content == VOICE_NOTE


@pytest.mark.parametrize("body", [{"message": {"key": {"id": "NO-SUCH-ID"}}}, {}, {"message": "x"}])
def test_an_unknown_message_is_evolutions_400_message_not_found(sandbox, body):
    resp = sandbox.post(GET_BASE64, json=body, headers=KEY)
    assert resp.status_code == 400
    assert resp.json() == {"status": 400, "error": "Bad Request", "response": {"message": ["Error: Message not found"]}}


def test_get_base64_checks_the_apikey_like_every_evolution_route(sandbox):
    assert sandbox.post(GET_BASE64, json={}, headers={"apikey": "wrong"}).status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"kind": "video", "base64": b64(b"x")}, "kind"),
    ({"kind": "audio", "base64": "not base64!"}, "base64"),
    ({"kind": "audio"}, "base64"),
    ({"kind": "image", "base64": b64(b"x"), "caption": 7}, "caption"),
    ({"kind": "audio", "base64": b64(b"x"), "seconds": "long"}, "seconds"),
])
def test_bad_media_from_the_page_is_a_400_naming_the_field(sandbox, body, field):
    resp = sandbox.post("/sandbox/customer/media", json={"number": NUMBER, **body})
    assert resp.status_code == 400 and resp.json()["error"]["field"] == field


def test_the_shipped_samples_are_small_and_served(sandbox):
    voice = sandbox.get("/sandbox/samples/voice-note-sample.ogg")
    photo = sandbox.get("/sandbox/samples/photo-sample.jpg")
    assert voice.status_code == photo.status_code == 200
    assert voice.content[:4] == b"OggS" and b"OpusHead" in voice.content[:200] and len(voice.content) < 30_000
    assert photo.content[:2] == b"\xff\xd8" and len(photo.content) < 30_000
    assert sandbox.get("/sandbox/samples/index.html").status_code == 404


def test_hybridflow_fetches_the_sandboxs_voice_note_through_the_evolution_service(
        sandbox, receiver, tenant, tx, evolution, service_headers):
    row = tenant()
    sandbox.hook(receiver.url)
    send_media(sandbox, kind="audio", base64=b64(VOICE_NOTE), seconds=4)
    [got] = receiver.wait_for(1)
    now = datetime.now(timezone.utc)
    recorded = tx(lambda cur: record_webhook(cur, row, normalize(got["body"], now), now, 0.0))

    answer = evolution.post("/media/fetch", json={"tenant_id": str(row["id"]),
                                                  "wa_message_id": recorded["wa_message_id"]},
                            headers=service_headers).get_json()

    assert answer["outcome"] == "fetched" and base64.b64decode(answer["base64"]) == VOICE_NOTE
