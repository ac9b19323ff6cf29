"""Sending rules without a server: paragraphs, typing time, the number to
send to, and what each Evolution error means (on the recorded error bodies)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from python_services.core.settings import DEFAULT_SETTINGS
from python_services.core.evolution_client import EvolutionClient, EvolutionError, describe_error
from python_services.core.jids import phone_number
from python_services.evolution.sending import split_reply, typing_delay_ms

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evolution_api"
BASE = "http://evo.test"


def fixture(name):
    folder = FIXTURES if name.startswith("api_") else FIXTURES.parent / "webhooks"
    return json.loads((folder / name).read_text())


@pytest.mark.parametrize("text, parts", [
    ("Hello!", ["Hello!"]),
    ("First.\n\nSecond.", ["First.", "Second."]),
    ("First.\n  \nSecond.\n\n\n\nThird.", ["First.", "Second.", "Third."]),
    ("One line\nnext line stays together", ["One line\nnext line stays together"]),
    ("Windows\r\n\r\nbreaks", ["Windows", "breaks"]),
    ("  padded  \n\n", ["padded"]),
    ("\n\n  \n", []),
])
def test_a_reply_splits_into_one_message_per_paragraph(text, parts):
    assert split_reply(text) == parts


@pytest.mark.parametrize("length, expected", [
    (1, 500),      # short: at least typing_min_ms
    (50, 2000),    # 50 x 40 ms
    (1000, 5000),  # long: at most typing_max_ms
])
def test_typing_lasts_as_long_as_the_text_within_the_tenants_bounds(length, expected):
    assert typing_delay_ms("x" * length, DEFAULT_SETTINGS) == expected


def test_typing_time_follows_the_tenants_own_settings():
    settings = {**DEFAULT_SETTINGS, "time_per_char": 2, "typing_min_ms": 10, "typing_max_ms": 150}
    assert typing_delay_ms("x" * 30, settings) == 60
    assert typing_delay_ms("x" * 500, settings) == 150


@pytest.mark.parametrize("value, number", [
    ("5511987654321", "5511987654321"),
    ("5511987654321@s.whatsapp.net", "5511987654321"),
    ("+55 11 98765-4321", "5511987654321"),
    ("123456789012345@lid", None),
    ("120363025246125486@g.us", None),
    ("", None),
    (None, None),
])
def test_replies_go_to_the_phone_number_never_to_a_lid(value, number):
    assert phone_number(value) == number


@pytest.mark.parametrize("name, kind, words", [
    ("api_error_401.json", "unauthorized", "evo_api_key"),
    ("api_error_404_instance.json", "unknown_instance", 'The "acme-stor" instance does not exist'),
    ("api_error_400_number_not_on_whatsapp.json", "not_on_whatsapp", "83842157310076@lid is not on WhatsApp"),
])
def test_each_recorded_evolution_error_gets_a_clear_meaning(name, kind, words):
    body = fixture(name)
    got_kind, message = describe_error(body["status"], body, "acme-stor")
    assert got_kind == kind
    assert words in message


def test_a_validation_error_lists_what_evolution_refused():
    # Evolution wraps its schema messages in a list inside a list
    body = {"status": 400, "error": "Bad Request",
            "response": {"message": [['instance requires property "text"', "Invalid format"]]}}
    kind, message = describe_error(400, body)
    assert kind == "invalid"
    assert 'instance requires property "text"; Invalid format' in message


@pytest.mark.parametrize("status, body, kind", [
    (500, {"status": 500, "error": "Internal Server Error", "response": {"message": "Connection Closed"}},
     "server_error"),
    (502, "<html><body>502 Bad Gateway</body></html>", "server_error"),
    (403, {"status": 403, "error": "Forbidden", "response": {"message": ["Missing global api key"]}}, "rejected"),
    (404, {"status": 404, "error": "Not Found", "response": {"message": ["Cannot POST /x"]}}, "not_found"),
])
def test_other_gateway_answers_are_named_too(status, body, kind):
    assert describe_error(status, body)[0] == kind


def _client(**kw):
    return EvolutionClient(BASE, "key", attempts=3, backoff=0, sleep=lambda s: None, **kw)


def _refused(url):
    """What requests raises when the connection is refused: nothing was sent."""
    return requests.ConnectionError(MaxRetryError(None, url, NewConnectionError(None, "Connection refused")))


@responses.activate
def test_a_send_that_never_reached_evolution_is_tried_again_and_returns_the_answer():
    url = BASE + "/message/sendText/acme-store"
    responses.post(url, body=_refused(url))
    responses.post(url, status=201, json=fixture("api_sendText_201_response.json"))
    answer = _client().send_text("acme-store", "5511987654321", "Hi")
    assert answer["key"]["id"] == "3EB0C1D2E3F4A5B6C7D8E9"
    assert len(responses.calls) == 2
    sent = responses.calls[1].request
    assert sent.headers["apikey"] == "key"
    assert json.loads(sent.body) == {"number": "5511987654321", "text": "Hi"}


@pytest.mark.parametrize("case, kind, answered", [
    ("evolution_500", "server_error", True),
    ("proxy_504_page", "server_error", False),
    ("read_timeout", "timeout", False),
    ("connection_reset_mid_call", "connection_lost", False),
])
@responses.activate
def test_a_send_that_may_have_reached_evolution_is_never_retried_blindly(case, kind, answered):
    url = BASE + "/message/sendText/acme-store"
    if case == "evolution_500":
        responses.post(url, status=500, json={"status": 500, "error": "Internal Server Error",
                                              "response": {"message": "Connection Closed"}})
    elif case == "proxy_504_page":
        responses.post(url, status=504, body="<html><body>504 Gateway Time-out</body></html>")
    elif case == "read_timeout":
        responses.post(url, body=requests.ReadTimeout("read timed out"))
    else:
        responses.post(url, body=requests.ConnectionError(ProtocolError("Connection aborted.",
                                                                        ConnectionResetError(104, "reset"))))
    responses.post(url, status=201, json=fixture("api_sendText_201_response.json"))
    with pytest.raises(EvolutionError) as caught:
        _client().send_text("acme-store", "5511987654321", "Hi")
    err = caught.value
    assert (err.kind, err.fate, err.maybe_sent, err.answered) == (kind, "unknown", True, answered)
    assert len(responses.calls) == 1


@responses.activate
def test_send_text_never_retries_a_4xx():
    responses.post(BASE + "/message/sendText/acme-store", status=401, json=fixture("api_error_401.json"))
    with pytest.raises(EvolutionError) as caught:
        _client().send_text("acme-store", "5511987654321", "Hi")
    assert caught.value.kind == "unauthorized" and caught.value.status == 401
    assert caught.value.fate == "not_sent"
    assert len(responses.calls) == 1


@pytest.mark.parametrize("raised", ["refused", "connect_timeout"])
@responses.activate
def test_send_text_gives_up_after_its_attempts_and_says_so(raised):
    url = BASE + "/message/sendText/acme-store"
    responses.post(url, body=_refused(url) if raised == "refused" else requests.ConnectTimeout("connect timed out"))
    with pytest.raises(EvolutionError) as caught:
        _client().send_text("acme-store", "5511987654321", "Hi")
    assert caught.value.kind == ("unreachable" if raised == "refused" else "timeout")
    assert caught.value.fate == "not_sent"
    assert caught.value.message.endswith("(after 3 attempts)")
    assert len(responses.calls) == 3


@responses.activate
def test_a_send_answer_without_a_message_id_is_a_failure_of_unknown_fate():
    responses.post(BASE + "/message/sendText/acme-store", status=201, json={"status": "PENDING"})
    with pytest.raises(EvolutionError) as caught:
        _client().send_text("acme-store", "5511987654321", "Hi")
    assert caught.value.kind == "bad_answer"
    # Evolution accepted it: the message may well be out
    assert (caught.value.fate, caught.value.answered) == ("unknown", True)
    assert len(responses.calls) == 1


def _record(msg_id, text, stamp, from_me=True, shape="conversation"):
    message = {"conversation": text} if shape == "conversation" else {"extendedTextMessage": {"text": text}}
    key = {"id": msg_id, "fromMe": from_me, "remoteJid": "5511987654321@s.whatsapp.net"}
    return {"id": "c" + msg_id.lower(), "key": key, "pushName": "Loja", "messageType": shape, "message": message,
            "messageTimestamp": stamp, "instanceId": "i", "source": "web", "contextInfo": None, "MessageUpdate": []}


@responses.activate
def test_evolutions_message_list_tells_whether_a_send_went_out():
    url = BASE + "/chat/findMessages/acme-store"
    responses.post(url, status=200, json={"messages": {"total": 5, "pages": 1, "currentPage": 1, "records": [
        _record("3EB0NEWER", "Temos sim!", 1_800_000_100),
        _record("3EB0LONG", "Temos sim!", {"low": 1_800_000_050, "high": 0, "unsigned": True}, shape="extended"),
        _record("3EB0OTHER", "Outra coisa", 1_800_000_090),
        _record("3EB0OLD", "Temos sim!", 1_799_999_000),
        _record("CUSTOMER1", "Temos sim!", 1_800_000_095, from_me=False),
    ]}})
    found = _client().find_sent("acme-store", "5511987654321@s.whatsapp.net", " Temos sim! ", since=1_800_000_000)
    assert found == ["3EB0LONG", "3EB0NEWER"]  # oldest first; older sends and others' messages left out
    assert json.loads(responses.calls[0].request.body) == {
        "where": {"key": {"remoteJid": "5511987654321@s.whatsapp.net", "fromMe": True}}, "offset": 20, "page": 1}


class _RecordingSession:
    def __init__(self):
        self.calls = []

    def request(self, method, url, **kw):
        self.calls.append((method, url, kw))
        resp = requests.Response()
        resp.status_code = 201
        resp._content = b'{"presence": "composing"}'
        return resp


def test_the_presence_call_may_take_the_whole_typing_delay():
    session = _RecordingSession()
    EvolutionClient(BASE, "key", timeout=10, session=session).send_presence("acme-store", "5511987654321", 4000)
    method, url, kw = session.calls[0]
    assert url == BASE + "/chat/sendPresence/acme-store"
    assert kw["json"] == {"number": "5511987654321", "presence": "composing", "delay": 4000}
    assert kw["timeout"] == 14.0


def test_the_webhook_is_set_for_the_three_message_events_with_the_secret_header():
    session = _RecordingSession()
    EvolutionClient(BASE, "key", session=session).set_webhook("acme-store", "http://n8n/webhook/evolution",
                                                              {"X-Webhook-Secret": "s"})
    assert session.calls[0][2]["json"] == {"webhook": {
        "enabled": True, "url": "http://n8n/webhook/evolution", "headers": {"X-Webhook-Secret": "s"},
        "byEvents": True, "base64": False, "events": ["MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED"]}}
