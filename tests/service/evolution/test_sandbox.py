"""The sandbox as a fake Evolution: its answers and webhooks have the real
shapes (compared with the recorded fixtures), and its knobs do what they say."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from python_services.sandbox.app import create_app as create_sandbox

from .conftest import INSTANCE, NUMBER, SANDBOX_KEY, fixture

KEY = {"apikey": SANDBOX_KEY}
SEND = f"/message/sendText/{INSTANCE}"


def shape(value):
    """The structure of a JSON value: keys and types, not the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    if value is None:
        return None
    return type(value).__name__


def envelope_shape(body):
    # apikey is null on some servers (the fixtures have both); compare the rest
    return {k: v for k, v in shape(body).items() if k != "apikey"}


def send_text(sandbox, text="Temos sim!", number=NUMBER, **kw):
    return sandbox.post(SEND, json={"number": number, "text": text}, headers=KEY, **kw)


# ---- the shapes ---------------------------------------------------------------------
def test_a_customer_message_arrives_as_messages_upsert_shaped_like_the_real_one(sandbox, receiver):
    sandbox.hook(receiver.url, secret="tenant-secret")
    resp = sandbox.post("/sandbox/customer", json={"number": NUMBER, "text": "Oi! Tem o tênis azul?"})
    assert resp.status_code == 201
    [got] = receiver.wait_for(1)

    real = fixture("01_customer_text_pn.json")
    assert envelope_shape(got["body"]) == envelope_shape(real)
    assert got["body"]["event"] == "messages.upsert"
    assert got["body"]["data"]["key"]["fromMe"] is False
    assert got["body"]["data"]["key"]["remoteJid"] == f"{NUMBER}@s.whatsapp.net"
    assert got["body"]["data"]["message"]["conversation"] == "Oi! Tem o tênis azul?"
    assert got["headers"]["X-Webhook-Secret"] == "tenant-secret"


def test_the_owners_message_arrives_as_messages_upsert_from_me(sandbox, receiver):
    sandbox.hook(receiver.url)
    sandbox.post("/sandbox/owner", json={"number": NUMBER, "text": "Aqui é o João da loja."})
    [got] = receiver.wait_for(1)

    assert envelope_shape(got["body"]) == envelope_shape(fixture("05_owner_manual_reply_from_phone.json"))
    assert got["body"]["event"] == "messages.upsert"
    assert got["body"]["data"]["key"]["fromMe"] is True
    assert not got["body"]["data"]["key"]["id"].startswith("3EB0")


def test_a_send_answers_201_like_evolution_and_comes_back_as_send_message(sandbox, receiver):
    sandbox.hook(receiver.url)
    resp = send_text(sandbox)
    assert resp.status_code == 201
    answer = resp.json()
    assert shape(answer) == shape(fixture("api_sendText_201_response.json"))
    assert answer["status"] == "PENDING"
    assert answer["key"]["id"].startswith("3EB0") and len(answer["key"]["id"]) == 22

    [got] = receiver.wait_for(1)
    assert envelope_shape(got["body"]) == envelope_shape(fixture("06_bot_own_send_echo_send.message.json"))
    assert got["body"]["event"] == "send.message"
    assert got["body"]["data"]["key"]["id"] == answer["key"]["id"]


@pytest.mark.parametrize("headers, instance, name", [
    ({"apikey": "wrong"}, INSTANCE, "api_error_401.json"),
    ({}, INSTANCE, "api_error_401.json"),
    (KEY, "acme-stor", "api_error_404_instance.json"),
])
def test_refusals_have_evolutions_exact_error_bodies(sandbox, headers, instance, name):
    resp = sandbox.post(f"/message/sendText/{instance}", json={"number": NUMBER, "text": "x"}, headers=headers)
    real = fixture(name)
    assert resp.status_code == real["status"]
    assert resp.json() == real


def test_a_number_not_on_whatsapp_is_refused_like_evolution_does(sandbox):
    sandbox.knobs(not_on_whatsapp=[NUMBER])
    resp = send_text(sandbox)
    assert resp.status_code == 400
    assert shape(resp.json()) == shape(fixture("api_error_400_number_not_on_whatsapp.json"))
    assert resp.json()["response"]["message"][0]["exists"] is False


def test_a_lid_is_not_a_number_to_send_to(sandbox):
    resp = send_text(sandbox, number="123456789012345@lid")
    assert resp.status_code == 400
    assert resp.json()["response"]["message"][0]["jid"] == "123456789012345@lid"


def test_a_malformed_send_gets_evolutions_validation_answer(sandbox):
    resp = sandbox.post(SEND, json={"number": NUMBER}, headers=KEY)
    assert resp.status_code == 400
    assert resp.json() == {"status": 400, "error": "Bad Request",
                           "response": {"message": [['instance requires property "text"']]}}


def test_the_instance_state_answers_like_evolution(sandbox):
    resp = sandbox.get(f"/instance/connectionState/{INSTANCE}", headers=KEY)
    assert resp.json() == {"instance": {"instanceName": INSTANCE, "state": "open"}}


def test_setting_a_webhook_creates_the_instance_and_keeps_url_and_headers(sandbox, receiver):
    stored = sandbox.hook(receiver.url, secret="abc", instance="new-shop")
    assert stored["url"] == receiver.url and stored["headers"] == {"X-Webhook-Secret": "****"}
    assert sandbox.state.instance("new-shop").webhook["headers"] == {"X-Webhook-Secret": "abc"}
    assert stored["events"] == ["MESSAGES_UPSERT", "SEND_MESSAGE", "MESSAGES_EDITED"]
    assert sandbox.get("/instance/connectionState/new-shop", headers=KEY).status_code == 200


def test_no_answer_shows_a_webhooks_secret(sandbox, receiver):
    secret = "tenant-secret-0123456789"
    stored = sandbox.hook(receiver.url, secret=secret)
    answers = [
        stored,
        sandbox.get(f"/webhook/find/{INSTANCE}", headers=KEY).json(),
        sandbox.get("/sandbox/instances").json(),
        sandbox.get("/sandbox/calls").json(),
        sandbox.get("/sandbox/config").json(),
    ]
    sandbox.post("/sandbox/customer", json={"number": NUMBER, "text": "oi", "wait": True})
    answers.append(sandbox.get("/sandbox/deliveries").json())
    assert receiver.wait_for(1)[0]["headers"]["X-Webhook-Secret"] == secret
    for answer in answers:
        assert secret not in json.dumps(answer)
    assert stored["headers"] == {"X-Webhook-Secret": "****6789"}


@pytest.mark.parametrize("url", [
    "http://collision:8001/api/tenants",
    "http://169.254.169.254/latest/meta-data",
    "https://elsewhere.example.com/webhook/evolution",
])
def test_the_sandbox_refuses_a_webhook_to_any_other_address(sandbox, url):
    resp = sandbox.post(f"/webhook/set/{INSTANCE}", json={"webhook": {"enabled": True, "url": url}}, headers=KEY)
    assert resp.status_code == 400
    assert "SANDBOX_WEBHOOK_ALLOWED" in json.dumps(resp.json())
    assert sandbox.state.instance(INSTANCE).webhook is None


def test_without_a_list_the_sandbox_delivers_only_to_the_n8n_webhook_address():
    app = create_sandbox({"api_key": SANDBOX_KEY, "instances": [INSTANCE], "admin_token": "",
                          "N8N_WEBHOOK_URL": "http://door.test:8080/"})
    assert app.extensions["sandbox"].webhook_allowed == ("http://door.test:8080/",)
    client = app.test_client()
    refused = client.post(f"/webhook/set/{INSTANCE}", json={"webhook": {"enabled": True, "url": "http://x/"}},
                          headers=KEY)
    ok = client.post(f"/webhook/set/{INSTANCE}",
                     json={"webhook": {"enabled": True, "url": "http://door.test:8080/webhook/evolution"}},
                     headers=KEY)
    assert (refused.status_code, ok.status_code) == (400, 201)


def test_only_the_global_key_may_create_an_instance(sandbox):
    resp = sandbox.post("/webhook/set/other", json={"webhook": {"enabled": True, "url": "http://x"}},
                        headers={"apikey": "wrong"})
    assert resp.status_code == 404


def test_typing_presence_holds_the_call_for_its_delay(sandbox):
    started = time.monotonic()
    resp = sandbox.post(f"/chat/sendPresence/{INSTANCE}", headers=KEY,
                        json={"number": NUMBER, "presence": "composing", "delay": 300})
    assert resp.status_code == 201 and resp.json() == {"presence": "composing"}
    assert time.monotonic() - started >= 0.3


def test_an_unknown_route_answers_evolutions_404(sandbox):
    resp = sandbox.post("/message/sendSticker/x", json={})
    assert resp.status_code == 404
    assert resp.json()["response"]["message"] == ["Cannot POST /message/sendSticker/x"]


# ---- the knobs --------------------------------------------------------------------
def test_failing_the_next_sends_answers_500_then_recovers(sandbox):
    sandbox.knobs(fail_next_sends=2)
    statuses = [send_text(sandbox).status_code for _ in range(3)]
    assert statuses == [500, 500, 201]
    assert sandbox.get("/sandbox/knobs").json()["fail_next_sends"] == 0


def test_the_send_delay_slows_every_send(sandbox):
    sandbox.knobs(send_delay_ms=250)
    started = time.monotonic()
    assert send_text(sandbox).status_code == 201
    assert time.monotonic() - started >= 0.25


def test_echo_before_delivers_the_webhook_before_the_send_answers(sandbox, receiver):
    sandbox.hook(receiver.url)
    sandbox.knobs(echo="before")
    send_text(sandbox)
    assert len(receiver.bodies("send.message")) == 1  # already there, no waiting


def test_echo_after_delivers_the_webhook_once_the_answer_is_out(sandbox, receiver):
    sandbox.hook(receiver.url)
    sandbox.knobs(echo="after")
    resp = send_text(sandbox)
    [got] = receiver.wait_for(1)
    assert resp.status_code == 201
    assert got["body"]["data"]["key"]["id"] == resp.json()["key"]["id"]


def test_echo_none_never_reports_the_bots_send(sandbox, receiver):
    sandbox.hook(receiver.url)
    sandbox.knobs(echo="none")
    send_text(sandbox)
    sandbox.deliveries()
    assert receiver.bodies() == []


def test_a_slow_webhook_receiver_does_not_slow_the_send_answer(sandbox, receiver):
    sandbox.hook(receiver.url)
    receiver.delay = 0.5
    started = time.monotonic()
    assert send_text(sandbox).status_code == 201
    assert time.monotonic() - started < 0.4
    receiver.wait_for(1)


def test_every_webhook_can_be_delivered_twice(sandbox, receiver):
    sandbox.hook(receiver.url)
    sandbox.knobs(duplicate_webhooks=True)
    sandbox.post("/sandbox/customer", json={"text": "oi"})
    first, second = receiver.wait_for(2)
    assert first["body"] == second["body"]


def test_bot_sends_can_be_reported_the_evolution_2_2_way(sandbox, receiver):
    sandbox.hook(receiver.url)
    sandbox.knobs(bot_echo_event="messages.upsert")
    answer = send_text(sandbox).json()
    [got] = receiver.wait_for(1)
    assert got["body"]["event"] == "messages.upsert"
    assert got["body"]["data"]["key"] == {"remoteJid": f"{NUMBER}@s.whatsapp.net", "fromMe": True,
                                          "id": answer["key"]["id"]}


def test_an_unknown_knob_is_refused_naming_it(sandbox):
    resp = sandbox.post("/sandbox/knobs", json={"explode": True})
    assert resp.status_code == 400
    assert resp.json()["error"]["field"] == "explode"


def test_reset_forgets_chats_calls_and_knobs(sandbox):
    sandbox.knobs(fail_next_sends=5)
    sandbox.post("/sandbox/customer", json={"text": "oi"})
    assert sandbox.post("/sandbox/reset", json={}).status_code == 200
    assert sandbox.get("/sandbox/knobs").json()["fail_next_sends"] == 0
    assert sandbox.get("/sandbox/messages").json()["messages"] == []
    assert sandbox.calls() == []


# ---- the page and its JSON ------------------------------------------------------------
def test_the_conversation_shows_customer_bot_and_owner_in_order(sandbox):
    sandbox.post("/sandbox/customer", json={"text": "Oi"})
    send_text(sandbox, "Olá! Como posso ajudar?")
    sandbox.post("/sandbox/owner", json={"text": "Deixa comigo."})
    messages = sandbox.get("/sandbox/messages", params={"instance": INSTANCE, "number": NUMBER}).json()["messages"]
    assert [(m["author"], m["text"]) for m in messages] == [
        ("customer", "Oi"), ("bot", "Olá! Como posso ajudar?"), ("owner", "Deixa comigo.")]
    later = sandbox.get("/sandbox/messages", params={"after": messages[1]["seq"]}).json()["messages"]
    assert [m["author"] for m in later] == ["owner"]


def test_the_chat_shows_paused_after_the_owner_writes_and_active_when_the_bot_is_back(sandbox):
    def paused():
        return sandbox.get("/sandbox/session", params={"number": NUMBER}).json()["paused"]

    sandbox.post("/sandbox/customer", json={"text": "Oi"})
    assert paused() is False
    sandbox.post("/sandbox/owner", json={"text": "Oi Maria, é o João."})
    assert paused() is True
    send_text(sandbox, "Voltei!")
    assert paused() is False


def test_the_page_has_two_phones_with_stable_ids(sandbox):
    html = sandbox.get("/").text
    for element in ("customer-input", "customer-send", "customer-messages", "owner-input", "owner-send",
                    "owner-messages", "paused-marker", "bot-state"):
        assert f'id="{element}"' in html and f'data-testid="{element}"' in html


# ---- under gunicorn, as `make up` and the flow tests run it -----------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_sandbox_runs_under_gunicorn_with_one_worker_and_delivers_webhooks(receiver, tmp_path):
    root = Path(__file__).resolve().parents[3]
    port = _free_port()
    env = {**os.environ, "BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "8",
           "SANDBOX_API_KEY": SANDBOX_KEY, "ADMIN_TOKEN": "", "SANDBOX_WEBHOOK_ALLOWED": receiver.url,
           "HYBRIDFLOW_ENV_FILE": str(tmp_path / "none.env")}
    log = open(tmp_path / "sandbox.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "python_services/gunicorn_conf.py",
         "python_services.sandbox.app:create_app()"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(url + "/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, (tmp_path / "sandbox.log").read_text()
            time.sleep(0.1)
        hook = {"webhook": {"enabled": True, "url": receiver.url, "headers": {"X-Webhook-Secret": "g"},
                            "events": ["MESSAGES_UPSERT", "SEND_MESSAGE"]}}
        assert requests.post(f"{url}/webhook/set/{INSTANCE}", json=hook, headers=KEY).status_code == 201
        sent = requests.post(url + SEND, json={"number": NUMBER, "text": "oi"}, headers=KEY)
        assert sent.status_code == 201
        requests.post(url + "/sandbox/customer", json={"text": "tudo bem?"})
        events = sorted(b["body"]["event"] for b in receiver.wait_for(2))
        assert events == ["messages.upsert", "send.message"]
        assert len(requests.get(url + "/sandbox/messages").json()["messages"]) == 2
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
