"""The sandbox's random faults for benchmarks (fail_ratio, stall_ratio +
stall_ms) and the call log that latency figures are read from (seq,
received_at, after/wait)."""
from __future__ import annotations

import threading
import time

from .conftest import INSTANCE, NUMBER, SANDBOX_KEY

KEY = {"apikey": SANDBOX_KEY}
SEND = f"/message/sendText/{INSTANCE}"


def send(sandbox, text="Olá"):
    return sandbox.post(SEND, json={"number": NUMBER, "text": text}, headers=KEY)


def test_fail_ratio_one_fails_every_send_in_evolutions_shape_and_zero_none(sandbox):
    sandbox.knobs(fail_ratio=1, fail_status=500)
    answers = [send(sandbox) for _ in range(5)]
    assert {a.status_code for a in answers} == {500}
    assert answers[0].json()["error"] == "Internal Server Error"
    sandbox.knobs(fail_ratio=0)
    assert {send(sandbox).status_code for _ in range(5)} == {201}
    # a failed send is never on the phones
    msgs = sandbox.get("/sandbox/messages", params={"instance": INSTANCE, "number": NUMBER}).json()["messages"]
    assert len(msgs) == 5


def test_fail_ratio_fails_about_that_share_of_sends(sandbox):
    sandbox.knobs(fail_ratio=0.5)
    statuses = [send(sandbox).status_code for _ in range(200)]
    # binomial(200, 0.5): outside 50..150 about once in 10^12 runs
    assert 50 <= statuses.count(500) <= 150
    assert set(statuses) == {201, 500}


def test_stall_ratio_holds_the_sends_it_picks_and_says_so_in_the_call_log(sandbox):
    sandbox.knobs(stall_ratio=1, stall_ms=20)
    assert send(sandbox).status_code == 201
    [call] = sandbox.calls("sendText")
    assert call["stalled_ms"] == 20
    sandbox.knobs(stall_ratio=0)
    send(sandbox)
    assert "stalled_ms" not in sandbox.calls("sendText")[-1]


def test_fault_knobs_are_checked(sandbox):
    for bad in ({"fail_ratio": 1.5}, {"stall_ratio": -0.1}, {"fail_ratio": "half"}, {"stall_ms": -1},
                {"stall_ratio": True}):
        resp = sandbox.post("/sandbox/knobs", json=bad)
        assert resp.status_code == 400, bad
        assert resp.json()["error"]["field"] == next(iter(bad))
    assert sandbox.knobs()["fail_ratio"] == 0.0
    sandbox.post("/sandbox/reset", json={})
    knobs = sandbox.get("/sandbox/knobs").json()
    assert (knobs["fail_ratio"], knobs["stall_ratio"], knobs["stall_ms"]) == (0.0, 0.0, 0)


def test_every_call_has_a_sequence_number_and_its_arrival_time(sandbox):
    before = time.time()
    send(sandbox, "one")
    send(sandbox, "two")
    after = time.time()
    calls = sandbox.calls("sendText")
    assert [c["seq"] for c in calls] == sorted(c["seq"] for c in calls)
    for call in calls:
        assert before <= call["received_at"] <= call["at"] <= after
        assert call["message_id"].startswith("3EB0")
    newer = sandbox.get("/sandbox/calls", params={"kind": "sendText", "after": calls[0]["seq"]}).json()
    assert [c["body"]["text"] for c in newer["calls"]] == ["two"]
    assert newer["last_seq"] == calls[1]["seq"]


def test_calls_with_wait_answer_when_a_newer_call_comes(sandbox):
    send(sandbox, "first")
    last = sandbox.calls("sendText")[-1]["seq"]
    got = {}

    def follow():
        got["answer"] = sandbox.get("/sandbox/calls",
                                    params={"kind": "sendText", "after": last, "wait": 10}).json()

    follower = threading.Thread(target=follow)
    follower.start()
    send(sandbox, "second")
    follower.join(15)
    assert [c["body"]["text"] for c in got["answer"]["calls"]] == ["second"]
    # nothing newer: an empty answer after the wait, with the same last_seq
    empty = sandbox.get("/sandbox/calls", params={"after": got["answer"]["last_seq"], "wait": 0.05}).json()
    assert empty == {"calls": [], "last_seq": got["answer"]["last_seq"]}
