"""The media of a reply's burst: what the model is told of each message, the
photos it is shown (only providers in settings.vision_providers: the others
are told a photo came that they cannot see), and the polite answer for a
voice note that could not be transcribed.

- a voice note: its transcript (llm/transcribe.py; one still waiting is
  transcribed here first); one that cannot be: the reply is
  settings.voice_note_reply (or a handoff), never silence;
- a photo: `[photo] caption`, and the photo itself as an image part;
- a document or a video: named (file name and type, length), not opened;
- a sticker: ignored (a burst of stickers alone is not answered)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import current_app

from ..common import db
from ..common.errors import ApiError
from ..common.logs import log_event
from ..core import media_fetch, messages
from ..core.media import kind_of, label, transcription_state
from . import images, providers, transcribe
from .prompt import HANDOFF_MARKER

log = logging.getLogger("hybridflow.llm.media")

# what the model is told when it cannot see what came (no vision, offline, a document or a video)
UNSEEN_NOTE = ("The customer sent {what} that you cannot see or open here; only captions and file names are in "
               "the conversation. Say so briefly, and help with what you can from the text.")


@dataclass
class BurstMedia:
    # what the customer said, one line a message, oldest first
    lines: list[str] = field(default_factory=list)
    # photos to load: [{"wa_message_id", "media"}]
    photos: list[dict] = field(default_factory=list)
    # the photos as they will be sent (load_pictures), and the ones that could not be had
    pictures: list = field(default_factory=list)
    unloaded: int = 0
    # documents and videos: named, never shown
    unopened: list[str] = field(default_factory=list)
    # voice notes that could not be transcribed (the polite answer covers them)
    fallback_notes: int = 0
    # messages of the burst other than stickers and those voice notes
    answerable: int = 0
    stickers: int = 0

    @property
    def only_fallback(self) -> bool:
        return self.fallback_notes > 0 and self.answerable == 0

    @property
    def only_stickers(self) -> bool:
        return self.stickers > 0 and self.answerable == 0 and self.fallback_notes == 0


def transcribe_pending(token_id, options) -> None:
    """The burst's voice notes not transcribed yet (the flow's node normally
    did them during the debounce wait) are transcribed now; one the node is
    still working on is waited for, within half the reply's budget."""
    with db.transaction() as cur:
        pending = messages.untranscribed_voice_notes(cur, token_id)
    wait = min(options.timeout * (options.max_retries + 1), options.reply_budget / 2)
    for note in pending:
        request = media_fetch.MediaRequest(str(note["tenant_id"]), note["wa_message_id"])
        try:
            transcribe.transcribe_message(request, options, wait_seconds=wait)
        except ApiError:  # gone meanwhile (pruned, tenant deleted): nothing to transcribe
            continue


def read(cur, token_id) -> BurstMedia:
    """The burst as the model will read it (no network: photos are loaded later)."""
    burst = BurstMedia()
    for row in messages.burst(cur, token_id):
        media, text = row["media"], (row["text"] or "").strip()
        kind = kind_of(media)
        if kind == "sticker":
            burst.stickers += 1
            continue
        if kind == "audio" and not text:
            if transcription_state(media).get("state") == "fallback":
                burst.fallback_notes += 1
                continue
            text = "(its transcription is not ready)"
        burst.answerable += 1
        if kind is None:
            burst.lines.append(text or f"[{row['message_type'] or 'message'} without text]")
            continue
        burst.lines.append(f"[{label(media)}] {text}".strip())
        if kind == "image":
            burst.photos.append({"wa_message_id": row["wa_message_id"], "media": media})
        elif kind in ("document", "video"):
            burst.unopened.append(label(media))
    return burst


def load_pictures(burst: BurstMedia, tenant: dict, settings: dict) -> None:
    """Fetches and shrinks the burst's photos, when a provider of the tenant's chain can see them."""
    chain = providers.provider_chain(tenant["llm_provider"], settings.get("fallback_providers"))
    if not burst.photos or not any(name in settings["vision_providers"] and name != "offline" for name in chain):
        return
    cfg = current_app.config["HF"]
    for photo in burst.photos:
        try:
            got = media_fetch.fetch(tenant, photo["wa_message_id"], photo["media"], cfg)
            burst.pictures.append(images.prepare(got.data))
        except (media_fetch.MediaError, images.ImageError) as err:
            burst.unloaded += 1
            log_event(log, "photo not shown to the model", logging.WARNING, tenant=tenant["instance_name"],
                      wa_message_id=photo["wa_message_id"], error=getattr(err, "message", str(err)))


def pictures_for(provider: str, burst: BurstMedia, settings: dict) -> list:
    if provider == "offline" or provider not in settings["vision_providers"]:
        return []
    return list(burst.pictures)


def unseen_note(burst: BurstMedia, shown: int) -> str:
    """The system prompt's note about what the model cannot see ('' when it sees everything)."""
    what = []
    photos = len(burst.photos) - shown
    if photos > 0:
        what.append("a photo" if photos == 1 else f"{photos} photos")
    what += burst.unopened
    return UNSEEN_NOTE.format(what=", ".join(what)) if what else ""


def offline_text(text: str, burst: BurstMedia, settings: dict) -> str:
    """The offline provider cannot see: where its knowledge base has nothing
    for a burst with a photo or a file, it says so instead of handing over."""
    if text == HANDOFF_MARKER and (burst.photos or burst.unopened):
        return settings["media_unseen_reply"]
    return text


def voice_note_answer(burst: BurstMedia, settings: dict) -> tuple[str, bool] | None:
    """(text, handoff) when the burst's untranscribable voice notes decide the
    reply on their own: a handoff, or the polite answer when nothing else came."""
    if not burst.fallback_notes:
        return None
    if settings["voice_note_fallback"] == "handoff":
        return settings["handoff_message"], True
    if burst.only_fallback:
        return settings["voice_note_reply"], False
    return None


def with_voice_note_reply(text: str, burst: BurstMedia, settings: dict) -> str:
    """A reply to a burst with an untranscribable voice note among other
    messages: the polite request first, as its own WhatsApp message."""
    if burst.fallback_notes and burst.answerable and settings["voice_note_fallback"] == "ask_to_write" and text:
        return f"{settings['voice_note_reply']}\n\n{text}"
    return text


def image_tokens(pictures: list, provider: str) -> int:
    api = "anthropic" if provider == "anthropic" else "openai"
    return sum(images.estimated_tokens(p, api) for p in pictures)
