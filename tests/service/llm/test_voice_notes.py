"""Voice notes -> text: POST /transcribe (the flow's node before the debounce
wait) and the reply itself, with the real OpenAI SDK against the fake LLM
server and Evolution's getBase64FromMediaMessage faked with `responses`:
both SDK paths (OpenAI, an OpenAI-compatible server), Evolution's own
speechToText, the limits, and the polite answer when nothing can transcribe."""
from __future__ import annotations

import pytest
import responses

from python_services.core import messages
from tests.media_webhooks import GET_BASE64, VOICE_NOTE, b64, customer_text, evolution_serving, record

from .conftest import OPENAI_KEY

TRANSCRIPT = "oi, vocês têm o tênis azul no tamanho quarenta?"


@pytest.fixture
def evolution():
    """Evolution serving the voice note (any message id)."""
    with evolution_serving(("audio/ogg; codecs=opus", VOICE_NOTE)) as mock:
        yield mock


@pytest.fixture
def transcribe(client, service_headers):
    def call(tenant, wa_id, expect=200, **extra):
        resp = client.post("/transcribe", json={"tenant_id": str(tenant["id"]), "wa_message_id": wa_id, **extra},
                           headers=service_headers)
        assert resp.status_code == expect, resp.get_json()
        return resp.get_json()

    return call


@pytest.fixture
def openai_tenant(tenant, set_tenant):
    set_tenant(tenant, llm_provider="openai", llm_model="gpt-4o-mini")
    return tenant


def message_row(db_conn, tenant, wa_id):
    with db_conn.cursor() as cur:
        return messages.media_message(cur, tenant["id"], wa_id)


def timeline(db_conn, tenant, event_type="hybridflow.voice_note"):
    with db_conn.cursor() as cur:
        cur.execute("SELECT decision, reason, wa_message_id, reply_token_id FROM events"
                    " WHERE tenant_id = %s AND event_type = %s ORDER BY id", (tenant["id"], event_type))
        return cur.fetchall()


def last_user_turn(fake_llm, api="openai"):
    return fake_llm.requests_to(api)[-1]["body"]["messages"][-1]["content"]


def test_an_openai_tenants_voice_note_becomes_the_messages_text(tx, openai_tenant, evolution, transcribe, fake_llm,
                                                                db_conn):
    fake_llm.enqueue({"api": "transcription", "text": TRANSCRIPT})
    note = record(tx, openai_tenant, "04_customer_audio_ptt")

    answer = transcribe(openai_tenant, note["wa_message_id"])

    assert (answer["outcome"], answer["text"], answer["by"], answer["model"]) == (
        "transcribed", TRANSCRIPT, "openai", "whisper-1")
    [sent] = fake_llm.requests_to("transcription")
    assert sent["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent["body"]["model"] == "whisper-1" and sent["body"]["language"] == "pt"
    assert sent["body"]["file"]["filename"] == note["wa_message_id"] + ".ogg"
    assert sent["body"]["file"]["bytes"] == len(VOICE_NOTE)
    row = message_row(db_conn, openai_tenant, note["wa_message_id"])
    assert (row["text"], row["transcribed_by"], row["media"]["transcription"]) == (
        TRANSCRIPT, "openai", {"state": "done"})
    [event] = timeline(db_conn, openai_tenant)
    assert event["decision"] == "transcribed" and "voice note, 9 s" in event["reason"]
    assert str(event["reply_token_id"]) == note["reply_token"]


def test_the_reply_to_a_transcribed_voice_note_knows_what_was_said(tx, openai_tenant, evolution, transcribe, reply,
                                                                   fake_llm):
    fake_llm.enqueue({"api": "transcription", "text": TRANSCRIPT})
    note = record(tx, openai_tenant, "04_customer_audio_ptt")
    transcribe(openai_tenant, note["wa_message_id"])

    answer = reply(note["reply_token"])

    assert answer["outcome"] == "text"
    assert last_user_turn(fake_llm) == f"[voice note, 9 s] {TRANSCRIPT}"
    assert len(fake_llm.requests_to("transcription")) == 1  # the reply did not pay for it again


def test_a_voice_note_and_a_text_in_one_burst_get_one_answer_that_knows_both(tx, openai_tenant, evolution, reply,
                                                                            fake_llm):
    fake_llm.enqueue({"api": "transcription", "text": TRANSCRIPT})
    note = record(tx, openai_tenant, "04_customer_audio_ptt")
    text = customer_text(tx, openai_tenant, "e tem na cor preta?", "TEXT-AFTER-NOTE")
    assert text["reply_token"] != note["reply_token"]

    # the flow's node never ran for the voice note: the reply transcribes it itself
    assert reply(note["reply_token"])["outcome"] == "superseded"
    answer = reply(text["reply_token"])

    assert answer["outcome"] == "text"
    assert last_user_turn(fake_llm) == f"[voice note, 9 s] {TRANSCRIPT}\ne tem na cor preta?"


def test_an_openai_compatible_server_transcribes_with_the_tenants_url_and_never_the_openai_key(
        tx, tenant, set_tenant, evolution, transcribe, fake_llm):
    set_tenant(tenant, llm_provider="openai_compatible", llm_model="llama3.2",
               settings={"llm_base_url": "http://127.0.0.1:9/v1", "transcription_base_url": fake_llm.openai_url,
                         "transcription_model": "Systran/faster-whisper-small"})
    note = record(tx, tenant, "04_customer_audio_ptt")

    answer = transcribe(tenant, note["wa_message_id"])

    assert (answer["outcome"], answer["by"], answer["model"]) == (
        "transcribed", "openai_compatible", "Systran/faster-whisper-small")
    [sent] = fake_llm.requests_to("transcription")
    assert OPENAI_KEY not in sent["headers"]["authorization"]


def test_a_tenant_on_anthropic_names_openai_as_its_transcription_provider(tx, tenant, set_tenant, evolution,
                                                                          transcribe, reply, fake_llm):
    set_tenant(tenant, settings={"transcription_provider": "openai"})
    fake_llm.enqueue({"api": "transcription", "text": TRANSCRIPT})
    note = record(tx, tenant, "04_customer_audio_ptt")

    assert transcribe(tenant, note["wa_message_id"])["by"] == "openai"
    reply(note["reply_token"])
    assert last_user_turn(fake_llm, "anthropic") == f"[voice note, 9 s] {TRANSCRIPT}"


def test_evolutions_speech_to_text_is_used_instead_of_transcribing_again(tx, openai_tenant, transcribe, reply,
                                                                          fake_llm, db_conn):
    note = record(tx, openai_tenant, "04b_customer_audio_with_speech_to_text")

    assert transcribe(openai_tenant, note["wa_message_id"]) == {
        "outcome": "already", "text": "quero trocar o tamanho", "by": "evolution"}
    reply(note["reply_token"])

    assert fake_llm.requests_to("transcription") == []
    assert last_user_turn(fake_llm) == "[voice note, 4 s] quero trocar o tamanho"
    assert message_row(db_conn, openai_tenant, note["wa_message_id"])["transcribed_by"] == "evolution"


def test_the_webhooks_own_base64_is_transcribed_without_asking_evolution(tx, openai_tenant, transcribe, fake_llm):
    note = record(tx, openai_tenant, "04_customer_audio_ptt")
    with responses.RequestsMock() as mock:  # any call to Evolution would fail the test
        answer = transcribe(openai_tenant, note["wa_message_id"], base64=b64(VOICE_NOTE))
        assert len(mock.calls) == 0
    assert answer["outcome"] == "transcribed"
    assert fake_llm.requests_to("transcription")[0]["body"]["file"]["bytes"] == len(VOICE_NOTE)


def test_a_voice_note_over_the_limit_gets_the_polite_answer_and_a_recorded_decision(
        tx, openai_tenant, transcribe, reply, fake_llm, db_conn, token_row):
    with responses.RequestsMock() as mock:
        note = record(tx, openai_tenant, "04c_customer_long_audio_with_base64")
        answer = transcribe(openai_tenant, note["wa_message_id"])
        assert len(mock.calls) == 0  # not even downloaded

    assert (answer["outcome"], answer["reason"], answer["decision"]) == ("fallback", "too_long", "ask_to_write")
    [event] = timeline(db_conn, openai_tenant)
    assert event["decision"] == "ask_to_write"
    assert "241 s, over max_voice_note_seconds (180)" in event["reason"]

    sent = reply(note["reply_token"])

    assert (sent["outcome"], sent["handoff"]) == ("text", False)
    assert sent["text"] == "Sorry, I can't listen to voice notes here. Could you write your message, please?"
    assert fake_llm.requests == []  # no model, no transcription paid for
    assert token_row(note["reply_token"])["reply_text"] == sent["text"]


def test_the_tenant_may_hand_an_untranscribable_voice_note_to_a_person(tx, tenant, set_tenant, reply, db_conn,
                                                                      fake_llm):
    set_tenant(tenant, settings={"voice_note_fallback": "handoff", "handoff_message": "Um atendente já te responde."})
    note = record(tx, tenant, "04_customer_audio_ptt")  # an Anthropic tenant: nothing transcribes

    sent = reply(note["reply_token"])

    assert (sent["outcome"], sent["handoff"], sent["text"]) == ("handoff", True, "Um atendente já te responde.")
    [event] = timeline(db_conn, tenant)
    assert event["decision"] == "handoff" and "settings.transcription_provider is not set" in event["reason"]
    assert fake_llm.requests == []


def test_with_no_transcription_provider_the_reply_still_answers_the_rest_of_the_burst(tx, tenant, reply, fake_llm,
                                                                                     db_conn):
    record(tx, tenant, "04_customer_audio_ptt")
    text = customer_text(tx, tenant, "Vocês abrem sábado?", "TEXT-2")
    fake_llm.enqueue({"text": "Sim, das 9h às 13h."})

    sent = reply(text["reply_token"])

    assert sent["text"] == ("Sorry, I can't listen to voice notes here. Could you write your message, please?"
                            "\n\nSim, das 9h às 13h.")
    assert last_user_turn(fake_llm, "anthropic") == "Vocês abrem sábado?"
    assert [e["decision"] for e in timeline(db_conn, tenant)] == ["ask_to_write"]


@pytest.mark.parametrize("problem, reason", [
    ({"api": "transcription", "status": 500, "times": 3}, "transcription failed: openai (whisper-1): HTTP 500"),
    ({"api": "transcription", "text": "   "}, "the transcription has no words"),
])
def test_a_failed_transcription_is_a_recorded_fallback_not_silence(tx, openai_tenant, evolution, transcribe, reply,
                                                                   fake_llm, db_conn, problem, reason):
    fake_llm.enqueue(*[dict(problem) for _ in range(problem.pop("times", 1))])
    note = record(tx, openai_tenant, "04_customer_audio_ptt")

    answer = transcribe(openai_tenant, note["wa_message_id"])

    assert answer["outcome"] == "fallback" and answer["detail"].startswith(reason)
    assert reply(note["reply_token"])["text"].startswith("Sorry, I can't listen")
    assert timeline(db_conn, openai_tenant)[0]["decision"] == "ask_to_write"


def test_a_voice_note_evolution_cannot_give_is_a_recorded_fallback(tx, openai_tenant, transcribe, db_conn):
    note = record(tx, openai_tenant, "04_customer_audio_ptt")
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, GET_BASE64, status=400,
                 json={"status": 400, "error": "Bad Request", "response": {"message": ["Error: Message not found"]}})
        answer = transcribe(openai_tenant, note["wa_message_id"])
    assert (answer["outcome"], answer["reason"]) == ("fallback", "fetch_failed")
    assert "Message not found" in timeline(db_conn, openai_tenant)[0]["reason"]


def test_transcription_switched_off_is_a_fallback_too(tx, tenant, set_tenant, transcribe):
    set_tenant(tenant, llm_provider="openai", settings={"transcribe_voice_notes": False})
    note = record(tx, tenant, "04_customer_audio_ptt")
    assert transcribe(tenant, note["wa_message_id"])["reason"] == "off"


def test_the_owners_voice_note_is_transcribed_only_when_the_tenant_wants_it(tx, openai_tenant, set_tenant, evolution,
                                                                           transcribe, fake_llm, db_conn):
    owner = record(tx, openai_tenant, "04_customer_audio_ptt", key_fromMe=True)
    assert owner["decision"] == "human_takeover"
    assert transcribe(openai_tenant, owner["wa_message_id"])["outcome"] == "skipped"

    set_tenant(openai_tenant, llm_provider="openai", settings={"transcribe_owner_voice_notes": True})
    fake_llm.enqueue({"api": "transcription", "text": "deixa que eu respondo ela"})
    answer = transcribe(openai_tenant, owner["wa_message_id"])

    assert answer["outcome"] == "transcribed"
    row = message_row(db_conn, openai_tenant, owner["wa_message_id"])
    assert (row["author"], row["text"]) == ("business", "deixa que eu respondo ela")


def test_a_second_call_for_the_same_voice_note_pays_for_nothing(tx, openai_tenant, evolution, transcribe, fake_llm):
    note = record(tx, openai_tenant, "04_customer_audio_ptt")
    transcribe(openai_tenant, note["wa_message_id"])
    assert transcribe(openai_tenant, note["wa_message_id"])["outcome"] == "already"
    assert len(fake_llm.requests_to("transcription")) == 1


def test_a_voice_note_being_transcribed_is_claimed_once_until_its_claim_goes_stale(tx, openai_tenant):
    note = record(tx, openai_tenant, "04_customer_audio_ptt")
    row = tx(lambda cur: messages.media_message(cur, openai_tenant["id"], note["wa_message_id"]))

    assert tx(messages.claim_transcription, row["id"], 60) is True
    assert tx(messages.claim_transcription, row["id"], 60) is False
    assert tx(messages.claim_transcription, row["id"], 0) is True  # the first worker died: taken over


def test_a_text_message_is_not_a_voice_note(tx, openai_tenant, transcribe):
    text = customer_text(tx, openai_tenant, "oi", "TEXT-1")
    assert transcribe(openai_tenant, text["wa_message_id"]) == {"outcome": "not_voice_note",
                                                                 "message_type": "conversation"}


@pytest.mark.parametrize("body, field", [
    ({}, "tenant_id"),
    ({"tenant_id": "nope", "wa_message_id": "A"}, "tenant_id"),
    ({"tenant_id": "00000000-0000-0000-0000-000000000001", "wa_message_id": ""}, "wa_message_id"),
    ({"tenant_id": "00000000-0000-0000-0000-000000000001", "wa_message_id": "A", "base64": ""}, "base64"),
])
def test_bad_input_to_transcribe_is_a_400_naming_the_field(client, service_headers, body, field):
    resp = client.post("/transcribe", json=body, headers=service_headers)
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field


def test_another_tenants_voice_note_is_a_404(tx, tenant, make_tenant, transcribe):
    other = make_tenant("other-store", llm_provider="openai")
    note = record(tx, other, "04_customer_audio_ptt")
    assert transcribe(tenant, note["wa_message_id"], expect=404)["error"]["field"] == "wa_message_id"
