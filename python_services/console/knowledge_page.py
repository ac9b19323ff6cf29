"""The knowledge base page (/console/t/<tenant_id>/knowledge): the entries
the assistant answers facts from, listed (a page at a time) or searched
with the very retrieval every reply uses; owners add, edit, delete and
import files (.md, .txt, .csv of question,answer, .pdf; the same file name
again replaces what it gave). The rules are core/knowledge.py's and
core/knowledge_import.py's, as the admin API's are; each change is a row
in the tenant's timeline naming who made it."""
from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for

from ..common import db
from ..common.errors import ApiError, bad_request
from ..common.params import ascii_whole, found, path_uuid, query_text
from ..core import events, knowledge
from ..core.knowledge_import import MAX_CONTENT, MAX_IMPORT_BYTES, MAX_TITLE, parse
from ..core.settings import effective_settings
from . import guard

bp = Blueprint("knowledge_page", __name__, url_prefix="/console/t/<tenant_id>")

PER_PAGE = 50
# the admin API records the same event type (collision/knowledge.py): one timeline, whoever changed it
KNOWLEDGE_CHANGED = "hybridflow.knowledge_changed"


def language() -> str:
    return effective_settings(g.tenant["settings"])["knowledge_language"]


def record(cur, reason: str) -> None:
    who = g.principal.label
    events.record_tenant_event(cur, g.tenant["id"], KNOWLEDGE_CHANGED, f"{reason} by {who}", actor=who)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    page = ascii_whole(raw)
    if page is None or not 1 <= page <= 10_000:
        raise bad_request("page must be a whole number from 1 to 10000", "page")
    return page


def listing(q: str | None, page: int) -> dict:
    """The entries to show: the best matches of q (with their passages), or a page of all of them."""
    with db.transaction() as cur:
        if q:
            hits = knowledge.search(cur, g.tenant["id"], q, language=language(), limit=PER_PAGE)
            rows = knowledge.with_usage(cur, g.tenant["id"], [h.row for h in hits])
            entries = [{**row, "score": round(h.score, 2), "passage": h.passage()} for h, row in zip(hits, rows)]
            return {"entries": entries, "total": len(entries), "pages": 1}
        rows, total = knowledge.listing(cur, g.tenant["id"], limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return {"entries": rows, "total": total, "pages": max(1, -(-total // PER_PAGE))}


def render(*, errors=None, posted=None, done=None, status: int = 200):
    q = query_text("q", 1000)
    page = _page_number()
    return render_template("knowledge.html", q=q or "", page=page, errors=errors or {}, posted=posted or {},
                           done=done, max_title=MAX_TITLE, max_content=MAX_CONTENT,
                           max_import_mb=round(MAX_IMPORT_BYTES / 1_000_000, 1), **listing(q, page)), status


def _entry_form() -> dict:
    return {"title": request.form.get("title", ""), "content": request.form.get("content", ""),
            "tags": request.form.get("tags", "")}


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


# what a redirect after a change says (a fixed word in the URL, never a title a person wrote)
_DONE = {"added": "Entry added.", "changed": "Entry saved.", "deleted": "Entry deleted."}


def _back(done: str):
    """After a change: back to the list (a reload does not post again)."""
    return redirect(url_for("knowledge_page.show", tenant_id=g.tenant["id"], done=done), 303)


@bp.get("/knowledge")
@guard.tenant_page("read")
def show(tenant_id):
    return render(done=_DONE.get(request.args.get("done", "")))


@bp.post("/knowledge")
@guard.tenant_page("knowledge.change")
def add(tenant_id):
    posted = _entry_form()
    try:
        with db.transaction() as cur:
            row = knowledge.create(cur, tenant_id, title=posted["title"], content=posted["content"],
                                   tags=_tags(posted["tags"]), language=language(), actor=g.principal.label)
            record(cur, f"knowledge entry {row['title']!r} added")
    except ApiError as err:
        return render(errors={f"new.{err.field or 'form'}": err.message}, posted=posted, status=err.status)
    return _back("added")


def _entry(tenant_id, entry_id) -> dict:
    entry_id = path_uuid(entry_id, "knowledge entry")
    with db.transaction() as cur:
        return found(knowledge.get(cur, tenant_id, entry_id), "knowledge entry", entry_id)


@bp.get("/knowledge/<entry_id>")
@guard.tenant_page("read")
def edit(tenant_id, entry_id):
    entry = _entry(tenant_id, entry_id)
    posted = {"title": entry["title"], "content": entry["content"], "tags": ", ".join(entry["tags"])}
    return render_template("knowledge_entry.html", entry=entry, posted=posted, errors={},
                           max_title=MAX_TITLE, max_content=MAX_CONTENT)


@bp.post("/knowledge/<entry_id>")
@guard.tenant_page("knowledge.change")
def change(tenant_id, entry_id):
    entry = _entry(tenant_id, entry_id)
    posted = _entry_form()
    try:
        with db.transaction() as cur:
            row = found(knowledge.change(cur, tenant_id, entry["id"], title=posted["title"],
                                         content=posted["content"], tags=_tags(posted["tags"]),
                                         language=language(), actor=g.principal.label),
                        "knowledge entry", entry["id"])
            record(cur, f"knowledge entry {row['title']!r} changed")
    except ApiError as err:
        if err.status == 404:
            raise
        return render_template("knowledge_entry.html", entry=entry, posted=posted,
                               errors={f"entry.{err.field or 'form'}": err.message}, max_title=MAX_TITLE,
                               max_content=MAX_CONTENT), err.status
    return _back("changed")


@bp.post("/knowledge/<entry_id>/delete")
@guard.tenant_page("knowledge.change")
def delete(tenant_id, entry_id):
    entry_id = path_uuid(entry_id, "knowledge entry")
    with db.transaction() as cur:
        row = found(knowledge.remove(cur, tenant_id, entry_id), "knowledge entry", entry_id)
        record(cur, f"knowledge entry {row['title']!r} deleted")
    return _back("deleted")


@bp.post("/knowledge/import")
@guard.tenant_page("knowledge.change")
def import_file(tenant_id):
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise bad_request("choose a file to import (.md, .txt, .csv or .pdf)", "file")
        source, parsed = parse(upload.filename, upload.read(MAX_IMPORT_BYTES + 1))
        with db.transaction() as cur:
            done = knowledge.import_entries(cur, tenant_id, source, parsed, language=language(),
                                            actor=g.principal.label)
            record(cur, f"{source!r} imported into the knowledge base ({done['created']} entries, "
                        f"{done['replaced']} replaced)")
    except ApiError as err:
        return render(errors={"import.file": err.message}, status=err.status)
    replaced = f", replacing the {done['replaced']} it gave before" if done["replaced"] else ""
    return render(done=f"{source}: {done['created']} entries imported{replaced}.")
