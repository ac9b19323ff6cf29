"""Reply hygiene: what a model wrote, made fit for a WhatsApp message.
Markdown becomes WhatsApp's own formatting, the handoff marker becomes a
flag, and a long reply is cut at a sentence end. All pure functions."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .prompt import HUMAN_PREFIX

_HANDOFF = re.compile(r"\[\[\s*handoff\s*\]\]", re.IGNORECASE)
_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]+`")
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_LINK = re.compile(r"\[([^\]\n]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_BOLD_STARS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", re.DOTALL)
_BOLD_UNDERSCORES = re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)", re.DOTALL)
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.DOTALL)
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[*+][ \t]+", re.MULTILINE)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_HUMAN_LABEL = re.compile(r"^\s*" + re.escape(HUMAN_PREFIX) + r"\s*:?\s*", re.IGNORECASE)
# a sentence ends at . ! ? or … (closing quotes or brackets may follow), before a space or the end
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")
ELLIPSIS = "…"


# ---------------------------------------------------------------- handoff marker

def split_handoff(text: str) -> tuple[str, bool]:
    """(the text before the marker, whether the model asked for a person).
    What follows the marker is dropped: it is not meant for the customer."""
    match = _HANDOFF.search(text or "")
    if match is None:
        return text or "", False
    return text[: match.start()].strip(), True


def strip_human_label(text: str) -> str:
    """A model that imitates the label history.py puts on the team's turns loses it."""
    return _HUMAN_LABEL.sub("", text, count=1)


# ---------------------------------------------------------------- Markdown -> WhatsApp

def _table_cells(line: str) -> list[str]:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|"):
        inner = inner[:-1]
    return [cell.strip() for cell in inner.split("|")]


def _flatten_table(lines: list[str]) -> list[str]:
    """A Markdown table as one line a row: "- Header: value, Header: value"."""
    rows = [_table_cells(line) for line in lines if not _TABLE_SEPARATOR.match(line.strip())]
    has_header = len(lines) > 1 and _TABLE_SEPARATOR.match(lines[1].strip()) is not None
    header, body = (rows[0], rows[1:]) if has_header else ([], rows)
    out = []
    for cells in body:
        if header and len(header) == len(cells):
            parts = [f"{name}: {value}" if name else value for name, value in zip(header, cells) if value]
        else:
            parts = [value for value in cells if value]
        if parts:
            out.append("- " + ", ".join(parts))
    return out


def _flatten_tables(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].strip().startswith("|") and lines[i].count("|") >= 2:
            j = i
            while j < len(lines) and lines[j].strip().startswith("|"):
                j += 1
            out.extend(_flatten_table(lines[i:j]))
            i = j
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def _link(match: re.Match) -> str:
    label, url = match.group(1).strip(), match.group(2)
    if not label or label == url or label.rstrip("/") == url.rstrip("/"):
        return url
    return f"{label} ({url})"


def _heading(match: re.Match) -> str:
    title = match.group(1).replace("**", "").replace("__", "").strip()
    return f"*{title}*" if title else ""


def _convert(text: str) -> str:
    text = _BREAK.sub("\n", text)
    text = _flatten_tables(text)
    text = _IMAGE.sub(_link, text)
    text = _LINK.sub(_link, text)
    text = _HEADING.sub(_heading, text)
    text = _RULE.sub("", text)
    text = _BULLET.sub(r"\1- ", text)
    text = _BOLD_STARS.sub(r"*\1*", text)
    text = _BOLD_UNDERSCORES.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    return text


def markdown_to_whatsapp(text: str) -> str:
    """**bold** -> *bold*, __x__ -> _x_, ~~x~~ -> ~x~, headings -> a bold line,
    tables -> one line a row, [text](url) -> text (url). Code stays as written."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept: list[str] = []

    def keep(match: re.Match) -> str:
        kept.append(match.group(0))
        return f"\x00{len(kept) - 1}\x00"

    text = _FENCE.sub(keep, text)
    text = _INLINE_CODE.sub(keep, text)
    text = _convert(text)
    text = re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


# ---------------------------------------------------------------- length

def cut_at_sentence(text: str, max_chars: int) -> str:
    """The text if it fits; else the longest run of whole sentences (or
    paragraphs) that fits, or, when even the first sentence is too long, the
    words that fit followed by an ellipsis."""
    text = text.strip()
    if len(text) <= max_chars:
        return text
    window = text[: max_chars + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= max_chars]
    ends += [m.start() for m in re.finditer(r"\n\s*\n", window) if m.start() <= max_chars]
    best = max(ends, default=0)
    if best > 0:
        return text[:best].rstrip()
    room = text[: max_chars - len(ELLIPSIS)]
    space = room.rfind(" ")
    cut = room[:space] if space > 0 else room
    return cut.rstrip(" ,;:-") + ELLIPSIS


# ---------------------------------------------------------------- all of it

@dataclass(frozen=True)
class Reply:
    text: str
    handoff: bool


def finish_reply(raw: str, *, max_chars: int, handoff_message: str) -> Reply:
    """The model's raw text as the customer will see it. An empty result
    without a handoff is still empty: the caller treats it as the provider's
    failure (and moves on to the fallback chain), never sends it."""
    text, handoff = split_handoff(raw or "")
    text = markdown_to_whatsapp(strip_human_label(text))
    text = cut_at_sentence(text, max_chars) if text else ""
    if handoff and not text:
        text = cut_at_sentence(handoff_message or "", max_chars)
    return Reply(text=text, handoff=handoff)
