"""A customer's voice note is transcribed before the debounce wait, so its
reply token's deadline leaves time for that too: the recovery flow must not
take the reply up while the first run is still transcribing (the model would
be paid twice). Deadlines are read as the database's own difference between
two stamps, never against the wall clock."""
from __future__ import annotations

from datetime import timedelta

from python_services.collision.recording import TRANSCRIPTION_ALLOWANCE_SECONDS
from tests.rows import rows

from .conftest import fresh

# the default debounce (3 s) and recovery margin (120 s)
USUAL = 3 + 120


def deadline_of(db_conn, token_id) -> timedelta:
    return rows(db_conn, "SELECT deadline_at - created_at AS wait FROM reply_tokens WHERE id = %s", token_id)[0]["wait"]


def test_a_voice_notes_reply_token_allows_for_its_transcription(make_tenant, deliver, db_conn):
    make_tenant()
    answer = deliver(fresh("04_customer_audio_ptt")).get_json()
    assert (answer["decision"], answer["voice_note"], answer["write_reply"]) == ("reply", True, True)
    wait = deadline_of(db_conn, answer["reply_token"])
    expected = USUAL + TRANSCRIPTION_ALLOWANCE_SECONDS
    assert timedelta(seconds=expected) <= wait <= timedelta(seconds=expected + 1)


def test_a_text_messages_reply_token_keeps_the_usual_deadline(make_tenant, deliver, db_conn):
    make_tenant()
    answer = deliver(fresh("01_customer_text_pn")).get_json()
    assert answer["voice_note"] is False
    assert timedelta(seconds=USUAL) <= deadline_of(db_conn, answer["reply_token"]) <= timedelta(seconds=USUAL + 1)


def test_an_away_message_for_a_voice_note_goes_at_once_without_the_allowance(make_tenant, deliver, db_conn):
    make_tenant(settings={"timezone": "America/Sao_Paulo", "business_hours": {}, "outside_hours": "away_message",
                          "away_message": "Fechado."})
    answer = deliver(fresh("04_customer_audio_ptt")).get_json()
    assert answer["away_message"] == "Fechado." and not answer["write_reply"]
    assert timedelta(seconds=120) <= deadline_of(db_conn, answer["reply_token"]) <= timedelta(seconds=121)
