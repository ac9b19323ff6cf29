"""Admin API, a tenant's knowledge base: entries written one by one (POST,
PUT, DELETE), listed or searched (GET ?q= runs the retrieval every reply
uses), and files imported (.md, .txt, .csv, .pdf; the same file name again
replaces its entries). Viewers, agents and owners read; owners write; a
write is a row in the tenant's timeline naming who made it. The rules are
in core/knowledge.py and core/knowledge_import.py."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..common import db
from ..common.auth import protect
from ..common.errors import bad_request
from ..common.logs import log_context
from ..common.openapi import Operation, documented
from ..common.params import found, path_uuid, shaped
from ..common.validation import parse_body, parse_query
from ..core import events, knowledge, tenants
from ..core.api_auth import require, require_api_access
from ..core.api_models import KnowledgeEntry, KnowledgeEntryBody, KnowledgeImported, KnowledgeList, KnowledgeQuery
from ..core.knowledge_import import MAX_IMPORT_BYTES, MAX_IMPORT_ENTRIES, parse
from ..core.settings import effective_settings

bp = Blueprint("knowledge", __name__)
protect(bp, require_api_access)

SHOWN = ("id", "tenant_id", "title", "content", "tags", "source", "position", "created_at", "updated_at",
         "updated_by", "used", "last_used_at")
TAGS = ("knowledge",)
READ = "viewer, agent, owner; the platform admin"
WRITE = "owner; the platform admin"
CHANGED = "hybridflow.knowledge_changed"
MAX_SEARCH_RESULTS = 50


def shape(row: dict) -> dict:
    return shaped(row, SHOWN)


def shape_hit(hit: knowledge.Hit, row: dict) -> dict:
    return {**shape(row), "score": round(hit.score, 4), "passage": hit.passage()}


def in_reach(tenant_id: str, action: str):
    """The tenant's id and the caller, when the caller may do `action` there
    (another tenant's id answers 404, as an unknown one; a role that may not:
    403), checked before the body is read."""
    tenant_id = path_uuid(tenant_id, "tenant")
    return tenant_id, require(action, tenant_id)


def tenant_row(cur, tenant_id) -> dict:
    return found(tenants.by_id(cur, tenant_id), "tenant", tenant_id)


def language_of(tenant: dict) -> str:
    return effective_settings(tenant["settings"])["knowledge_language"]


def entry_row(cur, tenant_id, entry_id: str) -> dict:
    entry_id = path_uuid(entry_id, "knowledge entry")
    return found(knowledge.get(cur, tenant_id, entry_id), "knowledge entry", entry_id)


def record(cur, tenant_id, reason: str, who) -> None:
    events.record_tenant_event(cur, tenant_id, CHANGED, f"{reason} by {who.label}", actor=who.label)


# ---------------------------------------------------------------- routes


@bp.post("/api/tenants/<tenant_id>/knowledge")
@documented(Operation("Add a knowledge entry", TAGS, access=WRITE, body=KnowledgeEntryBody, answer=KnowledgeEntry,
                      status=201, errors=(400, 401, 403, 404, 409),
                      description="Found for customers' questions by its title, tags and content, in the tenant's "
                                  "settings.knowledge_language. A tenant holds at most 20,000 entries (409)."))
def create_entry(tenant_id):
    tenant_id, who = in_reach(tenant_id, "knowledge.change")
    body = parse_body(KnowledgeEntryBody, what="a knowledge entry field")
    with db.transaction() as cur:
        tenant = tenant_row(cur, tenant_id)
        row = knowledge.create(cur, tenant["id"], title=body.title, content=body.content, tags=body.tags,
                               language=language_of(tenant), actor=who.label)
        record(cur, tenant["id"], f"knowledge entry {row['title']!r} added", who)
    log_context(tenant=str(tenant["id"]))
    return jsonify(shape({**row, "used": 0, "last_used_at": None})), 201


@bp.get("/api/tenants/<tenant_id>/knowledge")
@documented(Operation("List or search the knowledge base", TAGS, access=READ, query=KnowledgeQuery,
                      answer=KnowledgeList, errors=(400, 401, 404),
                      description="Without q: the entries (written by hand first, then each imported file in its "
                                  "order), each with how many replies were written from it (`used`). With q: the "
                                  "entries that best match it, best first, each with its score and passage: what a "
                                  "reply to that customer message would be given."))
def list_entries(tenant_id):
    tenant_id, _ = in_reach(tenant_id, "read")
    query = parse_query(KnowledgeQuery)
    with db.transaction() as cur:
        tenant = tenant_row(cur, tenant_id)
        if query.q is not None:
            limit = min(query.limit, MAX_SEARCH_RESULTS)
            hits = knowledge.search(cur, tenant["id"], query.q, language=language_of(tenant), limit=limit)
            hits = [h for h in hits if (query.tag is None or query.tag in h.tags)
                    and (query.source is None or h.source == query.source)]
            rows = knowledge.with_usage(cur, tenant["id"], [h.row for h in hits])
            shown = [shape_hit(h, r) for h, r in zip(hits, rows)]
            return jsonify({"entries": shown, "total": len(shown), "limit": limit, "offset": 0})
        rows, total = knowledge.listing(cur, tenant["id"], tag=query.tag, source=query.source, limit=query.limit,
                                        offset=query.offset)
    return jsonify({"entries": [shape(r) for r in rows], "total": total, "limit": query.limit,
                    "offset": query.offset})


@bp.post("/api/tenants/<tenant_id>/knowledge/import")
@documented(Operation(
    "Import a file into the knowledge base", TAGS, access=WRITE, answer=KnowledgeImported, status=201,
    errors=(400, 401, 403, 404, 409), upload="file",
    upload_description=".md, .txt, .csv (question,answer[,tags]) or .pdf; at most "
                       f"{MAX_IMPORT_BYTES:,} bytes and {MAX_IMPORT_ENTRIES:,} entries",
    description="multipart/form-data with the file in `file`. Markdown and text are split at headings, a CSV "
                "gives an entry per row, a PDF an entry per page. Importing a file of the same name again "
                "replaces the entries it made. A file that cannot be read is a 400 naming the line or the page; "
                "nothing of it is imported."))
def import_file(tenant_id):
    tenant_id, who = in_reach(tenant_id, "knowledge.change")
    upload = request.files.get("file")
    if upload is None:
        raise bad_request("send the file as multipart/form-data in a field named file "
                          "(curl -F file=@faq.md ...)", "file")
    data = upload.read(MAX_IMPORT_BYTES + 1)
    source, parsed = parse(upload.filename or "", data)
    with db.transaction() as cur:
        tenant = tenant_row(cur, tenant_id)
        done = knowledge.import_entries(cur, tenant["id"], source, parsed, language=language_of(tenant),
                                        actor=who.label)
        record(cur, tenant["id"], f"{source!r} imported into the knowledge base ({done['created']} entries, "
                                  f"{done['replaced']} replaced)", who)
    log_context(tenant=str(tenant["id"]), outcome=f"created={done['created']} replaced={done['replaced']}")
    return jsonify({"source": source, "created": done["created"], "replaced": done["replaced"],
                    "entries": [{"id": r["id"], "title": r["title"]} for r in done["entries"]]}), 201


@bp.get("/api/tenants/<tenant_id>/knowledge/<entry_id>")
@documented(Operation("Get a knowledge entry", TAGS, access=READ, answer=KnowledgeEntry, errors=(401, 404)))
def get_entry(tenant_id, entry_id):
    tenant_id, _ = in_reach(tenant_id, "read")
    with db.transaction() as cur:
        tenant = tenant_row(cur, tenant_id)
        row = entry_row(cur, tenant["id"], entry_id)
    return jsonify(shape(row))


@bp.put("/api/tenants/<tenant_id>/knowledge/<entry_id>")
@documented(Operation("Rewrite a knowledge entry", TAGS, access=WRITE, body=KnowledgeEntryBody,
                      answer=KnowledgeEntry, errors=(400, 401, 403, 404),
                      description="The whole entry: title, content and tags (left out: none). An imported entry "
                                  "keeps its source, so importing that file again replaces this text too."))
def put_entry(tenant_id, entry_id):
    tenant_id, who = in_reach(tenant_id, "knowledge.change")
    body = parse_body(KnowledgeEntryBody, what="a knowledge entry field")
    with db.transaction() as cur:
        tenant = tenant_row(cur, tenant_id)
        entry_id = path_uuid(entry_id, "knowledge entry")
        row = found(knowledge.change(cur, tenant["id"], entry_id, title=body.title, content=body.content,
                                     tags=body.tags, language=language_of(tenant), actor=who.label),
                    "knowledge entry", entry_id)
        record(cur, tenant["id"], f"knowledge entry {row['title']!r} changed", who)
        row = knowledge.with_usage(cur, tenant["id"], [row])[0]
    log_context(tenant=str(tenant["id"]))
    return jsonify(shape(row))


@bp.delete("/api/tenants/<tenant_id>/knowledge/<entry_id>")
@documented(Operation("Delete a knowledge entry", TAGS, access=WRITE, answer=KnowledgeEntry,
                      errors=(401, 403, 404),
                      description="Replies written from it keep its title in their sources."))
def delete_entry(tenant_id, entry_id):
    tenant_id, who = in_reach(tenant_id, "knowledge.change")
    with db.transaction() as cur:
        tenant = tenant_row(cur, tenant_id)
        row = entry_row(cur, tenant["id"], entry_id)
        knowledge.remove(cur, tenant["id"], row["id"])
        record(cur, tenant["id"], f"knowledge entry {row['title']!r} deleted", who)
    log_context(tenant=str(tenant["id"]))
    return jsonify(shape(row))
