"""Fixtures of the console: the app (CSRF off, except where a test turns it
on), a tenant with an owner, an agent and a viewer, a second tenant with its
own owner, logged-in clients, and chats in each kind of state."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from python_services.common.db import close_pool
from python_services.console.app import create_app
from python_services.core import accounts, events, ledger, messages, sessions

PASSWORD = "correct horse battery staple"
CONSOLE_KEY = "console-test-key"


def console_config(service_config, **extra) -> dict:
    return {**service_config, "CONSOLE_SECRET_KEY": CONSOLE_KEY, "WTF_CSRF_ENABLED": False, **extra}


@pytest.fixture
def app(service_config):
    app = create_app(console_config(service_config))
    yield app
    close_pool(app)


@pytest.fixture
def csrf_app(service_config):
    """The console as it runs: every POST needs its CSRF token."""
    app = create_app(console_config(service_config, WTF_CSRF_ENABLED=True))
    yield app
    close_pool(app)


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("acme-store", business_name="Acme Store")


@pytest.fixture
def other_tenant(make_tenant):
    return make_tenant("other-shop", business_name="Other Shop")


@pytest.fixture
def people(tx, tenant, other_tenant):
    """{"owner", "agent", "viewer", "stranger"}: e-mails; the stranger owns the other tenant only."""
    made = {}
    for role in ("owner", "agent", "viewer"):
        made[role] = f"{role}@acme.example"
        tx(accounts.add_member, tenant["id"], made[role], PASSWORD, role)
    made["stranger"] = "owner@other.example"
    tx(accounts.add_member, other_tenant["id"], made["stranger"], PASSWORD, "owner")
    return made


def log_in(client, email, password=PASSWORD, **form):
    return client.post("/console/login", data={"email": email, "password": password, **form})


@pytest.fixture
def as_role(app, people):
    """as_role("agent") -> a test client logged in as that person."""

    def client_for(role):
        client = app.test_client()
        resp = log_in(client, people[role])
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return client_for


def csrf_token_of(html: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


# ---------------------------------------------------------------- chats

NOW = datetime.now(UTC)


def make_chat(cur, tenant_id, number: str, name: str, *, said: str = "hello", pause: tuple | None = None,
              by: str | None = None) -> dict:
    """A chat whose customer wrote `said` (a message and its event), paused
    (reason, until) when given."""
    chat_id = f"{number}@s.whatsapp.net"
    session = sessions.lock(cur, tenant_id, chat_id, name)
    message_id = messages.store(cur, tenant_id=tenant_id, session_id=session["id"], chat_id=chat_id,
                                wa_message_id=f"WA-{number}", author="customer", message_type="conversation",
                                text=said, sent_at=NOW, raw={}, reply_token_id=None)
    cur.execute(
        "INSERT INTO events (tenant_id, event_type, chat_id, wa_message_id, from_me, author, decision, reason,"
        " message_id) VALUES (%s, 'messages.upsert', %s, %s, false, 'customer', 'reply',"
        " 'customer message in an active chat', %s)",
        (tenant_id, chat_id, f"WA-{number}", message_id),
    )
    if pause:
        reason, until = pause
        ledger.pause_session(cur, tenant_id, chat_id, reason, until, by=by)
    return sessions.by_chat(cur, tenant_id, chat_id)


@pytest.fixture
def chats(tx, tenant, other_tenant):
    """One chat in each state, and one of the other tenant's."""
    t = tenant["id"]
    return {
        "active": tx(make_chat, t, "5511987654321", "Ana Souza", said="do you open on sunday?"),
        "paused": tx(make_chat, t, "5511911112222", "Bruno", pause=("human_takeover", NOW + timedelta(hours=2))),
        "handoff": tx(make_chat, t, "5511933334444", "Carla", pause=("customer_request", None)),
        "off": tx(make_chat, t, "5511955556666", "Davi", pause=("owner_command", None)),
        "other": tx(make_chat, other_tenant["id"], "5521977778888", "Elisa"),
    }


def timeline_rows(cur, tenant_id, chat_id):
    return events.chat_page(cur, tenant_id, chat_id, 50)
