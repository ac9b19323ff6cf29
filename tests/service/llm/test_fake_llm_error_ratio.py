"""The fake LLM's random failures (benchmarks: "the LLM answers 429/500 to
10 %"): error_ratio picks requests at random, in each API's own error shape."""
from __future__ import annotations

import requests

from testkit.fake_llm import FakeLLM

HEADERS = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
BODY = {"model": "claude-test", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


def ask(fake, n):
    return [requests.post(fake.url + "/v1/messages", json=BODY, headers=HEADERS, timeout=5) for _ in range(n)]


def test_error_ratio_one_fails_every_request_with_the_listed_statuses_and_zero_none():
    fake = FakeLLM(error_ratio=1.0, error_statuses=(429, 500)).start()
    try:
        answers = ask(fake, 20)
        assert {a.status_code for a in answers} <= {429, 500}
        assert all(a.json()["type"] == "error" for a in answers)
        assert all(a.headers["retry-after"] == "0" for a in answers)
        requests.post(fake.url + "/_fake/script", json={"error_ratio": 0}, timeout=5)
        assert {a.status_code for a in ask(fake, 5)} == {200}
    finally:
        fake.stop()


def test_error_ratio_is_scripted_over_http_and_forgotten_on_reset():
    fake = FakeLLM().start()
    try:
        requests.post(fake.url + "/_fake/script", json={"error_ratio": 0.5, "error_statuses": [529]}, timeout=5)
        statuses = [a.status_code for a in ask(fake, 200)]
        # binomial(200, 0.5): outside 50..150 about once in 10^12 runs
        assert 50 <= statuses.count(529) <= 150
        assert set(statuses) == {200, 529}
        requests.post(fake.url + "/_fake/reset", timeout=5)
        assert {a.status_code for a in ask(fake, 5)} == {200}
    finally:
        fake.stop()


def test_a_request_the_real_api_refuses_is_refused_whatever_the_ratio():
    fake = FakeLLM(error_ratio=1.0).start()
    try:
        resp = requests.post(fake.url + "/v1/messages", json={"model": "m", "messages": []}, headers=HEADERS,
                             timeout=5)
        assert resp.status_code == 400
    finally:
        fake.stop()
