"""The sandbox as an Evolution whose sends can have an unknown fate: a 5xx
after the message really went out, an answer held after sending, and
POST /chat/findMessages answering from what reached the phones, in
Evolution v2's wire format."""
from __future__ import annotations

import time

import pytest

from .conftest import INSTANCE, NUMBER, SANDBOX_KEY

KEY = {"apikey": SANDBOX_KEY}
JID = f"{NUMBER}@s.whatsapp.net"


def send(sandbox, text="Olá"):
    return sandbox.post(f"/message/sendText/{INSTANCE}", json={"number": NUMBER, "text": text}, headers=KEY)


def find(sandbox, body, key=KEY):
    return sandbox.post(f"/chat/findMessages/{INSTANCE}", json=body, headers=key)


def on_the_phone(sandbox) -> list[str]:
    msgs = sandbox.get("/sandbox/messages", params={"instance": INSTANCE, "number": NUMBER}).json()["messages"]
    return [m["text"] for m in msgs]


def test_a_5xx_after_sending_leaves_the_message_on_the_phone_and_says_so_in_the_call_log(sandbox):
    sandbox.knobs(fail_next_after_sending=1, fail_status=500)
    failed = send(sandbox, "primeira")
    assert failed.status_code == 500
    assert failed.json() == {"status": 500, "error": "Internal Server Error",
                             "response": {"message": "Connection Closed"}}
    assert send(sandbox, "segunda").status_code == 201  # only the next N
    assert on_the_phone(sandbox) == ["primeira", "segunda"]
    first = sandbox.calls("sendText")[0]
    assert (first["status"], first["sent_before_failing"]) == (500, True) and first["message_id"]


def test_an_answer_held_after_sending_finds_the_message_already_on_the_phone(sandbox):
    sandbox.knobs(answer_delay_ms=400)
    started = time.monotonic()
    assert send(sandbox).status_code == 201
    assert time.monotonic() - started >= 0.4
    assert on_the_phone(sandbox) == ["Olá"]


def test_find_messages_answers_the_chats_messages_newest_first_in_evolutions_shape(sandbox):
    send(sandbox, "um")
    send(sandbox, "dois")
    sandbox.post("/sandbox/customer", json={"instance": INSTANCE, "number": NUMBER, "text": "oi"})
    answer = find(sandbox, {"where": {"key": {"remoteJid": JID, "fromMe": True}}, "offset": 20, "page": 1})
    assert answer.status_code == 200
    found = answer.json()["messages"]
    assert (found["total"], found["pages"], found["currentPage"]) == (2, 1, 1)
    assert [r["message"]["conversation"] for r in found["records"]] == ["dois", "um"]
    record = found["records"][0]
    assert record["key"] == {"id": sandbox.calls("sendText")[1]["message_id"], "fromMe": True, "remoteJid": JID}
    assert set(record) == {"id", "key", "pushName", "messageType", "message", "messageTimestamp", "instanceId",
                           "source", "contextInfo", "MessageUpdate"}
    assert isinstance(record["messageTimestamp"], int)
    assert [c["kind"] for c in sandbox.calls()][-1] == "findMessages"
    # fromMe false: the customer's; a page of one
    theirs = find(sandbox, {"where": {"key": {"remoteJid": JID, "fromMe": False}}}).json()["messages"]
    assert [r["message"]["conversation"] for r in theirs["records"]] == ["oi"]
    paged = find(sandbox, {"where": {"key": {"remoteJid": JID}}, "offset": 1, "page": 2}).json()["messages"]
    assert (paged["total"], paged["pages"], len(paged["records"])) == (3, 3, 1)


@pytest.mark.parametrize("body", [
    {"where": {"key": {"remoteJid": ""}}},
    {"where": {"key": {"fromMe": "yes"}}},
    {"where": "everything"},
    {"offset": "20"},
])
def test_find_messages_refuses_what_evolutions_schema_refuses(sandbox, body):
    answer = find(sandbox, body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "Bad Request"


def test_find_messages_checks_the_key_and_can_be_made_to_fail(sandbox):
    assert find(sandbox, {}, key={"apikey": "wrong"}).status_code == 401
    sandbox.knobs(fail_find_messages=True)
    assert find(sandbox, {"where": {"key": {"remoteJid": JID}}}).status_code == 500


def test_the_new_knobs_are_checked(sandbox):
    for bad in ({"fail_next_after_sending": -1}, {"answer_delay_ms": "slow"}, {"fail_find_messages": 1}):
        resp = sandbox.post("/sandbox/knobs", json=bad)
        assert resp.status_code == 400, bad
