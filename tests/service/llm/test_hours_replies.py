"""The llm service and the hours and limits rules: outside business hours in
`reply` mode the model is told the shop is closed and when it opens; a
reply the rules wrote (the away message) is given back as it is, no model
asked; over the daily budget only the offline provider answers."""
from __future__ import annotations

from tests.media_webhooks import VOICE_NOTE, evolution_serving, record


def sent_system(fake_llm):
    return fake_llm.requests[-1]["body"]["system"][0]["text"]


def mark(db_conn, token_id, **columns):
    sets = ", ".join(f"{name} = %s" for name in columns)
    with db_conn.cursor() as cur:
        cur.execute(f"UPDATE reply_tokens SET {sets} WHERE id = %s", [*columns.values(), token_id])


def test_closed_in_reply_mode_the_prompt_says_so_and_when_it_opens(chat, tenant, set_tenant, reply, fake_llm):
    set_tenant(tenant, settings={"timezone": "America/Sao_Paulo", "closed_until": "2099-01-01T09:00",
                                 "business_hours": {"thu": [["09:00", "18:00"]]}})
    reply(chat.customer_says("Can I pick up my order now?"))
    assert ("The shop is closed now; it opens Thu 01 Jan 09:00 (São Paulo time)." in sent_system(fake_llm))


def test_open_or_in_another_mode_the_prompt_says_nothing_of_hours(chat, tenant, set_tenant, reply, fake_llm):
    reply(chat.customer_says("Hello"))
    assert "The shop is closed" not in sent_system(fake_llm)
    set_tenant(tenant, settings={"business_hours": {}, "outside_hours": "silent"})
    reply(chat.customer_says("Hello again"))
    assert "The shop is closed" not in sent_system(fake_llm)


def test_the_away_message_comes_back_as_it_is_without_asking_a_model(chat, reply, fake_llm, db_conn, token_row):
    token = chat.customer_says("anyone there?")
    mark(db_conn, token, fixed_text="We're closed; we open Mon 09:00.")
    answer = reply(token)
    assert (answer["outcome"], answer["text"], answer["provider"]) == ("text", "We're closed; we open Mon 09:00.",
                                                                       None)
    assert fake_llm.requests == []
    assert token_row(token)["llm_outcome"] is None  # nothing generated, nothing to account


def test_over_budget_only_the_offline_provider_answers(chat, reply, fake_llm, db_conn):
    token = chat.customer_says("What are your opening hours?")
    mark(db_conn, token, over_budget=True)
    answer = reply(token)
    assert answer["provider"] == "offline"
    assert fake_llm.requests == []


def test_a_recovered_away_message_for_a_voice_note_pays_for_no_transcription(tx, tenant, set_tenant, reply,
                                                                              fake_llm):
    closed = {"timezone": "America/Sao_Paulo", "business_hours": {}, "outside_hours": "away_message",
              "away_message": "Fechado agora."}
    set_tenant(tenant, llm_provider="openai", llm_model="gpt-4o-mini", settings=closed)
    with evolution_serving(("audio/ogg; codecs=opus", VOICE_NOTE)) as evolution:
        # record() reads the tenant row it is given: give it the new settings too
        note = record(tx, {**tenant, "settings": closed}, "04_customer_audio_ptt")
        assert note["away_message"] == "Fechado agora."
        # the recovery flow takes the token up again: the away message as it is
        answer = reply(note["reply_token"])
        assert (answer["outcome"], answer["text"]) == ("text", "Fechado agora.")
        assert len(evolution.calls) == 0  # the voice note was not even downloaded
    assert fake_llm.requests_to("transcription") == [] and fake_llm.requests == []
