"""A chat: the conversation among the decisions in plain words, who did
what, pause / resume / bot off with the role checked on the server and CSRF
on every POST, another tenant's chat unreachable, the older entries a page
at a time."""
from __future__ import annotations

import re

import pytest

from python_services.core import events, messages
from tests.service.console.conftest import csrf_token_of, log_in, timeline_rows


def chat_url(tenant, chat, tail=""):
    return f"/console/t/{tenant['id']}/chats/{chat['id']}{tail}"


def state_of(html: str) -> str:
    return re.search(r'data-testid="chat-state" data-state="(\w+)"', html).group(1)


def test_the_chat_page_shows_the_conversation_and_each_decision(as_role, tx, tenant, chats):
    chat = chats["active"]

    def bot_replied(cur):
        messages.store_bot_reply(cur, tenant_id=tenant["id"], session_id=chat["id"], chat_id=chat["chat_id"],
                                 wa_message_id="BOT-1", text="Yes, from 9 to 13.", reply_token_id=None)

    tx(bot_replied)
    html = as_role("viewer").get(chat_url(tenant, chat)).get_data(as_text=True)
    assert state_of(html) == "active"
    assert re.findall(r'data-testid="timeline-entry" data-decision="(\w+)"', html) == ["reply"]
    assert "do you open on sunday?" in html
    assert "Yes, from 9 to 13." in html  # the bot's reply, carried by no event
    assert 'data-testid="timeline-message"' in html


def test_a_takeover_reads_as_stayed_quiet_until_when(as_role, tx, tenant, chats):
    chat = chats["paused"]

    def person_wrote(cur):
        cur.execute(
            "INSERT INTO events (tenant_id, event_type, chat_id, from_me, author, decision, reason)"
            " VALUES (%s, 'messages.upsert', %s, true, 'business', 'human_takeover',"
            " 'a person wrote; bot paused until 2030-01-01T16:02:00+00:00')", (tenant["id"], chat["chat_id"]))
        cur.execute(
            "INSERT INTO events (tenant_id, event_type, chat_id, author, decision, reason, dedupe_key)"
            " VALUES (%s, 'messages.upsert', %s, 'customer', 'duplicate', 'already handled as event 1', 'x')",
            (tenant["id"], chat["chat_id"]))

    tx(person_wrote)
    html = as_role("viewer").get(chat_url(tenant, chat)).get_data(as_text=True)
    assert "stayed quiet: a person of the business wrote at" in html
    assert "back at 01 Jan 2030 16:02" in html
    assert "by the owner&#39;s phone" in html
    assert "duplicate delivery ignored" in html
    assert state_of(html) == "paused"


def test_a_cancelled_reply_says_someone_wrote_first(as_role, tx, tenant, chats):
    chat = chats["paused"]

    def cancelled(cur):
        cur.execute(
            "INSERT INTO reply_tokens (tenant_id, session_id, chat_id, state, reason, deadline_at, finished_at)"
            " VALUES (%s, %s, %s, 'cancelled', 'human_takeover', now(), now())",
            (tenant["id"], chat["id"], chat["chat_id"]))

    tx(cancelled)
    html = as_role("viewer").get(chat_url(tenant, chat)).get_data(as_text=True)
    assert 'data-testid="reply-outcome" data-state="cancelled"' in html
    assert "reply cancelled: someone wrote first" in html


def test_a_viewer_sees_no_buttons_and_a_forged_post_is_403(as_role, tenant, chats):
    client = as_role("viewer")
    html = client.get(chat_url(tenant, chats["paused"])).get_data(as_text=True)
    for testid in ("pause-chat", "resume-chat", "bot-off-chat"):
        assert f'data-testid="{testid}"' not in html
    for change in ("pause", "resume", "off"):
        assert client.post(chat_url(tenant, chats["paused"], f"/{change}")).status_code == 403
    html = client.get(chat_url(tenant, chats["paused"])).get_data(as_text=True)
    assert state_of(html) == "paused"


def test_an_agent_pauses_a_chat_and_the_timeline_names_them(as_role, tx, people, tenant, chats):
    chat = chats["active"]
    client = as_role("agent")
    html = client.get(chat_url(tenant, chat)).get_data(as_text=True)
    assert 'data-testid="pause-chat"' in html
    assert 'data-testid="resume-chat"' not in html
    resp = client.post(chat_url(tenant, chat, "/pause"), headers={"HX-Request": "true"})
    assert resp.status_code == 200
    assert state_of(resp.get_data(as_text=True)) == "paused"
    assert 'data-testid="resume-chat"' in resp.get_data(as_text=True)
    row = tx(timeline_rows, tenant["id"], chat["chat_id"])[0]
    assert (row["event_type"], row["actor"]) == ("hybridflow.chat_paused", f"user {people['agent']}")
    html = client.get(chat_url(tenant, chat)).get_data(as_text=True)
    assert f"paused by user {people['agent']} until resumed by hand" in html


def test_resume_and_bot_off_do_what_they_say(as_role, tx, people, tenant, chats):
    client = as_role("owner")
    resp = client.post(chat_url(tenant, chats["handoff"], "/resume"))
    assert resp.status_code == 302  # a plain form goes back to the chat
    assert state_of(client.get(resp.headers["Location"]).get_data(as_text=True)) == "active"
    resp = client.post(chat_url(tenant, chats["active"], "/off"), headers={"HX-Request": "true"})
    assert state_of(resp.get_data(as_text=True)) == "off"
    row = tx(timeline_rows, tenant["id"], chats["active"]["chat_id"])[0]
    assert row["actor"] == f"user {people['owner']}"
    assert "bot switched off in this chat" in row["reason"]


def test_a_post_without_the_csrf_token_is_refused(csrf_app, people, tenant, chats):
    client = csrf_app.test_client()
    login_page = client.get("/console/login").get_data(as_text=True)
    assert log_in(client, people["agent"], csrf_token=csrf_token_of(login_page)).status_code == 302
    page = client.get(chat_url(tenant, chats["active"])).get_data(as_text=True)
    refused = client.post(chat_url(tenant, chats["active"], "/pause"))
    assert refused.status_code == 400
    assert "CSRF" in refused.get_data(as_text=True)
    assert state_of(client.get(chat_url(tenant, chats["active"])).get_data(as_text=True)) == "active"
    # htmx sends the page's token as a header
    done = client.post(chat_url(tenant, chats["active"], "/pause"),
                       headers={"HX-Request": "true", "X-CSRFToken": csrf_token_of(page)})
    assert done.status_code == 200
    assert state_of(done.get_data(as_text=True)) == "paused"


def test_a_login_without_the_csrf_token_is_refused_too(csrf_app, people):
    resp = log_in(csrf_app.test_client(), people["owner"])
    assert resp.status_code == 400


@pytest.mark.parametrize("which", ["other", "unknown", "malformed"])
def test_another_tenants_chat_is_a_404_to_read_and_to_pause(as_role, tenant, chats, which):
    session_id = {"other": chats["other"]["id"], "unknown": "00000000-0000-0000-0000-000000000000",
                  "malformed": "nope"}[which]
    client = as_role("owner")
    base = f"/console/t/{tenant['id']}/chats/{session_id}"
    assert client.get(base).status_code == 404
    assert client.get(base + "/timeline").status_code == 404
    assert client.post(base + "/pause").status_code == 404


def test_a_long_chat_shows_its_newest_page_and_a_link_to_older_entries(as_role, tx, tenant, chats):
    chat = chats["active"]

    def many(cur):
        for i in range(250):
            events.record_tenant_event(cur, tenant["id"], "hybridflow.test", f"entry {i}", chat_id=chat["chat_id"])

    tx(many)
    client = as_role("viewer")
    html = client.get(chat_url(tenant, chat)).get_data(as_text=True)
    assert html.count('data-testid="timeline-entry"') == 100
    assert "entry 249" in html and "entry 149" not in html
    older = re.search(r'href="([^"]+\?before=\d+)" data-testid="show-older"', html).group(1)
    html = client.get(older).get_data(as_text=True)
    assert html.count('data-testid="timeline-entry"') == 100
    assert "entry 149" in html and "entry 249" not in html and "entry 49" not in html
    assert 'hx-get' not in html.split('id="chat-timeline"')[1].split(">")[0]  # an older page is not polled


def test_a_bad_before_is_a_400_naming_it(as_role, tenant, chats):
    client = as_role("viewer")
    assert client.get(chat_url(tenant, chats["active"], "?before=abc")).status_code == 400
    # a digit that is not ASCII ("²".isdigit() is true; int() refuses it)
    assert client.get(chat_url(tenant, chats["active"], "?before=²")).status_code == 400
    resp = client.get(chat_url(tenant, chats["active"], "?before=999999"))
    assert resp.status_code == 400
    assert "before must be" in resp.get_data(as_text=True)


def test_state_and_timeline_are_fragments_htmx_polls(as_role, tenant, chats):
    client = as_role("viewer")
    html = client.get(chat_url(tenant, chats["off"])).get_data(as_text=True)
    assert f'hx-get="{chat_url(tenant, chats["off"], "/state")}"' in html
    assert f'hx-get="{chat_url(tenant, chats["off"], "/timeline")}"' in html
    state = client.get(chat_url(tenant, chats["off"], "/state"), headers={"HX-Request": "true"})
    assert state_of(state.get_data(as_text=True)) == "off"
    assert "<html" not in state.get_data(as_text=True)


def test_a_page_outside_the_console_does_not_replace_the_csrf_secret_of_its_forms(csrf_app, people):
    client = csrf_app.test_client()
    token = csrf_token_of(client.get("/console/login").get_data(as_text=True))
    stray = client.get("/favicon.ico")  # browsers ask for it; its 404 page must not reset the secret
    assert stray.status_code == 404
    assert not any(c.startswith("hf_console_csrf=") for c in stray.headers.getlist("Set-Cookie"))
    assert log_in(client, people["owner"], csrf_token=token).status_code == 302
