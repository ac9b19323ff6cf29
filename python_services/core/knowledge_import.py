"""Files into knowledge entries, as plain functions over bytes (the admin
API and the console both call parse()):

- `.md` / `.markdown`: an entry per heading (`#` to `######`, or a line
  underlined with === / ---), titled with the heading (under its parent
  headings: "Shipping › Costs"); text before the first heading is an entry
  titled with the file's name; fenced code blocks are never split.
- `.txt`: Markdown headings when it has any; otherwise an entry per block of
  lines (blocks are separated by blank lines), a lone short line being the
  title of the blocks under it, else the block's first line its title.
- `.csv`: question,answer[,tags] per row (tags separated by `;` or `|`);
  a header row (question/answer, pergunta/resposta, pregunta/respuesta,
  title/content) is skipped; `,` `;` or a tab between columns.
- `.pdf`: an entry per page with text (pypdf), titled with the page's first
  line and its number.

Text is UTF-8 (with or without a BOM), else Windows-1252 (what spreadsheets
save on Windows). A file that cannot be read is a 400 that says which line
or page; nothing of it is imported. An entry longer than MAX_CONTENT is
split at paragraphs into parts ("Title (2/3)")."""
from __future__ import annotations

import csv
import io
import logging
import re
from contextlib import contextmanager
from pathlib import PurePosixPath

from ..common.errors import bad_request
from ..common.params import UNSTORABLE

MAX_IMPORT_BYTES = 900_000        # the door takes request bodies under 1 MB
MAX_IMPORT_ENTRIES = 2_000
MAX_PDF_PAGES = 500
MAX_TITLE = 300
MAX_CONTENT = 20_000
MAX_TAGS = 20
MAX_TAG = 50
MAX_SOURCE = 200
FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".csv": "csv", ".pdf": "pdf"}

FIELD = "file"
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_HEADERS = {("question", "answer"), ("pergunta", "resposta"), ("pregunta", "respuesta"), ("title", "content"),
            ("titulo", "conteudo"), ("título", "conteúdo"), ("q", "a")}


def refuse(message: str):
    return bad_request(message, FIELD)


def source_name(filename: str) -> str:
    """The name an import is known by (a path's last part): importing the same name again replaces its entries."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()
    if not name or len(name) > MAX_SOURCE or UNSTORABLE.search(name):
        raise refuse(f"the file needs a name of 1-{MAX_SOURCE} characters (it names the entries' source)")
    return name


def file_format(filename: str) -> str:
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix not in FORMATS:
        raise refuse(f"{filename!r}: only .md, .txt, .csv and .pdf files can be imported")
    return FORMATS[suffix]


def decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise refuse(f"line {line}: a NUL character (is this a text file?)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def clean(text: str) -> str:
    return UNSTORABLE.sub("", text).strip()


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1].rstrip() + "…"


def _parts(title: str, content: str) -> list[dict]:
    """One entry, or several when the content is longer than MAX_CONTENT (split at paragraphs, then lines, then words)."""
    if len(content) <= MAX_CONTENT:
        return [{"title": _title(title), "content": content}]
    chunks, current = [], ""
    for piece in re.split(r"(\n\s*\n|\n|(?<=\s))", content):
        while len(piece) > MAX_CONTENT:
            chunks.append(current + piece[: MAX_CONTENT - len(current)])
            piece, current = piece[MAX_CONTENT - len(current):], ""
        if len(current) + len(piece) > MAX_CONTENT:
            chunks.append(current)
            current = ""
        current += piece
    chunks.append(current)
    chunks = [c.strip() for c in chunks if c.strip()]
    suffix = lambda i: f" ({i}/{len(chunks)})"  # noqa: E731
    return [{"title": _title(title)[: MAX_TITLE - len(suffix(i))] + suffix(i), "content": c}
            for i, c in enumerate(chunks, start=1)]


# ---------------------------------------------------------------- Markdown


def markdown_sections(text: str, document_title: str) -> list[tuple[str, str]]:
    """(title, content) per heading; the content of a section runs to the next heading of any level."""
    lines = text.split("\n")
    sections: list[tuple[list[str], list[str]]] = [([document_title], [])]
    path: list[tuple[int, str]] = []
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None
        if not in_fence:
            atx = _ATX.match(line)
            if atx:
                heading = (len(atx.group(1)), (atx.group(2) or "").strip())
            elif (line.strip() and i + 1 < len(lines) and _SETEXT.match(lines[i + 1])
                  and (i == 0 or not lines[i - 1].strip())):
                heading = (1 if lines[i + 1].strip().startswith("=") else 2, line.strip())
                i += 1
        if heading is not None and heading[1]:
            level, name = heading
            while path and path[-1][0] >= level:
                path.pop()
            path.append((level, name))
            sections.append(([name for _, name in path], []))
        elif heading is None:
            sections[-1][1].append(line)
        i += 1
    # one top-level heading with no text of its own over everything: it names the document, not each entry
    tops = [s for s in sections[1:] if len(s[0]) == 1]
    drop_top = len(tops) == 1 and len(sections) > 2 and not clean("\n".join(tops[0][1]))
    out = []
    for names, body in sections:
        content = clean("\n".join(body))
        if not content:
            continue
        shown = names[1:] if drop_top and len(names) > 1 else names
        out.append((" › ".join(shown), content))
    return out


# ---------------------------------------------------------------- plain text


def _has_markdown_headings(text: str) -> bool:
    return any(_ATX.match(line) and line.lstrip().startswith("#") and line.lstrip("# ").strip()
               for line in text.split("\n"))


def _is_heading_line(block: list[str]) -> bool:
    line = block[0].strip()
    return len(block) == 1 and len(line) <= 120 and not line.endswith((".", "!", ",", ";"))


def text_sections(text: str, document_title: str) -> list[tuple[str, str]]:
    if _has_markdown_headings(text):
        return markdown_sections(text, document_title)
    blocks = [b.split("\n") for b in re.split(r"\n[ \t]*\n", text) if b.strip()]
    blocks = [[line for line in b if line.strip()] for b in blocks]
    headings = [b for b in blocks if _is_heading_line(b)]
    out: list[tuple[str, str]] = []
    if headings and len(headings) < len(blocks):
        title, body = document_title, []
        for block in blocks:
            if _is_heading_line(block):
                if body:
                    out.append((title, clean("\n\n".join(body))))
                title, body = block[0].strip(), []
            else:
                body.append("\n".join(block))
        if body:
            out.append((title, clean("\n\n".join(body))))
        return out
    for block in blocks:
        if len(block) > 1:
            out.append((block[0].strip(), clean("\n".join(block[1:]))))
        else:
            line = block[0].strip()
            out.append((" ".join(line.split()[:12]), clean(line)))
    return out


# ---------------------------------------------------------------- CSV


def _tags(value: str) -> list[str]:
    tags = [t.strip() for t in re.split(r"[;|]", value or "") if t.strip()]
    return list(dict.fromkeys(t[:MAX_TAG] for t in tags))[:MAX_TAGS]


def csv_rows(text: str) -> list[dict]:
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    out = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if not out and len(row) >= 2 and (row[0].strip().lower(), row[1].strip().lower()) in _HEADERS:
                continue
            if len(row) < 2:
                raise refuse(f"line {line}: expected question,answer (two columns), found one: {row[0][:60]!r}")
            if len(row) > 3:
                raise refuse(f"line {line}: expected question,answer[,tags], found {len(row)} columns "
                             "(quote a cell that holds the separator)")
            question, answer = clean(row[0]), clean(row[1])
            if not question:
                raise refuse(f"line {line}: the question is empty")
            if not answer:
                raise refuse(f"line {line}: the answer is empty")
            out.append({"title": question, "content": answer, "tags": _tags(row[2]) if len(row) == 3 else []})
    except csv.Error as exc:
        raise refuse(f"line {reader.line_num}: not valid CSV ({exc})") from None
    return out


# ---------------------------------------------------------------- PDF


@contextmanager
def _pypdf_errors():
    """What pypdf complains of meanwhile (it logs a stream it cannot decode, as a warning, and carries on)."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            found.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("pypdf")
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)


def pdf_pages(data: bytes, document_title: str) -> list[tuple[str, str]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise refuse("the PDF is encrypted with a password: save it without one and import it again")
        pages = reader.pages
        count = len(pages)
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise refuse(f"not a readable PDF ({type(exc).__name__}: {str(exc)[:200]})") from None
    if count > MAX_PDF_PAGES:
        raise refuse(f"the PDF has {count} pages; at most {MAX_PDF_PAGES} can be imported at once")
    out = []
    for number in range(1, count + 1):
        with _pypdf_errors() as errors:
            try:
                text = pages[number - 1].extract_text() or ""
            except Exception as exc:  # noqa: BLE001 - a broken page of a PDF raises anything
                raise refuse(f"page {number}: its text cannot be read ({type(exc).__name__}: "
                             f"{str(exc)[:200]})") from None
        text = clean(re.sub(r"[ \t]+\n", "\n", text))
        if not text and errors:
            # pypdf logs what it could not decode and goes on: a page left empty by it is broken, not blank
            raise refuse(f"page {number}: its text cannot be read ({errors[0][:200]})")
        if not text:
            continue
        first = next(line.strip() for line in text.split("\n") if line.strip())
        out.append((f"{first[:120]} (p. {number})" if first != text else f"{document_title} (p. {number})", text))
    if not out:
        raise refuse(f"no text found in the PDF's {count} page(s): a scanned document needs text recognition (OCR) first")
    return out


# ---------------------------------------------------------------- all of them


def parse(filename: str, data: bytes) -> tuple[str, list[dict]]:
    """(the source's name, the entries [{title, content, tags}]) of a file, or the 400 that says what is wrong."""
    source = source_name(filename)
    kind = file_format(source)
    if not data:
        raise refuse(f"{source!r} is empty")
    if len(data) > MAX_IMPORT_BYTES:
        raise refuse(f"{source!r} is {len(data):,} bytes; at most {MAX_IMPORT_BYTES:,} can be imported at once")
    stem = PurePosixPath(source).stem or source
    if kind == "pdf":
        if not data.startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
            raise refuse(f"{source!r} is not a PDF (it does not begin with %PDF-)")
        sections = pdf_pages(data, stem)
        entries = [{"title": t, "content": c, "tags": []} for t, c in sections]
    elif kind == "csv":
        entries = csv_rows(decode(data))
    else:
        text = decode(data)
        sections = markdown_sections(text, stem) if kind == "markdown" else text_sections(text, stem)
        entries = [{"title": t, "content": c, "tags": []} for t, c in sections]
    split = []
    for entry in entries:
        split.extend({**part, "tags": entry["tags"]} for part in _parts(entry["title"], entry["content"]))
    if not split:
        raise refuse(f"{source!r} holds no text to import")
    if len(split) > MAX_IMPORT_ENTRIES:
        raise refuse(f"{source!r} makes {len(split)} entries; at most {MAX_IMPORT_ENTRIES} can be imported at once")
    return source, split
