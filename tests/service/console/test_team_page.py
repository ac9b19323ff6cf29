"""The team page, owners only: people added (checked as the admin API
checks them, the message beside the field) and removed (never the last
owner); API tokens made — the token shown once, then listed without it —
and revoked at once; each change in the timeline; another tenant's people
and tokens a 404; agents and viewers refused on the server."""
from __future__ import annotations

import re

import pytest

from python_services.core import api_tokens, memberships
from tests.service.console.conftest import PASSWORD, log_in


def url(tenant, tail=""):
    return f"/console/t/{tenant['id']}/team{tail}"


def timeline(db_conn, tenant) -> list[str]:
    with db_conn.cursor() as cur:
        cur.execute("SELECT reason FROM events WHERE tenant_id = %s ORDER BY id", (tenant["id"],))
        return [r["reason"] for r in cur.fetchall()]


def test_the_owner_sees_the_people_and_their_roles(as_role, tenant, people):
    html = as_role("owner").get(url(tenant)).get_data(as_text=True)
    shown = dict(re.findall(r'data-testid="person" data-email="([^"]+)">\s*<td>[^<]*</td>\s*<td>(\w+)</td>', html))
    assert shown == {"owner@acme.example": "owner", "agent@acme.example": "agent", "viewer@acme.example": "viewer"}
    assert "owner@other.example" not in html


def test_adding_a_person_gives_them_a_login_with_their_role(as_role, app, tx, tenant, people, db_conn):
    resp = as_role("owner").post(url(tenant, "/people"),
                                 data={"email": "Nina@Acme.example", "password": PASSWORD, "role": "agent"})
    assert resp.status_code == 200
    assert "nina@acme.example added as agent" in resp.get_data(as_text=True)
    roles = {m["email"]: m["role"] for m in tx(memberships.members, tenant["id"])}
    assert roles["nina@acme.example"] == "agent"
    assert "nina@acme.example added as agent by user owner@acme.example" in timeline(db_conn, tenant)
    assert log_in(app.test_client(), "nina@acme.example").status_code == 302


def test_adding_someone_another_shop_has_reads_the_same_as_adding_a_new_person(as_role, tenant, people):
    # the stranger owns the other tenant only: the owner must not learn that the address has an account
    known = as_role("owner").post(url(tenant, "/people"),
                                  data={"email": people["stranger"], "password": PASSWORD, "role": "viewer"})
    new = as_role("owner").post(url(tenant, "/people"),
                                data={"email": "fresh@acme.example", "password": PASSWORD, "role": "viewer"})
    assert known.status_code == new.status_code == 200
    said = [re.search(r'data-testid="team-done">([^<]*)', r.get_data(as_text=True)).group(1) for r in (known, new)]
    assert said == [f"{people['stranger']} added as viewer.", "fresh@acme.example added as viewer."]


@pytest.mark.parametrize("form, field, words", [
    ({"email": "not-an-email", "password": PASSWORD, "role": "agent"}, "email", "e-mail address"),
    ({"email": "new@acme.example", "password": "short", "role": "agent"}, "password", "12"),
    ({"email": "new@acme.example", "role": "agent"}, "password", "password is required"),
    ({"email": "new@acme.example", "password": PASSWORD, "role": "boss"}, "role", "role"),
    ({"email": "agent@acme.example", "password": PASSWORD, "role": "viewer"}, "email", "already belongs"),
])
def test_a_bad_person_is_refused_with_the_message_beside_the_field(as_role, tx, tenant, people, form, field, words):
    resp = as_role("owner").post(url(tenant, "/people"), data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code in (400, 409)
    message = re.search(rf'id="person-{field}-error"[^>]*>([^<]*)<', html)
    assert message and words in message.group(1), html
    assert PASSWORD not in html and 'value="short"' not in html  # a password never comes back
    assert len(tx(memberships.members, tenant["id"])) == 3


def test_removing_a_person_and_never_the_last_owner(as_role, tx, tenant, people):
    members = {m["email"]: m for m in tx(memberships.members, tenant["id"])}
    client = as_role("owner")
    resp = client.post(url(tenant, f"/people/{members['viewer@acme.example']['id']}/remove"))
    assert resp.status_code == 200
    assert "viewer@acme.example removed" in resp.get_data(as_text=True)
    resp = client.post(url(tenant, f"/people/{members['owner@acme.example']['id']}/remove"))
    assert resp.status_code == 409
    assert "last owner" in resp.get_data(as_text=True)
    assert {m["email"] for m in tx(memberships.members, tenant["id"])} == {"owner@acme.example", "agent@acme.example"}


def test_a_token_is_shown_once_then_listed_without_its_secret(as_role, tx, tenant, people, db_conn):
    client = as_role("owner")
    resp = client.post(url(tenant, "/tokens"), data={"name": "crm", "role": "viewer"})
    assert resp.status_code == 201
    assert resp.headers["Cache-Control"] == "no-store"
    token = re.search(r'value="(hft_[^"]+)"', resp.get_data(as_text=True)).group(1)
    assert tx(api_tokens.live, token)["name"] == "crm"  # the token shown is the one that works
    listing = client.get(url(tenant)).get_data(as_text=True)
    assert 'data-testid="token" data-name="crm" data-revoked="false"' in listing
    assert token not in listing
    assert token[:8] in listing  # its first characters, to tell tokens apart
    assert "token 'crm' (viewer) made by user owner@acme.example" in timeline(db_conn, tenant)


def test_a_revoked_token_is_refused_at_once_and_shown_revoked(as_role, tx, tenant, people):
    client = as_role("owner")
    page = client.post(url(tenant, "/tokens"), data={"name": "script", "role": "agent"}).get_data(as_text=True)
    token = re.search(r'value="(hft_[^"]+)"', page).group(1)
    row = tx(api_tokens.live, token)
    resp = client.post(url(tenant, f"/tokens/{row['id']}/revoke"))
    assert resp.status_code == 200
    assert 'data-name="script" data-revoked="true"' in resp.get_data(as_text=True)
    assert tx(api_tokens.live, token) is None


def test_a_second_live_token_of_the_same_name_is_refused_beside_the_name(as_role, tenant, people):
    client = as_role("owner")
    client.post(url(tenant, "/tokens"), data={"name": "crm", "role": "viewer"})
    resp = client.post(url(tenant, "/tokens"), data={"name": "crm", "role": "owner"})
    assert resp.status_code == 409
    assert re.search(r'id="token-name-error"[^>]*>[^<]*live token named', resp.get_data(as_text=True))


def test_another_tenants_people_and_tokens_are_a_404(as_role, tx, tenant, other_tenant, people):
    stranger = next(m for m in tx(memberships.members, other_tenant["id"]))
    theirs = tx(api_tokens.insert, other_tenant["id"], "theirs", "owner", api_tokens.new_token()[0], "test")
    client = as_role("owner")
    assert client.get(url(other_tenant)).status_code == 404
    assert client.post(url(tenant, f"/people/{stranger['id']}/remove")).status_code == 404
    assert client.post(url(tenant, f"/tokens/{theirs['id']}/revoke")).status_code == 404
    assert client.post(url(tenant, "/tokens/not-a-uuid/revoke")).status_code == 404
    assert tx(api_tokens.by_id, other_tenant["id"], theirs["id"])["revoked_at"] is None
    assert len(tx(memberships.members, other_tenant["id"])) == 1


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_have_no_team_page_and_forged_posts_are_403(as_role, tx, tenant, people, role):
    client = as_role(role)
    assert client.get(url(tenant)).status_code == 403
    assert 'data-testid="nav-team"' not in client.get(f"/console/t/{tenant['id']}/settings").get_data(as_text=True)
    assert client.post(url(tenant, "/tokens"), data={"name": "mine", "role": "owner"}).status_code == 403
    assert client.post(url(tenant, "/people"),
                       data={"email": "x@acme.example", "password": PASSWORD, "role": "owner"}).status_code == 403
    assert tx(api_tokens.of_tenant, tenant["id"]) == []
