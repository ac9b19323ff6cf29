"""The inbox: every chat of the tenant with its state at a glance, filters,
search by name or number in any format, pages, the polled fragment, and
nothing of another tenant."""
from __future__ import annotations

import re

import pytest

from tests.service.console.conftest import make_chat


def rows_of(html: str) -> list[tuple[str, str]]:
    """(data-chat, data-state) of each chat-row, in order."""
    return re.findall(r'data-testid="chat-row" data-chat="(\d+)" data-state="(\w+)"', html)


def test_the_inbox_shows_each_chat_with_the_state_its_pause_means(as_role, tenant, chats):
    html = as_role("viewer").get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    assert dict(rows_of(html)) == {
        "5511987654321": "active",
        "5511911112222": "paused",
        "5511933334444": "handoff",
        "5511955556666": "off",
    }
    assert "do you open on sunday?" in html
    assert "Ana Souza" in html
    assert "+55 11 98765-4321" in html
    assert "a person wrote — back at" in html


def test_a_chat_paused_by_hand_in_the_api_or_console_shows_as_paused(as_role, tx, tenant):
    tx(make_chat, tenant["id"], "5511900001111", "Fabi", pause=("manual", None), by="user owner@acme.example")
    html = as_role("viewer").get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    assert rows_of(html) == [("5511900001111", "paused")]
    assert "paused by user owner@acme.example until resumed by hand" in html


def test_newest_activity_comes_first(as_role, tx, tenant, chats):
    tx(lambda cur: cur.execute("UPDATE sessions SET updated_at = now() + interval '1 minute' WHERE id = %s",
                               (chats["handoff"]["id"],)))
    html = as_role("viewer").get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    assert rows_of(html)[0] == ("5511933334444", "handoff")


@pytest.mark.parametrize("state, number", [("active", "5511987654321"), ("paused", "5511911112222"),
                                           ("handoff", "5511933334444"), ("off", "5511955556666")])
def test_filtering_by_state_lists_only_those_chats(as_role, tenant, chats, state, number):
    html = as_role("viewer").get(f"/console/t/{tenant['id']}/inbox?state={state}").get_data(as_text=True)
    assert rows_of(html) == [(number, state)]


@pytest.mark.parametrize("q", ["+55 11 98765-4321", "5511987654321", "98765-4321", "(11) 98765 4321",
                               "5511987654321@s.whatsapp.net", "ana", "SOUZA"])
def test_search_finds_a_chat_by_name_or_by_number_in_any_format(as_role, tenant, chats, q):
    resp = as_role("viewer").get(f"/console/t/{tenant['id']}/inbox", query_string={"q": q})
    assert rows_of(resp.get_data(as_text=True)) == [("5511987654321", "active")]


def test_a_search_with_like_wildcards_matches_them_literally(as_role, tenant, chats):
    resp = as_role("viewer").get(f"/console/t/{tenant['id']}/inbox", query_string={"q": "%"})
    assert rows_of(resp.get_data(as_text=True)) == []
    assert 'data-testid="inbox-empty"' in resp.get_data(as_text=True)


@pytest.mark.parametrize("query, field", [("state=asleep", "state"), ("page=0", "page"), ("page=x", "page"),
                                          ("page=²", "page"), ("q=" + "a" * 101, "q")])
def test_bad_filters_are_a_400_that_names_the_field(as_role, tenant, query, field):
    resp = as_role("viewer").get(f"/console/t/{tenant['id']}/inbox?{query}")
    assert resp.status_code == 400
    assert f"{field} " in resp.get_data(as_text=True)


def test_the_inbox_is_paginated_fifty_chats_a_page(as_role, tx, tenant):
    def many(cur):
        for i in range(55):
            make_chat(cur, tenant["id"], f"55119000{i:05d}", f"Customer {i}")

    tx(many)
    client = as_role("viewer")
    first = client.get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    assert len(rows_of(first)) == 50
    assert 'data-testid="inbox-next"' in first
    second = client.get(f"/console/t/{tenant['id']}/inbox?page=2").get_data(as_text=True)
    assert len(rows_of(second)) == 5
    assert not set(rows_of(first)) & set(rows_of(second))


def test_the_list_is_a_fragment_htmx_polls_every_few_seconds(as_role, tenant, chats):
    client = as_role("viewer")
    page = client.get(f"/console/t/{tenant['id']}/inbox?state=off").get_data(as_text=True)
    assert f'hx-get="/console/t/{tenant["id"]}/inbox/rows?state=off"' in page
    assert 'hx-trigger="every 3s' in page
    fragment = client.get(f"/console/t/{tenant['id']}/inbox/rows?state=off", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert "<html" not in html
    assert rows_of(html) == [("5511955556666", "off")]


def test_another_tenants_chats_never_appear_and_its_inbox_is_a_404(as_role, tenant, other_tenant, chats):
    client = as_role("owner")
    html = client.get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    assert "5521977778888" not in html
    for tenant_id in (other_tenant["id"], "00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert client.get(f"/console/t/{tenant_id}/inbox").status_code == 404


def test_the_team_link_is_shown_to_owners_only(as_role, tenant):
    owner = as_role("owner").get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    agent = as_role("agent").get(f"/console/t/{tenant['id']}/inbox").get_data(as_text=True)
    assert 'data-testid="nav-team"' in owner
    assert 'data-testid="nav-team"' not in agent
    assert 'data-testid="nav-settings"' in agent
