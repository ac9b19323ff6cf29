"""The knowledge base on the real n8n: a business's entries, made through
the admin API, reach the model the tenant uses (OpenAI, Anthropic) with the
customer's question, and the offline provider answers from them; the reply's
sources show in the timeline (GET /api/events)."""
from __future__ import annotations

import json

import pytest
import requests

from .helpers import new_chat, wait_for

pytestmark = pytest.mark.flow

HOURS = {"title": "Horário de funcionamento", "tags": ["aberto"],
         "content": "Abrimos de segunda a sexta das 9h às 19h e aos sábados das 9h às 14h."}
RETURNS = {"title": "Trocas e devoluções",
           "content": "A primeira troca é grátis em até 30 dias, com o produto sem uso e na caixa."}
JOBS = {"title": "Trabalhe conosco", "content": "Mande o currículo para vagas@passocerto.example."}


def admin(stack) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {stack.env['ADMIN_TOKEN']}"
    return session


def shop_chat(stack, provider: str):
    """A tenant on `provider` whose knowledge base has three entries, made through the admin API."""
    chat = new_chat(stack, provider=provider)
    api = admin(stack)
    url = f"{stack.url('collision')}/api/tenants/{chat.tenant['id']}/knowledge"
    chat.entries = {}
    for entry in (HOURS, RETURNS, JOBS):
        resp = api.post(url, json=entry, timeout=10)
        assert resp.status_code == 201, resp.text
        chat.entries[entry["title"]] = resp.json()["id"]
    return chat


def reply_sources_in_timeline(stack, chat) -> list[list[dict]]:
    """The sources of each reply event of the chat, from GET /api/events."""
    resp = admin(stack).get(f"{stack.url('collision')}/api/events",
                            params={"tenant_id": chat.tenant["id"], "chat_id": chat.number}, timeout=10)
    assert resp.status_code == 200, resp.text
    return [e["sources"] for e in resp.json()["events"] if e["decision"] == "reply"]


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_model_is_given_the_entry_that_answers_and_the_reply_names_it_in_the_timeline(
        flow_stack, fake_llm, sandbox, provider):
    fake_llm.script(rules=[{"when": "sabado", "text": "Aos sábados abrimos das 9h às 14h."}])
    chat = shop_chat(flow_stack, provider)

    chat.customer_says("vcs abrem no sabado? ate q horas")

    assert chat.wait_for_bot_replies(1) == ["Aos sábados abrimos das 9h às 14h."]
    [sent] = [r for r in fake_llm.requests() if "sabado" in json.dumps(r["body"], ensure_ascii=False)]
    assert sent["api"] == provider
    body = json.dumps(sent["body"], ensure_ascii=False)
    assert HOURS["content"] in body
    assert JOBS["content"] not in body and RETURNS["content"] not in body
    assert reply_sources_in_timeline(flow_stack, chat) == [[{"id": chat.entries[HOURS["title"]],
                                                             "title": HOURS["title"]}]]
    # the knowledge list counts the reply for the entry it was written from
    listed = admin(flow_stack).get(f"{flow_stack.url('collision')}/api/tenants/{chat.tenant['id']}/knowledge",
                                   timeout=10).json()["entries"]
    assert {e["title"]: e["used"] for e in listed} == {HOURS["title"]: 1, RETURNS["title"]: 0, JOBS["title"]: 0}


def test_the_offline_provider_answers_from_the_entry(flow_stack, fake_llm, sandbox):
    chat = shop_chat(flow_stack, "offline")

    chat.customer_says("como funciona a troca? comprei e nao serviu")

    assert chat.wait_for_bot_replies(1) == [RETURNS["content"]]
    assert fake_llm.requests() == []
    wait_for("the reply's sources in the timeline", lambda: reply_sources_in_timeline(flow_stack, chat) == [
        [{"id": chat.entries[RETURNS["title"]], "title": RETURNS["title"]}]])
