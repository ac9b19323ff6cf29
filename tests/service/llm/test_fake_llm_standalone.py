"""The fake LLM server as the flow tests and benchmarks use it: a separate
process, scripted over HTTP, answering the real SDKs."""
from __future__ import annotations

import socket
import subprocess
import sys
import time

import anthropic
import openai
import pytest
import requests

from python_services.common.config import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fake_process():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "testkit.fake_llm", "--port", str(port)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(url + "/health", timeout=0.2)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the fake LLM did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_the_standalone_fake_is_scripted_over_http_and_records_what_it_got(fake_process):
    requests.post(fake_process + "/_fake/reset", timeout=2)
    requests.post(fake_process + "/_fake/script", json={
        "queue": [{"api": "anthropic", "status": 529}, {"api": "anthropic", "text": "queued answer"}],
        "rules": [{"when": "opening", "text": "We open at 9."}],
    }, timeout=2)
    claude = anthropic.Anthropic(api_key="k", base_url=fake_process, max_retries=1)
    gpt = openai.OpenAI(api_key="k", base_url=fake_process + "/v1", max_retries=0)

    first = claude.messages.create(model="claude-haiku-4-5", max_tokens=50,
                                   messages=[{"role": "user", "content": "hello"}])
    second = gpt.chat.completions.create(model="gpt-4.1-mini",
                                         messages=[{"role": "user", "content": "Opening hours?"}])
    third = gpt.chat.completions.create(model="gpt-4.1-mini", messages=[{"role": "user", "content": "Hi"}])

    assert first.content[0].text == "queued answer"
    assert second.choices[0].message.content == "We open at 9."
    assert third.choices[0].message.content == "fake reply to: Hi"
    got = requests.get(fake_process + "/_fake/requests", timeout=2).json()["requests"]
    assert [r["api"] for r in got] == ["anthropic", "anthropic", "openai", "openai"]
    assert got[2]["body"]["messages"] == [{"role": "user", "content": "Opening hours?"}]


def test_the_fake_refuses_what_the_real_messages_api_refuses(fake_process):
    claude = anthropic.Anthropic(api_key="k", base_url=fake_process, max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="alternate"):
        claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=[
            {"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
