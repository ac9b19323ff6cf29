"""The knowledge base through the admin API: entries written, read, searched,
rewritten and deleted; files imported (each format, again, and broken);
each tenant's entries its own; who may read and who may write; how often
each entry was used; and the sources of a reply in the timeline."""
from __future__ import annotations

import io

import pytest

from python_services.core import api_tokens, reply_sources
from tests.pdfs import BROKEN, make_pdf
from tests.rows import rows

from .conftest import CHAT


@pytest.fixture
def kb(admin, tenant):
    """kb(method, "/suffix", ...) -> the response of the tenant's knowledge API as the platform admin."""
    base = f"/api/tenants/{tenant['id']}/knowledge"

    def call(method, suffix="", **kw):
        return admin(method, base + suffix, **kw)

    return call


def add(kb, title, content, tags=None):
    resp = kb("POST", json={"title": title, "content": content, **({"tags": tags} if tags is not None else {})})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def upload(kb, filename, data: bytes | str):
    data = data.encode() if isinstance(data, str) else data
    return kb("POST", "/import", data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def titles(kb, **query):
    resp = kb("GET", query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return [e["title"] for e in resp.get_json()["entries"]]


# ---------------------------------------------------------------- one entry at a time


def test_an_entry_is_added_read_rewritten_and_deleted(kb, db_conn):
    made = add(kb, " Opening hours ", "Mon-Fri 9-19.", tags=["hours", "hours", " open "])
    assert (made["title"], made["content"], made["tags"], made["source"]) == (
        "Opening hours", "Mon-Fri 9-19.", ["hours", "open"], None)
    assert (made["used"], made["last_used_at"], made["updated_by"]) == (0, None, "the platform admin")

    assert kb("GET", f"/{made['id']}").get_json() == made

    changed = kb("PUT", f"/{made['id']}", json={"title": "Opening hours", "content": "Mon-Sat 9-19."})
    assert changed.status_code == 200
    assert (changed.get_json()["content"], changed.get_json()["tags"]) == ("Mon-Sat 9-19.", [])

    deleted = kb("DELETE", f"/{made['id']}")
    assert deleted.status_code == 200 and deleted.get_json()["id"] == made["id"]
    assert kb("GET", f"/{made['id']}").status_code == 404
    assert kb("DELETE", f"/{made['id']}").status_code == 404
    # each change is a row of the tenant's timeline naming who made it
    reasons = [r["reason"] for r in rows(db_conn, "SELECT reason FROM events WHERE event_type ="
                                                  " 'hybridflow.knowledge_changed' ORDER BY id")]
    assert reasons == ["knowledge entry 'Opening hours' added by the platform admin",
                       "knowledge entry 'Opening hours' changed by the platform admin",
                       "knowledge entry 'Opening hours' deleted by the platform admin"]


@pytest.mark.parametrize("body, field", [
    ({"content": "no title"}, "title"),
    ({"title": "no content"}, "content"),
    ({"title": "   ", "content": "x"}, "title"),
    ({"title": "x", "content": "x" * 20_001}, "content"),
    ({"title": "x" * 301, "content": "x"}, "title"),
    ({"title": "x", "content": "y", "tags": ["t"] * 21}, "tags"),
    ({"title": "x", "content": "y", "tags": "hours"}, "tags"),
    ({"title": "x", "content": "y", "question": "?"}, "question"),
    ({"title": "x\x00", "content": "y"}, "title"),
])
def test_a_bad_entry_is_refused_naming_the_field(kb, body, field):
    resp = kb("POST", json=body)
    assert resp.status_code == 400 and resp.get_json()["error"]["field"] == field, resp.get_json()


def test_the_list_filters_by_tag_and_source_and_pages(kb):
    add(kb, "Hours", "9-19", tags=["store"])
    add(kb, "Parking", "Next door", tags=["store"])
    add(kb, "Jobs", "Send your CV")
    upload(kb, "faq.md", "# Returns\n30 days.\n# Refunds\n7 days.\n")
    assert titles(kb) == ["Hours", "Jobs", "Parking", "Returns", "Refunds"]
    assert titles(kb, tag="store") == ["Hours", "Parking"]
    assert titles(kb, source="faq.md") == ["Returns", "Refunds"]
    page = kb("GET", query_string={"limit": 2, "offset": 2}).get_json()
    assert ([e["title"] for e in page["entries"]], page["total"]) == (["Parking", "Returns"], 5)


def test_a_search_answers_the_best_entries_with_their_passage(kb):
    add(kb, "Horário de funcionamento", "De segunda a sexta das 9h às 19h; sábado até as 14h.")
    add(kb, "Trocas", "Em até 30 dias, sem uso, com a nota.")
    add(kb, "Estacionamento", "Convênio com o Central Park ao lado.")
    found = kb("GET", query_string={"q": "vcs abrem que horas no sabado?"}).get_json()
    assert [e["title"] for e in found["entries"]][:1] == ["Horário de funcionamento"]
    best = found["entries"][0]
    assert best["score"] > 0 and "sábado" in best["passage"]
    assert kb("GET", query_string={"q": "consertam celular?"}).get_json()["entries"] == []


def test_a_new_knowledge_language_indexes_the_entries_again(admin, kb, tenant, db_conn):
    add(kb, "Trail shoes", "Our trail model runs true to size.")
    # Portuguese (the default) does not know that "running" and "runs" are one verb; English does
    assert titles(kb, q="running") == []
    assert admin("PATCH", f"/api/tenants/{tenant['id']}",
                 json={"settings": {"knowledge_language": "english"}}).status_code == 200
    assert titles(kb, q="running") == ["Trail shoes"]
    assert rows(db_conn, "SELECT language::text FROM knowledge_entries")[0]["language"] == "english"


def test_the_old_knowledge_base_setting_points_to_the_new_api(admin, tenant):
    resp = admin("PATCH", f"/api/tenants/{tenant['id']}",
                 json={"settings": {"knowledge_base": [{"question": "q", "answer": "a"}]}})
    assert resp.status_code == 400
    assert "/knowledge" in resp.get_json()["error"]["message"]
    assert admin("PATCH", f"/api/tenants/{tenant['id']}",
                 json={"settings": {"knowledge_language": "klingon"}}).status_code == 400


# ---------------------------------------------------------------- imports


def test_each_format_is_imported(kb):
    formats = {
        "faq.md": "# Hours\nNine to five.\n\n## Saturdays\nNine to two.\n",
        "faq.txt": "Parking\n\nNext door, one hour free.\n",
        "faq.csv": "question,answer,tags\nDo you deliver?,All of Brazil.,shipping\n",
        "catalogue.pdf": make_pdf([["Runner Azul", "R$ 249,90, sizes 34 to 44."]]),
    }
    for name, data in formats.items():
        resp = upload(kb, name, data)
        assert resp.status_code == 201, resp.get_json()
    assert titles(kb) == ["Runner Azul (p. 1)", "Do you deliver?", "Hours", "Hours › Saturdays", "Parking"]
    csv_entry = kb("GET", query_string={"source": "faq.csv"}).get_json()["entries"][0]
    assert (csv_entry["content"], csv_entry["tags"], csv_entry["source"]) == ("All of Brazil.", ["shipping"], "faq.csv")


def test_importing_the_same_file_again_replaces_its_entries(kb):
    add(kb, "Written by hand", "stays")
    first = upload(kb, "faq.md", "# Hours\n9-17\n# Address\nRua XV\n").get_json()
    assert (first["created"], first["replaced"]) == (2, 0)
    again = upload(kb, "faq.md", "# Hours\n9-19\n# Parking\nNext door\n# Address\nRua XV, 1200\n").get_json()
    assert (again["source"], again["created"], again["replaced"]) == ("faq.md", 3, 2)
    assert [e["title"] for e in again["entries"]] == ["Hours", "Parking", "Address"]
    assert titles(kb) == ["Written by hand", "Hours", "Parking", "Address"]
    # the replaced entries' words are gone from the search
    assert titles(kb, q="9-17") == []


@pytest.mark.parametrize("filename, data, said", [
    ("faq.csv", "question,answer\nHours?,9-19\nParking?\n", "line 3"),
    ("faq.pdf", make_pdf([["fine"], BROKEN]), "page 2"),
    ("faq.pdf", b"not a pdf at all", "not a PDF"),
    ("faq.docx", b"PK\x03\x04", ".md, .txt, .csv and .pdf"),
    ("faq.txt", b"x" * 900_001, "at most 900,000"),
])
def test_a_bad_file_is_refused_saying_where_and_nothing_is_imported(kb, filename, data, said):
    resp = upload(kb, filename, data)
    assert resp.status_code == 400, resp.get_json()
    assert said in resp.get_json()["error"]["message"] and resp.get_json()["error"]["field"] == "file"
    assert titles(kb) == []


def test_an_import_without_a_file_says_how_to_send_one(kb):
    resp = kb("POST", "/import", json={"file": "faq.md"})
    assert resp.status_code == 400 and "multipart/form-data" in resp.get_json()["error"]["message"]


# ---------------------------------------------------------------- who may


@pytest.fixture
def tokens(tx, make_tenant, tenant):
    """A token per role in the tenant, and an owner's token of another tenant."""
    other = make_tenant("other-shop", webhook_secret="other-secret")

    def arrange(cur):
        made = {}
        for role in ("owner", "agent", "viewer"):
            made[role] = api_tokens.new_token()[0]
            api_tokens.insert(cur, tenant["id"], f"{role}-token", role, made[role], "test")
        made["other owner"] = api_tokens.new_token()[0]
        api_tokens.insert(cur, other["id"], "owner-token", "owner", made["other owner"], "test")
        return made

    return tx(arrange)


def test_viewers_and_agents_read_owners_write(app, tenant, tokens, kb):
    entry = add(kb, "Hours", "9-19")
    base = f"/api/tenants/{tenant['id']}/knowledge"
    client = app.test_client()
    for role, may_write in (("viewer", False), ("agent", False), ("owner", True)):
        auth = {"Authorization": f"Bearer {tokens[role]}"}
        assert client.get(base, headers=auth).status_code == 200
        assert client.get(f"{base}/{entry['id']}", headers=auth).status_code == 200
        assert client.get(base, query_string={"q": "hours"}, headers=auth).status_code == 200
        writes = [client.post(base, json={"title": f"{role}", "content": "x"}, headers=auth),
                  client.put(f"{base}/{entry['id']}", json={"title": "Hours", "content": "9-20"}, headers=auth),
                  client.post(f"{base}/import", data={"file": (io.BytesIO(b"# a\nb"), f"{role}.md")},
                              content_type="multipart/form-data", headers=auth)]
        assert [w.status_code for w in writes] == ([201, 200, 201] if may_write else [403, 403, 403]), role
    owner = {"Authorization": f"Bearer {tokens['owner']}"}
    assert client.delete(f"{base}/{entry['id']}", headers=owner).status_code == 200


def test_another_tenants_knowledge_answers_404_as_if_it_did_not_exist(app, tenant, tokens, kb, db_conn):
    entry = add(kb, "Hours", "9-19")
    base = f"/api/tenants/{tenant['id']}/knowledge"
    stranger = {"Authorization": f"Bearer {tokens['other owner']}"}
    client = app.test_client()
    answers = [client.get(base, headers=stranger), client.get(f"{base}/{entry['id']}", headers=stranger),
               client.get(base, query_string={"q": "hours"}, headers=stranger),
               client.post(base, json={"title": "x", "content": "y"}, headers=stranger),
               client.put(f"{base}/{entry['id']}", json={"title": "x", "content": "y"}, headers=stranger),
               client.delete(f"{base}/{entry['id']}", headers=stranger),
               client.post(f"{base}/import", data={"file": (io.BytesIO(b"# a\nb"), "a.md")},
                           content_type="multipart/form-data", headers=stranger)]
    assert [a.status_code for a in answers] == [404] * 7
    # and the other tenant's own id does not reach this tenant's entry either
    other_id = rows(db_conn, "SELECT id FROM tenants WHERE instance_name = 'other-shop'")[0]["id"]
    assert client.get(f"/api/tenants/{other_id}/knowledge/{entry['id']}", headers=stranger).status_code == 404
    assert titles(kb) == ["Hours"]


# ---------------------------------------------------------------- used, and the timeline's sources


def test_the_list_counts_the_replies_each_entry_was_used_for_and_the_timeline_names_them(
        admin, kb, tenant, tx, customer_says, db_conn):
    hours = add(kb, "Opening hours", "9-19")
    returns = add(kb, "Returns", "30 days")
    add(kb, "Never used", "-")
    first, second = customer_says("when do you open?"), customer_says("and returns?")
    tx(reply_sources.record, first, tenant["id"], [{"id": hours["id"], "title": "Opening hours", "score": 2.0},
                                                   {"id": returns["id"], "title": "Returns", "score": 1.0}])
    tx(reply_sources.record, second, tenant["id"], [{"id": returns["id"], "title": "Returns", "score": 3.0}])
    tx(lambda cur: cur.execute("INSERT INTO events (tenant_id, event_type, chat_id, decision, reason, reply_token_id)"
                               " VALUES (%s, 'messages.upsert', %s, 'reply', 'test', %s)", (tenant["id"], CHAT, first)))

    used = {e["title"]: e["used"] for e in kb("GET").get_json()["entries"]}
    assert used == {"Opening hours": 1, "Returns": 2, "Never used": 0}
    assert kb("GET", f"/{returns['id']}").get_json()["last_used_at"] is not None

    events = admin("GET", "/api/events", query_string={"tenant_id": tenant["id"], "chat_id": CHAT}).get_json()["events"]
    [replied] = [e for e in events if e["reply_token_id"] == str(first)]
    assert replied["sources"] == [{"id": hours["id"], "title": "Opening hours"},
                                  {"id": returns["id"], "title": "Returns"}]
    # a deleted entry keeps its title in the reply's sources
    kb("DELETE", f"/{hours['id']}")
    events = admin("GET", "/api/events", query_string={"tenant_id": tenant["id"], "chat_id": CHAT}).get_json()["events"]
    [replied] = [e for e in events if e["reply_token_id"] == str(first)]
    assert replied["sources"][0] == {"id": None, "title": "Opening hours"}


def test_the_openapi_document_describes_the_knowledge_api(app):
    doc = app.test_client().get("/api/openapi.json").get_json()
    knowledge = doc["paths"]["/api/tenants/{tenant_id}/knowledge"]
    assert set(knowledge) == {"get", "post"}
    assert {p["name"] for p in knowledge["get"]["parameters"]} >= {"q", "tag", "source", "limit", "offset"}
    upload_op = doc["paths"]["/api/tenants/{tenant_id}/knowledge/import"]["post"]
    assert "file" in upload_op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert set(doc["paths"]["/api/tenants/{tenant_id}/knowledge/{entry_id}"]) == {"get", "put", "delete"}
    assert "sources" in doc["components"]["schemas"]["Event"]["properties"]
