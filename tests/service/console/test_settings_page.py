"""The settings page: grouped fields named after the settings keys, a
preview of the prompt, saving only what changed (merged, never replaced;
a secret left empty stays), each wrong field with its message beside it
and nothing saved, owners only (a viewer's forged POST is 403), the change
in the timeline, another tenant's page a 404."""
from __future__ import annotations

import re

import pytest

from python_services.console.settings_fields import shown_groups
from python_services.console.settings_form import current_values
from python_services.core import tenants
from python_services.core.settings import DEFAULT_SETTINGS
from tests.service.console.conftest import csrf_token_of, log_in


def url(tenant):
    return f"/console/t/{tenant['id']}/settings"


@pytest.fixture
def stored(app, tx):
    """stored(tenant): its row as the services read it (secrets opened with the app's keyring)."""

    def read(tenant) -> dict:
        with app.app_context():
            return tx(tenants.by_id, tenant["id"])

    return read


def form_as_shown(tenant: dict) -> dict:
    """What the browser posts when the owner saves without touching anything."""
    form = {}
    for _, _, fields in shown_groups():
        for field in fields:
            value = current_values(tenant)[field.key]
            if field.widget == "check":
                if value:
                    form[field.key] = "on"
            elif field.widget == "choices":
                form[field.key] = list(value)
            elif field.widget == "texts":
                form.update({f"{field.key}.{sub}": text for sub, text in value.items()})
            elif field.widget == "hours":
                if value["always"]:
                    form[f"{field.key}.always"] = "on"
                form.update({f"{field.key}.{day}": text for day, text in value.items() if day != "always"})
            else:
                form[field.key] = value
    return form


def error_of(html: str, key: str) -> str | None:
    found = re.search(rf'data-testid="error-{re.escape(key)}"[^>]*>([^<]*)<', html)
    return found.group(1) if found else None


def test_the_page_shows_each_group_with_inputs_named_after_the_keys(as_role, tenant):
    html = as_role("viewer").get(url(tenant)).get_data(as_text=True)
    assert 'data-testid="settings-form"' in html
    for title in ("The assistant", "Timing", "Words", "Chats to ignore"):
        assert f">{title}</h2>" in html
    for key in ("system_prompt", "debounce_seconds", "resume_after_minutes", "handoff_keywords", "ignore_groups",
                "ignore_jids", "owner_commands.pause", "fallback_providers"):
        assert f'name="{key}"' in html
    # the prompt as the model receives it: the tenant's text filled in, then HybridFlow's rules
    assert "You are the assistant of Acme Store." in html
    assert "Rules for every reply (added by HybridFlow)" in html


def test_settings_of_later_issues_show_only_once_they_exist(as_role, tenant, monkeypatch):
    assert 'name="business_hours.mon"' in as_role("viewer").get(url(tenant)).get_data(as_text=True)
    without = {k: v for k, v in DEFAULT_SETTINGS.items() if k != "business_hours"}
    monkeypatch.setattr("python_services.console.settings_fields.DEFAULT_SETTINGS", without)
    html = as_role("viewer").get(url(tenant)).get_data(as_text=True)
    assert 'name="business_hours.mon"' not in html
    assert 'name="holidays"' in html


def test_a_setting_no_group_names_yet_shows_under_more_settings(monkeypatch):
    monkeypatch.setattr("python_services.console.settings_fields.DEFAULT_SETTINGS",
                        {**DEFAULT_SETTINGS, "future_limit": 5, "future_rules": {"a": 1}})
    slug, title, fields = shown_groups()[-1]
    assert title == "More settings"
    assert [(f.key, f.widget) for f in fields] == [("future_limit", "number"), ("future_rules", "json")]


def test_saving_stores_only_the_keys_that_changed(as_role, tx, tenant, stored):
    form = {**form_as_shown(tenant), "debounce_seconds": "7", "handoff_keywords": "person\nmanager",
            "system_prompt": "You sell shoes at {business_name}."}
    resp = as_role("owner").post(url(tenant), data=form)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert 'data-testid="settings-saved"' in resp.get_data(as_text=True)
    row = stored(tenant)
    assert row["settings"] == {"debounce_seconds": 7, "handoff_keywords": ["person", "manager"]}
    assert row["system_prompt"] == "You sell shoes at {business_name}."


def test_saving_merges_with_what_is_stored_and_keeps_the_secret_left_empty(app, as_role, tx, tenant, db_conn, stored):
    with app.app_context():
        tx(tenants.update, tenant["id"], {"settings": {"llm_api_key": "sk-secret-123456", "typing": False}})
    page = as_role("owner").get(url(tenant)).get_data(as_text=True)
    assert "sk-secret-123456" not in page
    assert "****3456" in page  # that a key is set, masked
    current = stored(tenant)
    resp = as_role("owner").post(url(tenant), data={**form_as_shown(current), "resume_after_minutes": "30"})
    assert resp.status_code == 200
    assert stored(tenant)["settings"] == {"llm_api_key": "sk-secret-123456", "typing": False,
                                              "resume_after_minutes": 30}


def test_a_save_is_in_the_timeline_naming_who_and_which_fields_never_the_values(as_role, tx, tenant, db_conn):
    as_role("owner").post(url(tenant), data={**form_as_shown(tenant), "debounce_seconds": "9",
                                             "llm_api_key": "sk-new-secret-999"})
    with db_conn.cursor() as cur:
        cur.execute("SELECT reason, actor FROM events WHERE tenant_id = %s"
                    " AND event_type = 'hybridflow.tenant_changed'", (tenant["id"],))
        rows = cur.fetchall()
    assert len(rows) == 1
    assert rows[0]["actor"] == "user owner@acme.example"
    assert "settings.debounce_seconds" in rows[0]["reason"] and "settings.llm_api_key" in rows[0]["reason"]
    assert "sk-new-secret" not in rows[0]["reason"]


def test_saving_nothing_changed_records_nothing(as_role, tx, tenant, db_conn, stored):
    resp = as_role("owner").post(url(tenant), data=form_as_shown(tenant))
    assert "Nothing changed." in resp.get_data(as_text=True)
    assert stored(tenant)["settings"] == {}
    with db_conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM events WHERE tenant_id = %s", (tenant["id"],))
        assert cur.fetchone()["n"] == 0


@pytest.mark.parametrize("key, value, words", [
    ("debounce_seconds", "999", "between 0 and 300"),
    ("debounce_seconds", "soon", "must be a number"),
    ("timezone", "Mars/Olympus", "unknown time zone"),
    ("business_hours.mon", "9 to 5", "Monday: write times like 09:00-12:00"),
    ("owner_commands.pause", "", "pause: write something"),
    ("llm_provider", "skynet", "Input should be"),
])
def test_a_bad_value_shows_its_message_beside_the_field_and_saves_nothing(as_role, tenant, key, value, words,
                                                                         stored):
    form = {**form_as_shown(tenant), key: value, "resume_after_minutes": "45"}
    form.pop("business_hours.always", None)  # the hours are read only when the box is not ticked
    resp = as_role("owner").post(url(tenant), data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    message = error_of(html, key.split(".")[0])
    assert message is not None and words in message, message
    assert stored(tenant)["settings"] == {}  # the good field beside it was not saved either
    assert re.search(r'name="resume_after_minutes"[^>]*value="45"', html)  # what was typed stays, to correct


def test_a_rule_over_two_fields_speaks_beside_the_first(as_role, tx, tenant, stored):
    resp = as_role("owner").post(url(tenant), data={**form_as_shown(tenant), "typing_min_ms": "4000",
                                                     "typing_max_ms": "1000"})
    assert resp.status_code == 400
    assert "must not exceed typing_max_ms" in (error_of(resp.get_data(as_text=True), "typing_min_ms") or "")
    assert stored(tenant)["settings"] == {}


def test_opening_hours_are_written_per_day(as_role, tx, tenant, stored):
    form = {**form_as_shown(tenant), "business_hours.mon": "09:00-12:00, 14:00-18:00",
            "business_hours.sat": "9:00-13:00"}
    form.pop("business_hours.always")
    assert as_role("owner").post(url(tenant), data=form).status_code == 200
    assert stored(tenant)["settings"]["business_hours"] == {"mon": [["09:00", "12:00"], ["14:00", "18:00"]],
                                                                "sat": [["09:00", "13:00"]]}


@pytest.mark.parametrize("role", ["viewer", "agent"])
def test_others_read_the_settings_but_a_forged_post_is_403(as_role, tx, tenant, role, stored):
    client = as_role(role)
    html = client.get(url(tenant)).get_data(as_text=True)
    assert 'data-testid="settings-save"' not in html
    assert "<fieldset disabled" in html
    resp = client.post(url(tenant), data={**form_as_shown(tenant), "debounce_seconds": "5"})
    assert resp.status_code == 403
    assert stored(tenant)["settings"] == {}


def test_another_tenants_settings_are_a_404(as_role, tx, other_tenant, stored):
    client = as_role("owner")
    assert client.get(url(other_tenant)).status_code == 404
    assert client.post(url(other_tenant), data={"debounce_seconds": "5"}).status_code == 404
    assert stored(other_tenant)["settings"] == {}


def test_the_form_posts_with_its_csrf_token_and_not_without(csrf_app, people, tx, tenant, stored):
    client = csrf_app.test_client()
    login_page = client.get("/console/login").get_data(as_text=True)
    log_in(client, people["owner"], csrf_token=csrf_token_of(login_page))
    page = client.get(url(tenant)).get_data(as_text=True)
    form = {**form_as_shown(tenant), "debounce_seconds": "4"}
    assert client.post(url(tenant), data=form).status_code == 400
    assert stored(tenant)["settings"] == {}
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(url(tenant), data={**form, "csrf_token": token}).status_code == 200
    assert stored(tenant)["settings"] == {"debounce_seconds": 4}
