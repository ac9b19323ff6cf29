"""Sending rules without a server: paragraphs, typing time, the number to
send to, and what each Evolution error means (on the recorded error bodies)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import responses

from python_services.common.settings import DEFAULT_SETTINGS
from python_services.evolution.client import EvolutionClient, EvolutionError, describe_error
from python_services.evolution.sending import phone_number, split_reply, typing_delay_ms

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


@responses.activate
def test_send_text_retries_a_5xx_and_returns_the_answer():
    url = BASE + "/message/sendText/acme-store"
    responses.post(url, status=500, json={"status": 500, "error": "Internal Server Error",
                                          "response": {"message": "Connection Closed"}})
    responses.post(url, status=201, json=fixture("api_sendText_201_response.json"))
    answer = _client().send_text("acme-store", "5511987654321", "Hi")
    assert answer["key"]["id"] == "3EB0C1D2E3F4A5B6C7D8E9"
    assert len(responses.calls) == 2
    sent = responses.calls[1].request
    assert sent.headers["apikey"] == "key"
    assert json.loads(sent.body) == {"number": "5511987654321", "text": "Hi"}


@responses.activate
def test_send_text_never_retries_a_4xx():
    responses.post(BASE + "/message/sendText/acme-store", status=401, json=fixture("api_error_401.json"))
    with pytest.raises(EvolutionError) as caught:
        _client().send_text("acme-store", "5511987654321", "Hi")
    assert caught.value.kind == "unauthorized" and caught.value.status == 401
    assert len(responses.calls) == 1


@responses.activate
def test_send_text_gives_up_after_its_attempts_and_says_so():
    responses.post(BASE + "/message/sendText/acme-store", body=requests.ConnectionError("refused"))
    with pytest.raises(EvolutionError) as caught:
        _client().send_text("acme-store", "5511987654321", "Hi")
    assert caught.value.kind == "unreachable"
    assert caught.value.message.endswith("(after 3 attempts)")
    assert len(responses.calls) == 3


@responses.activate
def test_a_send_answer_without_a_message_id_is_a_failure():
    responses.post(BASE + "/message/sendText/acme-store", status=201, json={"status": "PENDING"})
    with pytest.raises(EvolutionError) as caught:
        _client().send_text("acme-store", "5511987654321", "Hi")
    assert caught.value.kind == "bad_answer"


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
        "byEvents": False, "base64": False, "events": ["MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED"]}}
