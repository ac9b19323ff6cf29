"""POST /webhooks/evolution against the real database: a scenario for every
rule and every decision, the per-tenant secret, and concurrent deliveries."""
from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import timedelta

import psycopg2
import pytest

from python_services.core import ledger as tokens
from python_services.common.logs import JsonFormatter
from tests.rows import rows

from .conftest import CHAT, at_once, fresh

LID = "123456789012345@lid"


def decision_of(resp):
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["decision"]


def session(db_conn, chat_id=CHAT):
    found = rows(db_conn, "SELECT * FROM sessions WHERE chat_id = %s", chat_id)
    return found[0] if found else None


def counts(db_conn):
    return {t: rows(db_conn, f"SELECT count(*) AS n FROM {t}")[0]["n"]
            for t in ("events", "messages", "sessions", "reply_tokens", "chat_aliases")}


def owner_says(deliver, text, wa_id, seconds_ago=0):
    return deliver(fresh("05_owner_manual_reply_from_phone", seconds_ago, key_id=wa_id,
                         message={"conversation": text}))


def customer_says(deliver, text, wa_id, seconds_ago=0):
    return deliver(fresh("01_customer_text_pn", seconds_ago, key_id=wa_id, message={"conversation": text}))


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("case, secret, instance, status, field", [
    # the same 401 as a wrong secret: instance names cannot be probed (DESIGN.md, external contracts)
    ("unknown instance", "test-webhook-secret", "nobody", 401, "X-Webhook-Secret"),
    ("unknown instance, no secret", None, "nobody", 401, "X-Webhook-Secret"),
    ("no secret", None, "acme-store", 401, "X-Webhook-Secret"),
    ("empty secret", "", "acme-store", 401, "X-Webhook-Secret"),
    ("wrong secret", "guess", "acme-store", 401, "X-Webhook-Secret"),
    ("another tenant's secret", "other-secret", "acme-store", 401, "X-Webhook-Secret"),
])
def test_a_refused_webhook_stores_nothing(deliver, tenant, make_tenant, db_conn, caplog,
                                          case, secret, instance, status, field):
    make_tenant("other-store", webhook_secret="other-secret")
    body = fresh("01_customer_text_pn")
    body["instance"] = instance
    resp = deliver(body, secret=secret)
    assert resp.status_code == status
    assert resp.get_json()["error"]["field"] == field
    assert counts(db_conn) == {"events": 0, "messages": 0, "sessions": 0, "reply_tokens": 0, "chat_aliases": 0}
    lines = [JsonFormatter("collision").format(r) for r in caplog.records]
    line = json.loads([ln for ln in lines if '"/webhooks/evolution"' in ln][-1])
    assert line["decision"] == "refused" and line["status"] == status
    if secret:
        assert not any(secret in ln for ln in lines)


@pytest.mark.parametrize("change, field", [
    (lambda b: b["data"]["key"].pop("id"), "data.key.id"),
    (lambda b: b["data"]["key"].pop("remoteJid"), "data.key.remoteJid"),
    (lambda b: b.update(data=[]), "data"),
    (lambda b: b.pop("event"), "event"),
    (lambda b: b.pop("instance"), "instance"),
])
def test_a_malformed_body_is_refused_naming_the_field_and_stores_nothing(deliver, tenant, db_conn, change, field):
    body = fresh("01_customer_text_pn")
    change(body)
    resp = deliver(body)
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == field
    assert counts(db_conn)["events"] == 0


def test_a_wrong_secret_is_refused_before_the_body_is_judged(deliver, tenant):
    body = fresh("01_customer_text_pn")
    del body["data"]["key"]["id"]
    assert deliver(body, secret="guess").status_code == 401


# ---------------------------------------------------------------- reply and debounce


def test_a_customer_message_gets_a_reply_token_and_the_documented_answer(deliver, tenant, db_conn):
    resp = deliver(fresh("01_customer_text_pn"))
    body = resp.get_json()
    assert list(body) == ["decision", "reason", "event_id", "tenant_id", "chat_id", "wa_message_id", "reply_token",
                          "debounce_seconds", "notify", "write_reply", "away_message", "voice_note", "route"]
    assert (body["decision"], body["chat_id"], body["wa_message_id"], body["debounce_seconds"], body["notify"],
            body["voice_note"], body["route"]) == ("reply", CHAT, "A1C4E09B7F3D2E6A8B5C4D3E2F1A0B9C", 3, False,
                                                   False, "reply")
    assert body["tenant_id"] == str(tenant["id"])
    token = rows(db_conn, "SELECT *, deadline_at - created_at AS margin FROM reply_tokens")[0]
    assert str(token["id"]) == body["reply_token"] and token["state"] == "pending"
    assert timedelta(seconds=122) <= token["margin"] <= timedelta(seconds=124)
    message = rows(db_conn, "SELECT * FROM messages")[0]
    assert (message["author"], message["text"], message["reply_token_id"]) == (
        "customer", "Oi! Vocês têm o tênis azul no tamanho 38?", token["id"])
    assert message["raw"]["data"]["key"]["id"] == body["wa_message_id"]
    s = session(db_conn)
    assert (s["customer_name"], s["paused"]) == ("Maria Souza", False) and s["last_customer_at"] is not None
    event = rows(db_conn, "SELECT * FROM events")[0]
    assert (event["decision"], event["message_id"], event["reply_token_id"]) == ("reply", message["id"], token["id"])


def test_a_quick_burst_is_answered_once_with_every_message(deliver, tenant, tx):
    answers = [customer_says(deliver, text, f"C{i}").get_json() for i, text in enumerate(["Oi", "tudo bem?", "tem 38?"])]
    assert [a["decision"] for a in answers] == ["reply"] * 3
    first, last = answers[0]["reply_token"], answers[-1]["reply_token"]
    assert tx(tokens.check_token, first)["newest"] is False
    check = tx(tokens.check_token, last)
    assert check["newest"] is True and check["texts"] == ["Oi", "tudo bem?", "tem 38?"]


def test_the_debounce_wait_is_the_tenants(deliver, make_tenant):
    make_tenant(settings={"debounce_seconds": 0.5})
    assert deliver(fresh("01_customer_text_pn")).get_json()["debounce_seconds"] == 0.5


@pytest.mark.parametrize("name, text", [
    ("03_customer_image_caption", "É esse aqui que eu quero"),
    ("04_customer_audio_ptt", None),
    ("04b_customer_audio_with_speech_to_text", "quero trocar o tamanho"),
])
def test_media_from_a_customer_is_answered_and_kept_with_its_words(deliver, tenant, db_conn, name, text):
    assert decision_of(deliver(fresh(name))) == "reply"
    assert rows(db_conn, "SELECT text FROM messages")[0]["text"] == text


# ---------------------------------------------------------------- duplicates


def test_a_redelivered_webhook_is_a_duplicate_with_no_effect(deliver, tenant, db_conn):
    first = deliver(fresh("15a_duplicate_delivery_first")).get_json()
    again = deliver(fresh("15b_duplicate_delivery_retry")).get_json()
    assert again["decision"] == "duplicate" and again["reply_token"] is None
    assert f"event {first['event_id']}" in again["reason"]
    assert again["chat_id"] == CHAT
    assert counts(db_conn)["reply_tokens"] == 1 and counts(db_conn)["messages"] == 1
    assert [e["decision"] for e in rows(db_conn, "SELECT decision FROM events ORDER BY id")] == ["reply", "duplicate"]


@pytest.mark.parametrize("held", [False, True], ids=["free-running", "held-at-the-session-lock"])
def test_four_identical_deliveries_at_once_record_one_handled_event_and_one_token(deliver, tenant, db_conn, tx, held):
    body = fresh("15a_duplicate_delivery_first")
    # the chat exists already (an earlier message), so its session row can be held
    customer_says(deliver, "Bom dia", "EARLIER", seconds_ago=30)
    blocker = psycopg2.connect(db_conn.dsn)
    if held:
        # keep the session locked while the four arrive: they must all overlap
        blocker.cursor().execute("SELECT 1 FROM sessions WHERE chat_id = %s FOR UPDATE", (CHAT,))
    barrier = threading.Barrier(4)
    answers = []

    def send():
        barrier.wait()
        answers.append(deliver(body))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    blocker.commit()
    blocker.close()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 4
    answers = [a.get_json() for a in answers]
    assert sorted(a["decision"] for a in answers) == ["duplicate"] * 3 + ["reply"]
    assert len({a["reply_token"] for a in answers if a["reply_token"]}) == 1
    assert len(rows(db_conn, "SELECT id FROM messages WHERE wa_message_id = %s", body["data"]["key"]["id"])) == 1
    assert rows(db_conn, "SELECT count(*) AS n FROM reply_tokens WHERE state = 'pending'")[0]["n"] == 1
    decisions = rows(db_conn, "SELECT decision FROM events WHERE wa_message_id = %s", body["data"]["key"]["id"])
    assert sorted(e["decision"] for e in decisions) == ["duplicate"] * 3 + ["reply"]


def test_a_receipt_redelivered_is_a_duplicate_too(deliver, tenant):
    assert decision_of(deliver(fresh("18_delivery_receipt_messages_update"))) == "ignore"
    assert decision_of(deliver(fresh("18_delivery_receipt_messages_update"))) == "duplicate"


# ---------------------------------------------------------------- ignored


@pytest.mark.parametrize("name, reason", [
    ("07_group_message", "group"),
    ("08_status_broadcast", "status"),
    ("09_newsletter", "newsletter"),
    ("16_connection_update", "connection.update"),
    ("17_presence_update", "presence.update"),
    ("18_delivery_receipt_messages_update", "READ"),
])
def test_events_the_bot_never_answers_are_recorded_as_ignored(deliver, tenant, db_conn, name, reason):
    resp = deliver(fresh(name)).get_json()
    assert resp["decision"] == "ignore" and reason in resp["reason"]
    assert counts(db_conn)["sessions"] == 0 and counts(db_conn)["reply_tokens"] == 0
    assert rows(db_conn, "SELECT decision, reason FROM events")[0] == {"decision": "ignore", "reason": resp["reason"]}


def test_groups_are_answered_when_the_tenant_allows_it(deliver, make_tenant):
    make_tenant(settings={"ignore_groups": False})
    assert decision_of(deliver(fresh("07_group_message"))) == "reply"


def test_an_ignored_number_gets_no_reply(deliver, make_tenant, db_conn):
    make_tenant(settings={"ignore_jids": ["5511987654321"]})
    assert decision_of(deliver(fresh("01_customer_text_pn"))) == "ignore"
    assert counts(db_conn)["sessions"] == 0


def test_the_call_reject_auto_reply_is_not_a_person(deliver, tenant, db_conn):
    resp = deliver(fresh("13_call_reject_auto_reply_pending")).get_json()
    assert resp["decision"] == "ignore" and "call rejected" in resp["reason"]
    assert session(db_conn) is None or session(db_conn)["paused"] is False


def test_a_reaction_is_stored_and_changes_nothing(deliver, tenant, db_conn):
    token = deliver(fresh("01_customer_text_pn")).get_json()["reply_token"]
    assert decision_of(deliver(fresh("10_customer_reaction"))) == "ignore"
    stored = rows(db_conn, "SELECT message_type, text, reply_token_id FROM messages WHERE wa_message_id = %s",
                  "3A00AA11BB22CC33DD44")
    assert stored == [{"message_type": "reactionMessage", "text": "👍", "reply_token_id": None}]
    assert rows(db_conn, "SELECT state FROM reply_tokens WHERE id = %s", token)[0]["state"] == "pending"


def test_a_customer_edit_updates_history_and_is_not_a_person_replying(deliver, tenant, db_conn):
    token = deliver(fresh("01_customer_text_pn")).get_json()["reply_token"]
    resp = deliver(fresh("11_customer_edit_messages_edited")).get_json()
    assert (resp["decision"], resp["chat_id"]) == ("ignore", CHAT)
    assert "edit stored" in resp["reason"]
    message = rows(db_conn, "SELECT text, edited_at FROM messages")[0]
    assert message["text"] == "Oi! Vocês têm o tênis azul no tamanho 39?" and message["edited_at"] is not None
    assert session(db_conn)["paused"] is False and session(db_conn)["last_human_at"] is None
    assert rows(db_conn, "SELECT state FROM reply_tokens WHERE id = %s", token)[0]["state"] == "pending"


def test_a_deletion_marks_the_message_deleted(deliver, tenant, db_conn):
    deliver(fresh("03_customer_image_caption"))
    assert decision_of(deliver(fresh("12_customer_revoke_messages_edited"))) == "ignore"
    assert rows(db_conn, "SELECT deleted_at FROM messages")[0]["deleted_at"] is not None
    assert session(db_conn)["paused"] is False


def test_an_owner_edit_sent_as_an_upsert_is_not_a_takeover(deliver, tenant, db_conn):
    owner_says(deliver, "Oi Maria", "3A7D0E4B9C2F1A6E8D5B")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE sessions SET paused = false, pause_reason = NULL, paused_until = NULL, paused_at = NULL")
    assert decision_of(deliver(fresh("12b_owner_edit_as_upsert"))) == "ignore"
    assert session(db_conn)["paused"] is False
    assert rows(db_conn, "SELECT text FROM messages")[0]["text"] == "Oi Maria, aqui é o João. Frete grátis, ok?"


def test_an_edit_of_an_unknown_message_is_recorded_without_a_chat(deliver, tenant, db_conn):
    resp = deliver(fresh("11_customer_edit_messages_edited")).get_json()
    assert (resp["decision"], resp["chat_id"]) == ("ignore", None)
    assert "not in history" in resp["reason"]


# ---------------------------------------------------------------- LID chats


def test_lid_and_phone_forms_of_a_chat_are_one_session(deliver, tenant, db_conn):
    first = deliver(fresh("02_customer_text_lid_with_phone_in_remoteJidAlt")).get_json()
    lid_only = deliver(fresh("02c_customer_text_lid_only")).get_json()
    assert first["chat_id"] == lid_only["chat_id"] == CHAT
    assert rows(db_conn, "SELECT alias_jid, chat_id FROM chat_aliases") == [{"alias_jid": LID, "chat_id": CHAT}]
    assert counts(db_conn)["sessions"] == 1


def test_a_lid_only_chat_never_seen_with_its_phone_is_keyed_on_the_lid(deliver, tenant, db_conn):
    assert deliver(fresh("02c_customer_text_lid_only")).get_json()["chat_id"] == LID


def test_a_sender_pn_with_a_device_suffix_is_the_phone_chat(deliver, tenant, db_conn):
    assert deliver(fresh("02b_customer_text_lid_with_senderPn_and_device")).get_json()["chat_id"] == CHAT


# ---------------------------------------------------------------- a person of the business


def test_the_owner_typing_pauses_the_chat_and_cancels_the_reply_in_flight(deliver, tenant, db_conn):
    token = customer_says(deliver, "Oi", "C1").get_json()["reply_token"]
    resp = owner_says(deliver, "Oi Maria, é o João", "O1").get_json()
    assert (resp["decision"], resp["notify"], resp["reply_token"]) == ("human_takeover", True, None)
    s = session(db_conn)
    sent_at = rows(db_conn, "SELECT sent_at FROM messages WHERE wa_message_id = 'O1'")[0]["sent_at"]
    assert (s["paused"], s["pause_reason"], s["paused_until"], s["last_human_at"]) == (
        True, "human_takeover", sent_at + timedelta(minutes=120), sent_at)
    assert rows(db_conn, "SELECT state, reason FROM reply_tokens WHERE id = %s", token)[0] == {
        "state": "cancelled", "reason": "human_takeover"}
    assert rows(db_conn, "SELECT author FROM messages WHERE wa_message_id = 'O1'")[0]["author"] == "business"


def test_a_chat_the_owner_started_is_created_paused(deliver, tenant, db_conn):
    resp = owner_says(deliver, "Olá, aqui é a Acme", "O1").get_json()
    assert resp["decision"] == "human_takeover"
    assert session(db_conn)["paused"] is True and session(db_conn)["pause_reason"] == "human_takeover"
    assert decision_of(customer_says(deliver, "Oi!", "C1")) == "paused"
    assert counts(db_conn)["reply_tokens"] == 0


def test_each_further_human_message_pushes_the_pause_out(deliver, make_tenant, db_conn):
    make_tenant(settings={"resume_after_minutes": 0.5})
    owner_says(deliver, "primeira", "O1", seconds_ago=20)
    first_until = session(db_conn)["paused_until"]
    resp = owner_says(deliver, "segunda", "O2").get_json()
    assert resp["decision"] == "human_takeover" and resp["notify"] is False
    s = session(db_conn)
    assert s["paused_until"] > first_until
    sent_at = rows(db_conn, "SELECT sent_at FROM messages WHERE wa_message_id = 'O2'")[0]["sent_at"]
    assert s["paused_until"] == sent_at + timedelta(seconds=30)


def test_an_unknown_send_message_is_another_integration_taking_over(deliver, tenant, db_conn):
    assert decision_of(deliver(fresh("06_bot_own_send_echo_send.message"))) == "human_takeover"
    assert session(db_conn)["paused"] is True


def test_a_customer_in_a_paused_chat_is_stored_without_a_reply(deliver, tenant, db_conn):
    owner_says(deliver, "Oi", "O1")
    resp = customer_says(deliver, "Obrigada!", "C2").get_json()
    assert (resp["decision"], resp["reply_token"], resp["debounce_seconds"]) == ("paused", None, 0)
    assert rows(db_conn, "SELECT author FROM messages WHERE wa_message_id = 'C2'")[0]["author"] == "customer"


def test_a_takeover_pause_that_ran_out_lets_the_bot_answer_again(deliver, tenant, db_conn):
    owner_says(deliver, "Oi", "O1")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE sessions SET paused_until = now() - interval '1 second'")
    assert decision_of(customer_says(deliver, "Oi de novo", "C2")) == "reply"
    assert session(db_conn)["paused"] is False


def test_an_old_replayed_owner_message_counts_as_activity_but_does_not_pause(deliver, tenant, db_conn):
    token = customer_says(deliver, "Oi", "C1").get_json()["reply_token"]
    resp = owner_says(deliver, "mensagem antiga", "O1", seconds_ago=3 * 3600).get_json()
    assert resp["decision"] == "human_takeover" and resp["notify"] is False
    s = session(db_conn)
    assert s["paused"] is False and s["last_human_at"] is not None
    assert rows(db_conn, "SELECT state FROM reply_tokens WHERE id = %s", token)[0]["state"] == "pending"


# ---------------------------------------------------------------- commands, handoff, stale


def test_the_owner_turns_the_bot_off_and_on_in_a_chat(deliver, tenant, db_conn):
    token = customer_says(deliver, "Oi", "C1").get_json()["reply_token"]
    off = deliver(fresh("14_owner_command_bot_off")).get_json()
    assert off["decision"] == "command"
    s = session(db_conn)
    assert (s["paused"], s["pause_reason"], s["paused_until"], s["last_human_at"]) == (True, "owner_command", None, None)
    assert rows(db_conn, "SELECT state FROM reply_tokens WHERE id = %s", token)[0]["state"] == "cancelled"
    assert decision_of(customer_says(deliver, "Alô?", "C2")) == "paused"
    on = owner_says(deliver, "#bot on", "O2").get_json()
    assert on["decision"] == "command" and session(db_conn)["paused"] is False
    assert decision_of(customer_says(deliver, "Alô??", "C3")) == "reply"


def test_a_customer_asking_for_a_person_pauses_the_chat_and_notifies(deliver, tenant, db_conn):
    resp = customer_says(deliver, "Quero falar com um atendente", "C1").get_json()
    assert (resp["decision"], resp["notify"], resp["reply_token"]) == ("handoff", True, None)
    s = session(db_conn)
    assert (s["paused"], s["pause_reason"], s["paused_until"]) == (True, "customer_request", None)


def test_a_customer_message_replayed_after_a_reconnect_is_stale(deliver, tenant, db_conn):
    resp = customer_says(deliver, "mensagem de ontem", "C1", seconds_ago=11 * 60).get_json()
    assert (resp["decision"], resp["reply_token"]) == ("stale", None)
    assert counts(db_conn)["messages"] == 1 and counts(db_conn)["reply_tokens"] == 0


# ---------------------------------------------------------------- the bot's own echo


def claim_for(deliver, tx, text="Temos sim! O modelo Runner Azul 38 custa R$ 249,90."):
    token = customer_says(deliver, "Tem o azul 38?", "C1").get_json()["reply_token"]
    assert tx(tokens.claim_send, token, [text])["claimed"] is True
    return token


@pytest.mark.parametrize("name", ["06_bot_own_send_echo_send.message", "06b_bot_send_reported_as_upsert_v2_2"])
def test_the_bots_confirmed_send_coming_back_is_an_echo(deliver, tenant, tx, db_conn, name):
    token = claim_for(deliver, tx)
    tx(tokens.confirm_send, token, 0, "3EB0C1D2E3F4A5B6C7D8E9")
    resp = deliver(fresh(name)).get_json()
    assert (resp["decision"], resp["reason"]) == ("bot_echo", "message id is in the outbound ledger")
    assert session(db_conn)["paused"] is False


def test_an_echo_before_the_send_is_confirmed_is_still_the_bot(deliver, tenant, tx, db_conn):
    token = claim_for(deliver, tx)
    resp = deliver(fresh("06_bot_own_send_echo_send.message")).get_json()
    assert resp["decision"] == "bot_echo" and "not yet confirmed" in resp["reason"]
    assert session(db_conn)["paused"] is False
    assert tx(tokens.confirm_send, token, 0, "3EB0C1D2E3F4A5B6C7D8E9")["state"] == "sent"
    assert rows(db_conn, "SELECT author FROM messages WHERE wa_message_id = '3EB0C1D2E3F4A5B6C7D8E9'") == [
        {"author": "bot"}]


def test_an_echo_racing_the_confirm_is_the_bot_whichever_lands_first(deliver, tenant, tx, db_conn):
    for round_ in range(6):
        text = f"Resposta {round_}"
        token = customer_says(deliver, "Oi", f"C{round_}").get_json()["reply_token"]
        tx(tokens.claim_send, token, [text])
        echo = fresh("06_bot_own_send_echo_send.message", key_id=f"BOT{round_}", message={"conversation": text})
        out = {}

        def webhook():
            out["echo"] = deliver(echo).get_json()

        def confirm():
            out["confirm"] = tx(tokens.confirm_send, token, 0, f"BOT{round_}")

        at_once(webhook, confirm)
        assert out["echo"]["decision"] == "bot_echo", out
        assert out["confirm"]["state"] == "sent"
        assert session(db_conn)["paused"] is False


def test_the_same_text_typed_by_the_owner_after_the_echo_is_a_person(deliver, tenant, tx, db_conn):
    claim_for(deliver, tx, "ok")
    assert decision_of(deliver(fresh("06_bot_own_send_echo_send.message", message={"conversation": "ok"}))) == "bot_echo"
    assert decision_of(owner_says(deliver, "ok", "O9")) == "human_takeover"


def test_a_person_racing_the_send_guard_never_gets_talked_over(deliver, tenant, tx, db_conn):
    """Whoever takes the session lock first, no send stays claimed after the
    takeover: either the guard refuses, or the takeover cancels the claim."""
    for round_ in range(10):
        with db_conn.cursor() as cur:
            cur.execute("UPDATE sessions SET paused = false, pause_reason = NULL, paused_until = NULL, paused_at = NULL")
        token = customer_says(deliver, "Oi", f"C{round_}").get_json()["reply_token"]
        out = {}

        def claim():
            out["claim"] = tx(tokens.claim_send, token, ["Olá!"])

        def person():
            out["person"] = owner_says(deliver, f"Oi, é o João {round_}", f"O{round_}").get_json()

        at_once(claim, person)
        assert out["person"]["decision"] == "human_takeover"
        state = rows(db_conn, "SELECT state, reason FROM reply_tokens WHERE id = %s", token)[0]
        assert state == {"state": "cancelled", "reason": "human_takeover"}
        ledger = rows(db_conn, "SELECT id FROM outbound WHERE reply_token_id = %s", token)
        assert bool(ledger) is out["claim"]["claimed"]
        if not out["claim"]["claimed"]:
            assert out["claim"]["reason"] == "human_takeover"


def test_the_webhook_requires_the_secret_of_its_own_tenant_only(deliver, make_tenant):
    make_tenant("acme-store")
    make_tenant("other-store", webhook_secret="other-secret")
    body = fresh("01_customer_text_pn")
    body["instance"] = "other-store"
    assert decision_of(deliver(body, secret="other-secret")) == "reply"


def test_the_stored_hash_is_what_is_checked(deliver, make_tenant):
    tenant = make_tenant()
    assert tenant["webhook_secret_hash"] == hashlib.sha256(b"test-webhook-secret").hexdigest()
    assert deliver(fresh("01_customer_text_pn"), secret=tenant["webhook_secret_hash"]).status_code == 401


def test_a_customers_voice_note_tells_the_flow_to_have_it_transcribed_and_a_text_does_not(deliver, tenant):
    voice = deliver(fresh("04_customer_audio_ptt")).get_json()
    assert (voice["decision"], voice["voice_note"]) == ("reply", True)
    text = deliver(fresh("01_customer_text_pn")).get_json()
    assert text["voice_note"] is False
