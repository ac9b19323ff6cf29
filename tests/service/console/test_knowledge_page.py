"""The knowledge page: entries listed and searched with the retrieval every
reply uses; owners add, edit, delete and import files (each change in the
timeline); a bad entry or file is refused with the message beside its field
and nothing stored; others read only; another tenant's entries a 404."""
from __future__ import annotations

import io
import re

import pytest

from python_services.core import knowledge


def url(tenant, tail=""):
    return f"/console/t/{tenant['id']}/knowledge{tail}"


def add_entry(tx, tenant, title, content, tags=None):
    return tx(knowledge.create, tenant["id"], title=title, content=content, tags=tags or [], language="portuguese",
              actor="test")


def titles(html: str) -> list[str]:
    return re.findall(r'class="knowledge-title"><a href="[^"]+">([^<]+)</a>', html)


def entries(tx, tenant) -> list[dict]:
    return tx(knowledge.listing, tenant["id"])[0]


def test_the_list_shows_every_entry_and_a_search_the_best_match_first(as_role, tx, tenant, people):
    add_entry(tx, tenant, "Horário de funcionamento", "Abrimos de segunda a sexta, das 9h às 18h.")
    add_entry(tx, tenant, "Entrega", "Entregamos em todo o Brasil em até 5 dias úteis.", ["frete"])
    client = as_role("viewer")
    assert sorted(titles(client.get(url(tenant)).get_data(as_text=True))) == ["Entrega", "Horário de funcionamento"]
    found = client.get(url(tenant), query_string={"q": "qual o horario de funcionamento?"}).get_data(as_text=True)
    assert titles(found)[0] == "Horário de funcionamento"


def test_an_owner_adds_an_entry_and_it_is_in_the_timeline(as_role, tx, tenant, people, db_conn):
    resp = as_role("owner").post(url(tenant), data={"title": "Pix", "content": "Aceitamos Pix e cartão.",
                                                    "tags": "pagamento, pix"})
    assert resp.status_code == 303
    page = as_role("owner").get(resp.headers["Location"]).get_data(as_text=True)
    assert "Entry added." in page and titles(page) == ["Pix"]
    assert entries(tx, tenant)[0]["tags"] == ["pagamento", "pix"]
    with db_conn.cursor() as cur:
        cur.execute("SELECT reason FROM events WHERE tenant_id = %s", (tenant["id"],))
        assert cur.fetchone()["reason"] == "knowledge entry 'Pix' added by user owner@acme.example"


@pytest.mark.parametrize("form, field, words", [
    ({"title": "", "content": "something"}, "title", "must not be empty"),
    ({"title": "Pix", "content": "   "}, "content", "must not be empty"),
    ({"title": "x" * 301, "content": "something"}, "title", "at most 300"),
])
def test_a_bad_entry_is_refused_beside_its_field_and_nothing_stored(as_role, tx, tenant, people, form, field, words):
    resp = as_role("owner").post(url(tenant), data=form)
    assert resp.status_code == 400
    message = re.search(rf'data-testid="error-{field}"[^>]*>([^<]*)<', resp.get_data(as_text=True))
    assert message and words in message.group(1)
    assert entries(tx, tenant) == []


def test_an_owner_edits_and_deletes_an_entry(as_role, tx, tenant, people):
    entry = add_entry(tx, tenant, "Entrega", "Em 5 dias.")
    client = as_role("owner")
    page = client.get(url(tenant, f"/{entry['id']}")).get_data(as_text=True)
    assert 'value="Entrega"' in page and "Em 5 dias." in page
    resp = client.post(url(tenant, f"/{entry['id']}"), data={"title": "Entrega", "content": "Em 3 dias.", "tags": ""})
    assert resp.status_code == 303
    assert entries(tx, tenant)[0]["content"] == "Em 3 dias."
    bad = client.post(url(tenant, f"/{entry['id']}"), data={"title": "", "content": "Em 1 dia."})
    assert bad.status_code == 400 and 'data-testid="error-title"' in bad.get_data(as_text=True)
    assert entries(tx, tenant)[0]["content"] == "Em 3 dias."
    assert client.post(url(tenant, f"/{entry['id']}/delete")).status_code == 303
    assert entries(tx, tenant) == []


def test_importing_a_file_adds_its_entries_and_a_bad_one_says_why(as_role, tx, tenant, people):
    client = as_role("owner")
    csv_file = "question,answer\nVocês entregam?,Sim, em todo o Brasil.\nAceitam Pix?,Sim.\n".encode()
    resp = client.post(url(tenant, "/import"), data={"file": (io.BytesIO(csv_file), "faq.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 200
    assert "faq.csv: 2 entries imported" in resp.get_data(as_text=True)
    assert sorted(e["title"] for e in entries(tx, tenant)) == ["Aceitam Pix?", "Vocês entregam?"]
    bad = client.post(url(tenant, "/import"), data={"file": (io.BytesIO(b"\x00\x01"), "faq.exe")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400
    assert re.search(r'id="import-error"[^>]*>[^<]+<', bad.get_data(as_text=True))
    missing = client.post(url(tenant, "/import"), data={}, content_type="multipart/form-data")
    assert missing.status_code == 400 and "choose a file" in missing.get_data(as_text=True)
    assert len(entries(tx, tenant)) == 2


def test_others_read_the_knowledge_base_but_a_forged_change_is_403(as_role, tx, tenant, people):
    entry = add_entry(tx, tenant, "Entrega", "Em 5 dias.")
    client = as_role("agent")
    page = client.get(url(tenant)).get_data(as_text=True)
    assert titles(page) == ["Entrega"] and 'data-testid="knowledge-form-new"' not in page
    assert client.post(url(tenant), data={"title": "x", "content": "y"}).status_code == 403
    assert client.post(url(tenant, f"/{entry['id']}/delete")).status_code == 403
    assert client.post(url(tenant, f"/{entry['id']}"), data={"title": "x", "content": "y"}).status_code == 403
    assert [e["title"] for e in entries(tx, tenant)] == ["Entrega"]


def test_another_tenants_entries_are_a_404(as_role, tx, tenant, other_tenant, people):
    theirs = add_entry(tx, other_tenant, "Segredo", "Só deles.")
    client = as_role("owner")
    assert client.get(url(other_tenant)).status_code == 404
    assert client.get(url(tenant, f"/{theirs['id']}")).status_code == 404
    assert client.post(url(tenant, f"/{theirs['id']}/delete")).status_code == 404
    assert client.post(url(tenant, f"/{theirs['id']}"), data={"title": "x", "content": "y"}).status_code == 404
    assert [e["title"] for e in entries(tx, other_tenant)] == ["Segredo"]


@pytest.mark.parametrize("page", ["²", "0", "x"])
def test_a_bad_page_number_is_a_400_naming_page(as_role, tenant, people, page):
    resp = as_role("viewer").get(f"/console/t/{tenant['id']}/knowledge", query_string={"page": page})
    assert resp.status_code == 400
    assert "page must be" in resp.get_data(as_text=True)
