"""Values at the edges of what the webhook and the settings accept, each an
answer and never a 500: digits int() refuses in a voice note's length, a
vacation date at the end of the calendar (refused when set, and survived
when a row holds one from before that rule)."""
from __future__ import annotations

import copy

from tests.fixtures import webhook
from tests.rows import rows

from .conftest import fresh


def voice_note(seconds) -> dict:
    message = copy.deepcopy(webhook("04_customer_audio_ptt")["data"]["message"])
    message["audioMessage"]["seconds"] = seconds
    return fresh("04_customer_audio_ptt", key_id="ODDSECONDS0001", message=message)


def test_a_voice_note_whose_length_is_a_superscript_digit_is_recorded_without_it(make_tenant, deliver, db_conn):
    make_tenant()
    resp = deliver(voice_note("²"))
    assert resp.status_code == 200 and resp.get_json()["decision"] == "reply"
    [stored] = rows(db_conn, "SELECT media FROM messages")
    assert stored["media"]["kind"] == "audio" and "seconds" not in stored["media"]


def test_a_stored_vacation_at_the_end_of_the_calendar_keeps_the_shop_closed_and_answers(make_tenant, deliver):
    # saved before closed_until's years were bounded; 23:30 in São Paulo is past year 9999 in UTC
    make_tenant(settings={"timezone": "America/Sao_Paulo", "closed_until": "9999-12-31T23:30",
                          "outside_hours": "away_message", "away_message": "Fechado. Abrimos {opens}."})
    resp = deliver(fresh("01_customer_text_pn", key_id="ODDVACATION001"))
    assert resp.status_code == 200
    answer = resp.get_json()
    assert answer["decision"] == "outside_hours"
    assert answer["away_message"] == "Fechado. Abrimos at a time not yet set."


def test_setting_a_vacation_past_the_year_9000_is_refused_naming_the_field(make_tenant, admin):
    tenant = make_tenant()
    resp = admin("PATCH", f"/api/tenants/{tenant['id']}", json={"settings": {"closed_until": "9999-12-31"}})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == "settings.closed_until"
