"""Telling the team (the evolution service's POST /notify) about what the
collision webhook decided: a WhatsApp message to the owner's number through
the tenant's own instance (Evolution faked with `responses`), an e-mail
through SMTP (a fake server), each event once, and the message's echo taken
for the bot's own, never for a person typing."""
from __future__ import annotations

import json
import itertools

import pytest
import responses

from python_services.common.db import close_pool
from python_services.core import ledger, period_notices
from python_services.evolution.app import create_app as create_evolution
from testkit.fake_smtp import FakeSMTP
from tests.rows import rows

from .conftest import CHAT, fresh

EVO = "http://evo.test"
OWNER_PHONE = "5511955554444"
OWNER_CHAT = f"{OWNER_PHONE}@s.whatsapp.net"
SEND_URL = f"{EVO}/message/sendText/acme-store"
_ids = itertools.count(1)


@pytest.fixture
def smtp():
    server = FakeSMTP()
    yield server
    server.stop()


@pytest.fixture
def evolution(service_config, smtp):
    app = create_evolution({**service_config, "EVO_RETRY_BACKOFF": "0.001", "SMTP_HOST": "127.0.0.1",
                            "SMTP_PORT": str(smtp.port), "SMTP_SECURITY": "none", "SMTP_FROM": "bot@shop.test"})
    yield app.test_client()
    close_pool(app)


@pytest.fixture
def notify(evolution, service_headers):
    def call(event_id, headers=None):
        return evolution.post("/notify", json={"event_id": event_id},
                              headers=service_headers if headers is None else headers)
    return call


def shop(make_tenant, business_name="Acme Store", **settings):
    return make_tenant(evo_server_url=EVO, business_name=business_name,
                       settings={"notify_owner_phone": OWNER_PHONE, "max_replies_per_chat_per_hour": 1, **settings})


def customer(chat=CHAT, text="Oi, tem o tênis azul?"):
    return fresh("01_customer_text_pn", key_id=f"NOTE{next(_ids):06d}", key_remoteJid=chat,
                 message={"conversation": text})


def echo(wa_id, text, chat=OWNER_CHAT):
    return fresh("06_bot_own_send_echo_send.message", key_id=wa_id, key_remoteJid=chat,
                 message={"conversation": text})


def rate_limited_event(tx, deliver, tenant_id) -> dict:
    """A chat that already had its one reply this hour writes again: rate_limited, notify."""
    def one_reply_sent(cur):
        token = ledger.create_token(cur, ledger.lock_session(cur, tenant_id, CHAT), 60)
        cur.execute("UPDATE reply_tokens SET state = 'sent', finished_at = now() WHERE id = %s", (token["id"],))
    tx(one_reply_sent)
    answer = deliver(customer()).get_json()
    assert (answer["decision"], answer["notify"]) == ("rate_limited", True)
    return answer


def sent_texts(calls) -> list[dict]:
    return [json.loads(c.request.body) for c in calls if c.request.url == SEND_URL]


@responses.activate
def test_a_rate_limited_chat_reaches_the_owners_phone_once_and_its_echo_is_the_bots(
        make_tenant, deliver, notify, tx, db_conn):
    tenant = shop(make_tenant, business_name="Loja da Ana")
    answer = rate_limited_event(tx, deliver, tenant["id"])
    responses.post(SEND_URL, json={"key": {"id": "NOTIFY00001", "remoteJid": OWNER_CHAT, "fromMe": True}},
                   status=201)
    told = notify(answer["event_id"]).get_json()
    assert told == {"outcome": "sent", "event": "rate_limited", "whatsapp": "sent", "email": "off"}
    [sent] = sent_texts(responses.calls)
    assert sent["number"] == OWNER_PHONE
    assert sent["text"].startswith("Loja da Ana: the chat with +5511987654321 (Maria Souza) reached the bot's "
                                   "hourly limit")
    assert rows(db_conn, "SELECT chat_id, state, wa_message_id, reply_token_id FROM outbound") == [
        {"chat_id": OWNER_CHAT, "state": "sent", "wa_message_id": "NOTIFY00001", "reply_token_id": None}]
    # once per event, however often the flow asks
    assert notify(answer["event_id"]).get_json() == {"outcome": "already_sent", "event": "rate_limited"}
    assert len(sent_texts(responses.calls)) == 1
    # the echo comes back in the owner's chat: the bot's own, nothing paused anywhere
    back = deliver(echo("NOTIFY00001", sent["text"])).get_json()
    assert back["decision"] == "bot_echo"
    assert rows(db_conn, "SELECT chat_id, paused FROM sessions ORDER BY chat_id") == [
        {"chat_id": OWNER_CHAT, "paused": False}, {"chat_id": CHAT, "paused": False}]


def test_an_echo_that_beats_evolutions_answer_is_matched_by_its_text(make_tenant, deliver, notify, tx, db_conn):
    tenant = shop(make_tenant)
    answer = rate_limited_event(tx, deliver, tenant["id"])
    heard = []

    def evolution_echoes_first(request):
        # Evolution's webhook of the send arrives before its answer to sendText
        heard.append(deliver(echo("NOTIFY00002", json.loads(request.body)["text"])).get_json())
        return 201, {}, json.dumps({"key": {"id": "NOTIFY00002"}})

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, SEND_URL, callback=evolution_echoes_first)
        assert notify(answer["event_id"]).get_json()["whatsapp"] == "sent"
    assert heard[0]["decision"] == "bot_echo" and "claimed and not yet confirmed" in heard[0]["reason"]
    assert rows(db_conn, "SELECT state, wa_message_id FROM outbound") == [
        {"state": "sent", "wa_message_id": "NOTIFY00002"}]
    assert not any(s["paused"] for s in rows(db_conn, "SELECT paused FROM sessions"))


def test_a_takeover_goes_by_e_mail_as_well_when_smtp_is_set(make_tenant, deliver, notify, smtp):
    shop(make_tenant, notify_email="ana@shop.test", business_name="Loja da Ana")
    answer = deliver(fresh("05_owner_manual_reply_from_phone")).get_json()
    assert (answer["decision"], answer["notify"]) == ("human_takeover", True)
    with responses.RequestsMock() as mock:
        mock.post(SEND_URL, json={"key": {"id": "NOTIFY00003"}}, status=201)
        told = notify(answer["event_id"]).get_json()
    assert (told["whatsapp"], told["email"]) == ("sent", "sent")
    [mail] = smtp.received()
    assert mail["to"] == ["ana@shop.test"]
    assert mail["message"]["Subject"] == "[Loja da Ana] a person took over a chat"
    assert "a person from the team is answering +5511987654321" in mail["message"].get_content()


def test_a_gateway_failure_is_an_answer_not_a_500_and_the_send_stays_the_bots(make_tenant, deliver, notify, tx,
                                                                               db_conn):
    tenant = shop(make_tenant)
    answer = rate_limited_event(tx, deliver, tenant["id"])
    with responses.RequestsMock() as mock:
        mock.post(SEND_URL, json={"status": 500, "error": "Internal Server Error",
                                  "response": {"message": "Connection Closed"}}, status=500)
        told = notify(answer["event_id"]).get_json()
    assert told["outcome"] == "failed" and told["whatsapp"].startswith("failed: ")
    # it may have gone out: its echo would still be matched as the bot's
    assert rows(db_conn, "SELECT state FROM outbound") == [{"state": "unknown"}]


def test_a_business_name_on_two_lines_still_mails_with_a_one_line_subject(make_tenant, deliver, notify, smtp,
                                                                           db_conn):
    shop(make_tenant, notify_email="ana@shop.test", business_name="Loja da\nAna\r\n")
    answer = deliver(fresh("05_owner_manual_reply_from_phone")).get_json()
    with responses.RequestsMock() as mock:
        mock.post(SEND_URL, json={"key": {"id": "NOTIFY00004"}}, status=201)
        told = notify(answer["event_id"]).get_json()
    assert (told["outcome"], told["whatsapp"], told["email"]) == ("sent", "sent", "sent")
    [mail] = smtp.received()
    assert mail["message"]["Subject"] == "[Loja da Ana] a person took over a chat"
    assert rows(db_conn, "SELECT whatsapp, email FROM notifications") == [{"whatsapp": "sent", "email": "sent"}]


def test_a_mail_that_cannot_be_built_is_a_failed_channel_and_the_notification_is_finished(
        make_tenant, deliver, notify, smtp, db_conn):
    # stored before the setting's rule refused it: a header cannot hold a line break
    shop(make_tenant, notify_email="ana@shop.test\nBcc: all@shop.test")
    answer = deliver(fresh("05_owner_manual_reply_from_phone")).get_json()
    with responses.RequestsMock() as mock:
        mock.post(SEND_URL, json={"key": {"id": "NOTIFY00005"}}, status=201)
        told = notify(answer["event_id"]).get_json()
    assert (told["outcome"], told["whatsapp"]) == ("sent", "sent")
    assert told["email"].startswith("failed: the message could not be built")
    assert smtp.received() == []
    [row] = rows(db_conn, "SELECT whatsapp, email FROM notifications")
    assert row["whatsapp"] == "sent" and row["email"].startswith("failed: ")


@responses.activate
def test_a_concurrent_duplicate_of_a_rate_limited_notice_is_not_told_again(make_tenant, deliver, notify, tx,
                                                                          monkeypatch, db_conn):
    tenant = shop(make_tenant)
    first = rate_limited_event(tx, deliver, tenant["id"])
    # the second webhook read "not said yet" before the first one committed its notice
    monkeypatch.setattr(period_notices, "said", lambda *args: False)
    second = deliver(customer(text="alô?")).get_json()
    assert (second["decision"], second["notify"]) == ("rate_limited", False)
    told = notify(second["event_id"]).get_json()
    assert told["outcome"] == "skipped" and "did not ask" in told["reason"]
    assert sent_texts(responses.calls) == []
    assert rows(db_conn, "SELECT id, notify FROM events WHERE decision = 'rate_limited' ORDER BY id") == [
        {"id": first["event_id"], "notify": True}, {"id": second["event_id"], "notify": False}]


@pytest.mark.parametrize("settings, outcome", [
    ({"notify_events": ["takeover"]}, "skipped"),
    ({"notify_owner_phone": ""}, "off"),
])
@responses.activate
def test_nothing_is_sent_when_the_tenant_did_not_ask_for_it(make_tenant, deliver, notify, tx, settings, outcome):
    tenant = shop(make_tenant, **settings)
    answer = rate_limited_event(tx, deliver, tenant["id"])
    assert notify(answer["event_id"]).get_json()["outcome"] == outcome
    assert sent_texts(responses.calls) == []


def test_a_decision_the_team_is_not_told_of_is_skipped(make_tenant, deliver, notify):
    shop(make_tenant)
    answer = deliver(customer()).get_json()
    assert notify(answer["event_id"]).get_json()["outcome"] == "skipped"


@pytest.mark.parametrize("body, status, field", [
    ({"event_id": "7"}, 400, "event_id"), ({"event_id": True}, 400, "event_id"), ({}, 400, "event_id"),
    ({"event_id": 999999}, 404, "event_id"),
])
def test_a_bad_notify_request_is_refused_naming_the_field(evolution, service_headers, clean_db, body, status, field):
    resp = evolution.post("/notify", json=body, headers=service_headers)
    assert resp.status_code == status
    assert resp.get_json()["error"]["field"] == field


def test_notify_needs_the_service_token(notify):
    assert notify(1, headers={}).status_code == 401
