"""Fixtures of the llm service: a fake LLM server for the real SDKs, the app
pointed at it (the machine's own keys and URLs never leak in), a tenant, and
helpers that arrange a chat the way the collision engine leaves it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from python_services.core import knowledge
from python_services.core import ledger as tokens
from python_services.common import db
from python_services.llm import providers
from python_services.llm.app import create_app
from testkit.fake_llm import FakeLLM
from tests import rows

CHAT = "5511987654321@s.whatsapp.net"
ANTHROPIC_KEY = "sk-ant-test"
OPENAI_KEY = "sk-openai-test"


@pytest.fixture(scope="session")
def fake_server():
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_llm(fake_server):
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture
def llm_env(fake_llm):
    """Environment of the llm service in tests: both providers' keys, both
    SDKs pointed at the fake, retries kept but instant (the fake's errors say
    retry-after-ms: 1)."""
    return {
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": fake_llm.anthropic_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": fake_llm.openai_url,
        "LLM_MAX_RETRIES": "2",
        "LLM_PRICES": "",
        "llm_timeout": 5.0,
    }


@pytest.fixture
def make_app(service_config, llm_env):
    apps = []

    def make(**overrides):
        apps.append(create_app({**service_config, **llm_env, **overrides}))
        return apps[-1]

    yield make
    # the database is shared with other runs: give every pooled connection back now
    for app in apps:
        db.close_pool(app)
    providers._clients.clear()


@pytest.fixture
def client(make_app):
    return make_app().test_client()


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(system_prompt="You are the assistant of {business_name}.", llm_provider="anthropic")




class Chat:
    """A chat as the collision engine leaves it: messages in both directions,
    and a reply token gathering the customer's latest burst."""

    def __init__(self, tx, tenant_id, chat_id=CHAT, customer_name="Maria"):
        self.tx, self.tenant_id, self.chat_id, self.customer_name = tx, tenant_id, chat_id, customer_name
        self.clock = datetime.now(timezone.utc) - timedelta(hours=1)
        self.count = 0
        self.token = None

    def _wa_id(self) -> str:
        return f"{self.chat_id.split('@')[0]}-{self.count:04d}"

    def _add(self, cur, author, text, token_id=None, message_type="conversation"):
        session = tokens.lock_session(cur, self.tenant_id, self.chat_id, self.customer_name)
        self.count += 1
        self.clock += timedelta(seconds=10)
        cur.execute(
            "INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text,"
            " sent_at, reply_token_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (self.tenant_id, session["id"], self.chat_id, self._wa_id(), author, message_type, text,
             self.clock, token_id),
        )
        return session

    def said(self, author, *texts):
        """Earlier history, already answered: no token involved."""
        for text in texts:
            self.tx(self._add, author, text)
        return self

    def customer_says(self, *texts, message_type="conversation"):
        """A burst: each message supersedes the previous token, as the webhook does."""

        def one(cur, text):
            session = self._add(cur, "customer", text, message_type=message_type)
            token = tokens.create_token(cur, session, 120)
            cur.execute("UPDATE messages SET reply_token_id = %s WHERE tenant_id = %s AND wa_message_id = %s",
                        (token["id"], self.tenant_id, self._wa_id()))
            return str(token["id"])

        for text in texts:
            self.token = self.tx(one, text)
        return self.token


@pytest.fixture
def chat(tx, tenant):
    return Chat(tx, tenant["id"])


@pytest.fixture
def token_row(db_conn):
    """token_row(token_id) -> the reply token's row."""
    return lambda token_id: rows.token_row(db_conn, token_id)


@pytest.fixture
def set_tenant(db_conn):
    """set_tenant(tenant, llm_provider=..., settings={...}): changes the tenant's row."""

    def update(tenant, **fields):
        import json

        if "settings" in fields:
            fields["settings"] = json.dumps(fields["settings"])
        sets = ", ".join(f"{k} = %s" for k in fields)
        with db_conn.cursor() as cur:
            cur.execute(f"UPDATE tenants SET {sets} WHERE id = %s", [*fields.values(), tenant["id"]])

    return update


@pytest.fixture
def add_knowledge(tx):
    """add_knowledge(tenant, (title, content), ..., language="portuguese") -> the entries' rows, made as the
    knowledge API makes them."""

    def add(tenant, *entries, language="portuguese", tags=()):
        return [tx(knowledge.create, tenant["id"], title=title, content=content, tags=list(tags), language=language,
                   actor="test") for title, content in entries]

    return add


@pytest.fixture
def reply(client, service_headers):
    """reply(token) -> the JSON answer of POST /reply (asserting a 200)."""

    def call(token_id, expect=200):
        resp = client.post("/reply", json={"reply_token": token_id}, headers=service_headers)
        assert resp.status_code == expect, resp.get_json()
        return resp.get_json()

    return call
