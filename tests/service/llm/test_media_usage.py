"""GET /api/usage counts voice notes transcribed (seconds, per minute price)
and photos shown to the model (their estimated tokens) beside the text
tokens; Evolution's own transcripts and the polite voice-note answer cost
the tenant nothing."""
from __future__ import annotations

import pytest

from tests.media_webhooks import VOICE_NOTE, evolution_serving, photo_bytes, record



@pytest.fixture
def evolution():
    with evolution_serving(("audio/ogg; codecs=opus", VOICE_NOTE), ("image/jpeg", photo_bytes(1024, 768))) as mock:
        yield mock


def usage_today(client, admin_headers, tenant):
    resp = client.get("/api/usage", query_string={"tenant_id": str(tenant["id"])}, headers=admin_headers)
    assert resp.status_code == 200, resp.get_json()
    [day] = resp.get_json()["usage"]
    return day


def test_transcription_seconds_and_photo_tokens_are_counted_and_priced(tx, tenant, set_tenant, evolution, client,
                                                                      service_headers, admin_headers, reply,
                                                                      fake_llm):
    set_tenant(tenant, llm_provider="openai", llm_model="gpt-4o-mini")
    note = record(tx, tenant, "04_customer_audio_ptt")  # 9 s
    client.post("/transcribe", json={"tenant_id": str(tenant["id"]), "wa_message_id": note["wa_message_id"]},
                headers=service_headers)
    fake_llm.enqueue({"text": "ok", "tokens_in": 1000, "tokens_out": 100})
    reply(note["reply_token"])
    photo = record(tx, tenant, "03_customer_image_caption")
    fake_llm.enqueue({"text": "lindo", "tokens_in": 2000, "tokens_out": 100})
    reply(photo["reply_token"])

    day = usage_today(client, admin_headers, tenant)

    assert (day["transcriptions"], day["transcription_seconds"]) == (1, 9.0)
    assert day["transcription_models"] == [{"provider": "openai", "model": "whisper-1", "transcriptions": 1,
                                            "seconds": 9.0, "cost_usd": 0.0009}]  # 9 s at $0.006 a minute
    assert (day["images"], day["image_tokens"]) == (1, 765)
    # gpt-4o-mini: 3000 in x $0.15/M + 200 out x $0.6/M = 0.00057; plus the transcription
    assert day["cost_usd"] == pytest.approx(0.00057 + 0.0009)


def test_evolutions_transcripts_and_the_polite_answer_cost_nothing(tx, tenant, client, admin_headers, reply):
    reply(record(tx, tenant, "04b_customer_audio_with_speech_to_text")["reply_token"])
    reply(record(tx, tenant, "04c_customer_long_audio_with_base64")["reply_token"])

    day = usage_today(client, admin_headers, tenant)

    assert day["transcriptions"] == 0 and day["transcription_models"] == []
    assert day["cost_usd"] is not None
