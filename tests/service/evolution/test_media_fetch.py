"""POST /media/fetch: a message's media from Evolution's
getBase64FromMediaMessage (faked with `responses`), or from the webhook's
own base64; Evolution's errors as values, the size limit, bad input and
other tenants' messages."""
from __future__ import annotations

import json

import pytest
import responses

from tests.media_webhooks import VOICE_NOTE, b64, photo_bytes, record

EVO = "http://evo.test:8080"
GET_BASE64 = f"{EVO}/chat/getBase64FromMediaMessage/acme-store"


@pytest.fixture
def evo_tenant(make_tenant):
    return make_tenant("acme-store", evo_server_url=EVO, evo_api_key="evo-key-1234")


@pytest.fixture
def fetch(evolution, service_headers):
    def call(body, expect=200):
        resp = evolution.post("/media/fetch", json=body, headers=service_headers)
        assert resp.status_code == expect, resp.get_data(as_text=True)
        return resp.get_json()

    return call


def evolution_answers(status=201, **body):
    responses.add(responses.POST, GET_BASE64, status=status, json=body)


@responses.activate
def test_a_voice_note_is_fetched_from_evolution_with_the_message_id_and_the_tenants_key(tx, evo_tenant, fetch):
    note = record(tx, evo_tenant, "04_customer_audio_ptt")
    evolution_answers(mediaType="audioMessage", fileName=None, mimetype="audio/ogg; codecs=opus",
                      base64=b64(VOICE_NOTE), size={"fileLength": str(len(VOICE_NOTE))})

    answer = fetch({"tenant_id": str(evo_tenant["id"]), "wa_message_id": note["wa_message_id"]})

    assert answer["outcome"] == "fetched"
    assert (answer["mediaType"], answer["mimetype"], answer["source"]) == ("audioMessage", "audio/ogg; codecs=opus",
                                                                           "evolution")
    assert answer["base64"] == b64(VOICE_NOTE) and answer["bytes"] == len(VOICE_NOTE)
    [call] = responses.calls
    assert json.loads(call.request.body) == {"message": {"key": {"id": note["wa_message_id"]}},
                                             "convertToMp4": False}
    assert call.request.headers["apikey"] == "evo-key-1234"


@responses.activate
def test_the_webhooks_own_base64_is_used_without_asking_evolution(tx, evo_tenant, fetch):
    photo = record(tx, evo_tenant, "03_customer_image_caption")
    data = photo_bytes(64, 64)

    answer = fetch({"tenant_id": str(evo_tenant["id"]), "wa_message_id": photo["wa_message_id"],
                    "base64": "data:image/jpeg;base64," + b64(data)})

    assert (answer["outcome"], answer["source"], answer["mimetype"]) == ("fetched", "webhook", "image/jpeg")
    assert answer["base64"] == b64(data)
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.parametrize("status, body, kind, says", [
    (401, {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}, "unauthorized",
     "evo_api_key"),
    (404, {"status": 404, "error": "Not Found", "response": {"message": ['The "acme-store" instance does not exist']}},
     "unknown_instance", "instance_name"),
    (400, {"status": 400, "error": "Bad Request", "response": {"message": ["Error: Message not found"]}}, "invalid",
     "Message not found"),
])
def test_evolutions_refusal_is_an_outcome_the_flow_can_route(tx, evo_tenant, fetch, status, body, kind, says):
    note = record(tx, evo_tenant, "04_customer_audio_ptt")
    responses.add(responses.POST, GET_BASE64, status=status, json=body)

    answer = fetch({"tenant_id": str(evo_tenant["id"]), "wa_message_id": note["wa_message_id"]})

    assert answer["outcome"] == "failed" and answer["kind"] == kind and answer["status"] == status
    assert says in answer["error"]


@responses.activate
def test_an_evolution_failing_with_500_is_tried_again_before_it_counts(tx, evo_tenant, fetch):
    note = record(tx, evo_tenant, "04_customer_audio_ptt")
    responses.add(responses.POST, GET_BASE64, status=500,
                  json={"status": 500, "error": "Internal Server Error", "response": {"message": "Connection Closed"}})
    evolution_answers(mediaType="audioMessage", mimetype="audio/ogg", base64=b64(VOICE_NOTE))

    answer = fetch({"tenant_id": str(evo_tenant["id"]), "wa_message_id": note["wa_message_id"]})

    assert answer["outcome"] == "fetched" and len(responses.calls) == 2


@responses.activate
def test_an_answer_without_base64_is_a_failed_fetch_not_a_500(tx, evo_tenant, fetch):
    note = record(tx, evo_tenant, "04_customer_audio_ptt")
    evolution_answers(mediaType="audioMessage", mimetype="audio/ogg")
    answer = fetch({"tenant_id": str(evo_tenant["id"]), "wa_message_id": note["wa_message_id"]})
    assert (answer["outcome"], answer["kind"]) == ("failed", "bad_answer")


@responses.activate
def test_media_over_the_size_limit_is_refused_before_it_is_downloaded(tx, evo_tenant, make_app, evolution_config,
                                                                      service_headers):
    from python_services.evolution.app import create_app

    client = make_app(create_app, {**evolution_config, "MEDIA_MAX_BYTES": "20000"}).test_client()
    note = record(tx, evo_tenant, "04_customer_audio_ptt")  # its webhook says 23112 bytes

    answer = client.post("/media/fetch", json={"tenant_id": str(evo_tenant["id"]),
                                               "wa_message_id": note["wa_message_id"]},
                         headers=service_headers).get_json()

    assert (answer["outcome"], answer["kind"]) == ("failed", "too_large")
    assert "MEDIA_MAX_BYTES (20000)" in answer["error"]
    assert len(responses.calls) == 0


@responses.activate
def test_media_larger_than_its_webhook_said_is_refused_too(tx, evo_tenant, make_app, evolution_config,
                                                           service_headers):
    from python_services.evolution.app import create_app

    client = make_app(create_app, {**evolution_config, "MEDIA_MAX_BYTES": "4096"}).test_client()
    note = record(tx, evo_tenant, "04b_customer_audio_with_speech_to_text")  # no size in its webhook
    evolution_answers(mediaType="audioMessage", mimetype="audio/ogg", base64=b64(VOICE_NOTE))

    answer = client.post("/media/fetch", json={"tenant_id": str(evo_tenant["id"]),
                                               "wa_message_id": note["wa_message_id"]},
                         headers=service_headers).get_json()

    assert (answer["outcome"], answer["kind"]) == ("failed", "too_large")


@pytest.mark.parametrize("body, field", [
    ({"wa_message_id": "ABC"}, "tenant_id"),
    ({"tenant_id": "not-a-uuid", "wa_message_id": "ABC"}, "tenant_id"),
    ({"tenant_id": "00000000-0000-0000-0000-000000000001"}, "wa_message_id"),
    ({"tenant_id": "00000000-0000-0000-0000-000000000001", "wa_message_id": "x" * 201}, "wa_message_id"),
    ({"tenant_id": "00000000-0000-0000-0000-000000000001", "wa_message_id": "ABC", "base64": 7}, "base64"),
])
def test_bad_input_is_a_400_naming_the_field(fetch, body, field):
    assert fetch(body, expect=400)["error"]["field"] == field


def test_a_message_without_media_is_a_400(tx, evo_tenant, fetch):
    text = record(tx, evo_tenant, "01_customer_text_pn")
    answer = fetch({"tenant_id": str(evo_tenant["id"]), "wa_message_id": text["wa_message_id"]}, expect=400)
    assert answer["error"]["field"] == "wa_message_id" and "no media" in answer["error"]["message"]


def test_another_tenants_message_is_a_404(tx, evo_tenant, make_tenant, fetch):
    other = make_tenant("other-store", evo_server_url=EVO)
    note = record(tx, other, "04_customer_audio_ptt")
    answer = fetch({"tenant_id": str(evo_tenant["id"]), "wa_message_id": note["wa_message_id"]}, expect=404)
    assert answer["error"]["field"] == "wa_message_id"


def test_without_the_service_token_nothing_is_fetched(evolution):
    assert evolution.post("/media/fetch", json={}).status_code == 401
