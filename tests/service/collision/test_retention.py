"""Retention: POST /cron/prune deletes what is older than each tenant's
retention_days (events, messages, and the sends, reply tokens and LID
aliases that belong to them) and nothing newer, a small batch at a time,
while webhooks keep coming in. The clock is controlled two ways: rows are
stamped into the past, or core.retention is given a `now` of the test's."""
from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import timedelta

import pytest

from python_services.collision.app import create_app
from python_services.common.db import close_pool
from python_services.core.events import database_now
from python_services.core.retention import Pruning, prune_tenant_data
from tests.conftest import WEBHOOK_SECRET
from tests.rows import rows

from .conftest import fresh

TABLES = ("events", "messages", "reply_tokens", "outbound", "chat_aliases")
_ids = itertools.count(1)


@pytest.fixture
def pruner(service_config, service_headers):
    """pruner(batch_size, max_batches) -> call(): POST /cron/prune on an app
    with that budget, answering the JSON."""
    apps = []

    def make(batch_size=500, max_batches=20, **config):
        app = create_app({**service_config, "prune_batch_size": batch_size, "prune_max_batches": max_batches,
                          **config})
        apps.append(app)
        client = app.test_client()

        def call(headers=service_headers):
            resp = client.post("/cron/prune", headers=headers)
            assert resp.status_code == 200, resp.get_data(as_text=True)
            return resp.get_json()

        return call

    yield make
    for app in apps:
        close_pool(app)


def say(deliver, number: str, text="oi", fixture="01_customer_text_pn", secret=WEBHOOK_SECRET) -> dict:
    """A customer message of chat `number` through the webhook; its answer."""
    body = fresh(fixture, key_id=f"RET{next(_ids):08d}", message={"conversation": text})
    key = body["data"]["key"]
    if fixture.startswith("02"):  # the chat's LID, with its phone beside it: an alias is remembered
        key["remoteJid"], key["remoteJidAlt"] = f"{number[-9:]}0000@lid", f"{number}@s.whatsapp.net"
    else:
        key["remoteJid"], key["remoteJidAlt"] = f"{number}@s.whatsapp.net", None
    resp = deliver(body, secret=secret)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def bot_answered(db_conn, tenant_id, number: str) -> None:
    """The chat's open reply sent, as the evolution service records it: a
    `sent` row in the ledger and the bot's message in history."""
    chat = f"{number}@s.whatsapp.net"
    wa_id = f"BOT{next(_ids):08d}"
    with db_conn.cursor() as cur:
        cur.execute("SELECT id, session_id FROM reply_tokens WHERE tenant_id = %s AND chat_id = %s AND state = 'pending'",
                    (tenant_id, chat))
        token = cur.fetchone()
        cur.execute("UPDATE reply_tokens SET state = 'sent', finished_at = now() WHERE id = %s", (token["id"],))
        cur.execute("INSERT INTO outbound (tenant_id, chat_id, reply_token_id, text, state, wa_message_id,"
                    " confirmed_at) VALUES (%s, %s, %s, 'olá!', 'sent', %s, now())",
                    (tenant_id, chat, token["id"], wa_id))
        cur.execute("INSERT INTO messages (tenant_id, session_id, chat_id, wa_message_id, author, message_type, text,"
                    " sent_at, reply_token_id) VALUES (%s, %s, %s, %s, 'bot', 'conversation', 'olá!', now(), %s)",
                    (tenant_id, token["session_id"], chat, wa_id, token["id"]))


def chat_days_old(db_conn, tenant_id, number: str, days: float) -> None:
    """Moves one chat's rows `days` into the past, as if it had gone quiet then."""
    chat = f"{number}@s.whatsapp.net"
    ago = "now() - make_interval(secs => %s)"
    secs = days * 86400
    with db_conn.cursor() as cur:
        cur.execute(f"UPDATE events SET received_at = {ago} WHERE tenant_id = %s AND chat_id = %s",
                    (secs, tenant_id, chat))
        cur.execute(f"UPDATE messages SET created_at = {ago}, sent_at = {ago} WHERE tenant_id = %s AND chat_id = %s",
                    (secs, secs, tenant_id, chat))
        cur.execute(f"UPDATE reply_tokens SET created_at = {ago} WHERE tenant_id = %s AND chat_id = %s",
                    (secs, tenant_id, chat))
        cur.execute(f"UPDATE outbound SET claimed_at = {ago} WHERE tenant_id = %s AND chat_id = %s",
                    (secs, tenant_id, chat))
        cur.execute(f"UPDATE chat_aliases SET created_at = {ago} WHERE tenant_id = %s AND chat_id = %s",
                    (secs, tenant_id, chat))
        cur.execute(f"UPDATE sessions SET updated_at = {ago}, last_customer_at = {ago}, last_bot_at = NULL"
                    " WHERE tenant_id = %s AND chat_id = %s", (secs, secs, tenant_id, chat))


def counts(db_conn, number: str) -> dict:
    chat = f"{number}@s.whatsapp.net"
    return {t: rows(db_conn, f"SELECT count(*) AS n FROM {t} WHERE chat_id = %s", chat)[0]["n"] for t in TABLES}


def a_chat(deliver, db_conn, tenant, number: str, messages: int = 3, days_old: float = 0) -> dict:
    """A chat with a LID alias, `messages` customer messages (one reply token
    each, all but the last superseded), the bot's answer (a send and its
    message), `days_old` days ago; its row counts."""
    say(deliver, number, "primeira", fixture="02_customer_text_lid_with_phone_in_remoteJidAlt")
    for i in range(messages - 1):
        say(deliver, number, f"mensagem {i}")
    bot_answered(db_conn, tenant["id"], number)
    if days_old:
        chat_days_old(db_conn, tenant["id"], number, days_old)
    made = counts(db_conn, number)
    assert all(made.values()), made
    return made


NOTHING = dict.fromkeys(TABLES, 0)


# ---------------------------------------------------------------- what goes, what stays


def test_pruning_removes_what_is_older_than_retention_days_and_nothing_newer(
        pruner, deliver, db_conn, make_tenant):
    tenant = make_tenant(settings={"retention_days": 30})
    a_chat(deliver, db_conn, tenant, "5511900000001", days_old=31)
    kept_at_29_days = a_chat(deliver, db_conn, tenant, "5511900000002", days_old=29)
    kept_today = a_chat(deliver, db_conn, tenant, "5511900000003")

    answer = pruner(batch_size=2, max_batches=1000)()

    assert counts(db_conn, "5511900000001") == NOTHING
    assert counts(db_conn, "5511900000002") == kept_at_29_days
    assert counts(db_conn, "5511900000003") == kept_today
    assert answer["more"] is False
    assert answer["removed"] == {"events": 3, "messages": 4, "outbound": 1, "reply_tokens": 3, "chat_aliases": 1,
                                 "flow_errors": 0}
    # the chat itself (its pause state) stays
    assert rows(db_conn, "SELECT count(*) AS n FROM sessions")[0]["n"] == 3


def test_each_tenant_keeps_its_own_retention_days(pruner, deliver, db_conn, make_tenant):
    short = make_tenant("short-store", settings={"retention_days": 1})
    default = make_tenant("default-store")
    a_chat(lambda body, secret: deliver({**body, "instance": "short-store"}, secret=secret), db_conn, short,
           "5511900000011", days_old=2)
    kept = a_chat(lambda body, secret: deliver({**body, "instance": "default-store"}, secret=secret), db_conn,
                  default, "5511900000012", days_old=89)

    pruner()()

    assert counts(db_conn, "5511900000011") == NOTHING
    assert counts(db_conn, "5511900000012") == kept


def test_with_the_clock_moved_past_retention_days_everything_goes_and_not_a_day_before(
        app, deliver, db_conn, tenant):
    made = a_chat(deliver, db_conn, tenant, "5511900000021")
    with app.app_context():
        from python_services.common import db

        with db.transaction() as cur:
            now = database_now(cur)
        early = Pruning(batch_size=3, max_batches=1000)
        prune_tenant_data(early, now=now + timedelta(days=89, hours=23))
        assert counts(db_conn, "5511900000021") == made and early.more is False

        late = Pruning(batch_size=3, max_batches=1000)
        prune_tenant_data(late, now=now + timedelta(days=90, minutes=1))
    assert counts(db_conn, "5511900000021") == NOTHING
    assert late.removed == {"events": 3, "messages": 4, "outbound": 1, "reply_tokens": 3, "chat_aliases": 1}


def test_an_open_reply_is_never_pruned(pruner, deliver, db_conn, tenant):
    say(deliver, "5511900000031", "alguém aí?")
    chat_days_old(db_conn, tenant["id"], "5511900000031", 120)

    pruner()()

    left = counts(db_conn, "5511900000031")
    assert left["reply_tokens"] == 1 and left["messages"] == 0 and left["events"] == 0


def test_a_newer_edit_of_a_pruned_message_stays_in_the_timeline(pruner, deliver, db_conn, tenant):
    number = "5511900000041"
    original = say(deliver, number, "pedido 12")
    chat_days_old(db_conn, tenant["id"], number, 100)
    edit = fresh("11_customer_edit_messages_edited", key_id=original["wa_message_id"],
                 timestampMs=str(int(time.time() * 1000)))
    edited = deliver(edit).get_json()
    assert rows(db_conn, "SELECT message_id FROM events WHERE id = %s", edited["event_id"])[0]["message_id"]

    pruner()()

    kept = rows(db_conn, "SELECT id, message_id FROM events WHERE tenant_id = %s", tenant["id"])
    assert kept == [{"id": edited["event_id"], "message_id": None}]


def test_an_alias_of_a_chat_still_talking_is_kept(pruner, deliver, db_conn, tenant):
    number = "5511900000051"
    say(deliver, number, "oi", fixture="02_customer_text_lid_with_phone_in_remoteJidAlt")
    with db_conn.cursor() as cur:
        cur.execute("UPDATE chat_aliases SET created_at = now() - interval '200 days'")
    say(deliver, number, "voltei")

    pruner()()

    assert counts(db_conn, number)["chat_aliases"] == 1


def test_flow_errors_older_than_their_retention_go(pruner, db_conn, clean_db):
    with db_conn.cursor() as cur:
        cur.execute("INSERT INTO flow_errors (workflow_id, message, recorded_at) VALUES"
                    " ('hfInbound0000001', 'old', now() - interval '8 days'),"
                    " ('hfInbound0000001', 'recent', now() - interval '6 days')")

    answer = pruner(FLOW_ERRORS_RETENTION_DAYS="7")()

    assert answer["removed"]["flow_errors"] == 1
    assert [r["message"] for r in rows(db_conn, "SELECT message FROM flow_errors")] == ["recent"]


# ---------------------------------------------------------------- in batches, while webhooks flow


def test_pruning_goes_in_small_batches_and_webhooks_are_recorded_between_them(pruner, deliver, db_conn, tenant):
    a_chat(deliver, db_conn, tenant, "5511900000061", messages=6, days_old=91)
    prune_once = pruner(batch_size=2, max_batches=1)

    answers, during = [], 0
    while True:
        answers.append(prune_once())
        assert answers[-1]["total"] <= 2 and answers[-1]["batches"] <= 1
        # a webhook between two batches: recorded, decided, kept
        assert say(deliver, "5511900000062", f"entre lotes {during}")["decision"] == "reply"
        during += 1
        if not answers[-1]["more"]:
            break
        assert len(answers) < 50

    assert counts(db_conn, "5511900000061") == NOTHING
    assert len(answers) > 5
    assert counts(db_conn, "5511900000062")["events"] == during
    assert counts(db_conn, "5511900000062")["messages"] == during


def test_webhooks_keep_flowing_while_a_long_prune_runs(pruner, deliver, db_conn, tenant):
    a_chat(deliver, db_conn, tenant, "5511900000071", messages=40, days_old=91)
    statuses, stop = [], threading.Event()

    def customer_keeps_writing():
        while not stop.is_set():
            body = fresh("01_customer_text_pn", key_id=f"FLOW{uuid.uuid4().hex[:12]}",
                         key_remoteJid="5511900000072@s.whatsapp.net")
            statuses.append(deliver(body).status_code)

    writer = threading.Thread(target=customer_keeps_writing)
    writer.start()
    try:
        answer = pruner(batch_size=1, max_batches=10_000)()
    finally:
        stop.set()
        writer.join()

    assert answer["more"] is False and answer["batches"] > 80
    assert counts(db_conn, "5511900000071") == NOTHING
    assert statuses and set(statuses) == {200}
    assert counts(db_conn, "5511900000072")["events"] == len(statuses)


def test_a_call_stops_at_its_budget_and_says_more_is_left(pruner, deliver, db_conn, tenant):
    a_chat(deliver, db_conn, tenant, "5511900000081", messages=5, days_old=91)
    answer = pruner(batch_size=1, max_batches=3)()
    assert answer == {**answer, "batches": 3, "total": 3, "more": True}
    assert answer["removed"]["events"] == 3


# ---------------------------------------------------------------- the endpoint and the setting


def test_pruning_needs_the_service_or_admin_token(pruner, admin_headers, app):
    call = pruner()
    assert call(admin_headers)["more"] is False
    assert app.test_client().post("/cron/prune").status_code == 401


def test_the_api_says_what_is_kept_for_how_long(app, admin_headers, make_tenant):
    tenant = make_tenant(settings={"retention_days": 30})
    shown = app.test_client().get(f"/api/tenants/{tenant['id']}", headers=admin_headers).get_json()
    assert shown["effective_settings"]["retention_days"] == 30
    assert shown["retention"]["retention_days"] == 30
    assert "30 days" in shown["retention"]["kept"]


def test_retention_days_defaults_to_90(app, admin_headers, tenant):
    shown = app.test_client().get(f"/api/tenants/{tenant['id']}", headers=admin_headers).get_json()
    assert shown["effective_settings"]["retention_days"] == 90


@pytest.mark.parametrize("value", [0, -1, 3651, 1.5, "30", True, None])
def test_a_bad_retention_days_is_refused(app, admin_headers, tenant, value):
    resp = app.test_client().patch(f"/api/tenants/{tenant['id']}", headers=admin_headers,
                                   json={"settings": {"retention_days": value}})
    if value is None:  # null puts the default back
        assert resp.status_code == 200
        return
    assert resp.status_code == 400
    assert resp.get_json()["error"]["field"] == "settings.retention_days"
