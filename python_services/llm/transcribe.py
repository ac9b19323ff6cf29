"""Voice notes -> text, through the OpenAI SDK's `audio.transcriptions`
(/v1/audio/transcriptions) on the tenant's OpenAI or OpenAI-compatible
provider (a local Whisper server behind an OpenAI-compatible API works the
same), or on settings.transcription_provider for a tenant on Anthropic.

The transcript becomes the message's text (so history and the debounce
burst read it), marked transcribed. A voice note that cannot be
transcribed (transcription off, longer than max_voice_note_seconds, no
provider, the provider or Evolution failed) keeps no text and is marked
`fallback` with the reason: the reply then answers it politely
(llm/media_burst.py). Every outcome for a customer's voice note is a row in
the timeline (event `hybridflow.voice_note`).

Called by the flow (POST /transcribe, before the debounce wait) and by the
reply itself for any voice note of its burst still waiting; a claim on the
message makes one of them do the work and pay for it."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import current_app

from ..common import db
from ..common.logs import log_event
from ..core import events, media_fetch, messages
from ..core.media import file_name_for, is_voice_note, label, transcription_state
from ..core.settings import TRANSCRIPTION_PROVIDERS, effective_settings
from . import providers, usage

log = logging.getLogger("hybridflow.llm.transcribe")

EVENT_TYPE = "hybridflow.voice_note"
DEFAULT_MODEL = "whisper-1"
# a length the webhook did not give, estimated from an Opus voice note's size (~16 kbit/s)
OPUS_BYTES_PER_SECOND = 2000
# settings.knowledge_language -> the ISO 639-1 hint Whisper takes
LANGUAGES = {"portuguese": "pt", "spanish": "es", "english": "en", "danish": "da", "dutch": "nl", "finnish": "fi",
             "french": "fr", "german": "de", "hungarian": "hu", "italian": "it", "norwegian": "no",
             "romanian": "ro", "russian": "ru", "swedish": "sv", "turkish": "tr"}
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Fallback:
    reason: str  # off | too_long | no_provider | fetch_failed | failed | empty
    detail: str


def transcriber(tenant: dict, settings: dict, options: providers.LlmOptions) -> providers.Target | Fallback:
    """Who transcribes this tenant's voice notes, with which key and URL; or why nobody can."""
    name = settings.get("transcription_provider") or ""
    if not name and tenant["llm_provider"] in TRANSCRIPTION_PROVIDERS:
        name = tenant["llm_provider"]
    if not name:
        return Fallback("no_provider", f"the tenant's provider ({tenant['llm_provider']}) does not transcribe and "
                                       "settings.transcription_provider is not set")
    model = (settings.get("transcription_model") or "").strip() or DEFAULT_MODEL
    own_key = (settings.get("llm_api_key") or "").strip() if name == tenant["llm_provider"] else ""
    if name == "openai":
        key = own_key or options.openai_api_key
        if not key:
            return Fallback("no_provider", "no OpenAI key for transcription (OPENAI_API_KEY or settings.llm_api_key)")
        return providers.Target(name, model, key, options.openai_base_url or providers.OPENAI_DEFAULT_URL)
    # the tenant's own server: never the deployment's OpenAI key
    base_url = (settings.get("transcription_base_url") or settings.get("llm_base_url") or "").strip()
    if not base_url:
        return Fallback("no_provider", "no base URL for transcription (settings.transcription_base_url or "
                                       "llm_base_url)")
    return providers.Target(name, model, own_key or providers.NO_KEY, base_url)


def seconds_of(media: dict, size: int | None = None) -> float | None:
    """The voice note's length: as the webhook said, else estimated from an Opus file's size."""
    if media.get("seconds"):
        return float(media["seconds"])
    size = size if size is not None else media.get("bytes")
    opus = "ogg" in (media.get("mimetype") or "") or "opus" in (media.get("mimetype") or "")
    return round(size / OPUS_BYTES_PER_SECOND, 1) if size and opus else None


def up_front_fallback(media: dict, settings: dict, target) -> Fallback | None:
    """Why not to transcribe at all, decided before any download."""
    if not settings["transcribe_voice_notes"]:
        return Fallback("off", "transcription is off (settings.transcribe_voice_notes)")
    seconds, limit = seconds_of(media), settings["max_voice_note_seconds"]
    if seconds is not None and seconds > limit:
        return Fallback("too_long", f"the voice note is {seconds:g} s, over max_voice_note_seconds ({limit})")
    return target if isinstance(target, Fallback) else None


def stale_after(options: providers.LlmOptions, cfg) -> float:
    """How old a claim may be before it counts as abandoned (its worker died)."""
    return options.timeout * (options.max_retries + 1) + cfg.evo_timeout * cfg.evo_send_attempts + 10


# ---------------------------------------------------------------- one voice note


def transcribe_message(request: media_fetch.MediaRequest, options: providers.LlmOptions, *,
                       wait_seconds: float = 0) -> dict:
    """The voice note's text, or what became of it (the answer of POST /transcribe)."""
    cfg = current_app.config["HF"]
    deadline = time.monotonic() + wait_seconds
    while True:
        with db.transaction() as cur:
            tenant, message = media_fetch.find_message(cur, request)
            settings = effective_settings(tenant["settings"])
            done = _settled(message, settings)
            if done is not None:
                return done
            target = transcriber(tenant, settings, options)
            fallback = up_front_fallback(message["media"], settings, target)
            if fallback is not None:
                return _give_up(cur, tenant, message, settings, fallback)
            claimed = messages.claim_transcription(cur, message["id"], stale_after(options, cfg))
        if claimed:
            return _transcribe(request, tenant, message, settings, target, options, cfg)
        if time.monotonic() >= deadline:
            return {"outcome": "working", "detail": "another call is transcribing this voice note"}
        time.sleep(POLL_SECONDS)


def _settled(message: dict, settings: dict) -> dict | None:
    """The answer when there is nothing (more) to do for this message."""
    if not is_voice_note(message["media"]):
        return {"outcome": "not_voice_note", "message_type": message["message_type"]}
    if message["transcribed_by"]:
        return {"outcome": "already", "text": message["text"], "by": message["transcribed_by"]}
    state = transcription_state(message["media"])
    if state.get("state") == "fallback":
        return {"outcome": "fallback", "reason": state.get("reason"), "detail": state.get("detail"),
                "decision": settings["voice_note_fallback"] if message["author"] == "customer" else None}
    if message["author"] == "business" and not settings["transcribe_owner_voice_notes"]:
        return {"outcome": "skipped", "detail": "the business's voice notes are not transcribed "
                                                "(settings.transcribe_owner_voice_notes)"}
    if message["author"] not in ("customer", "business"):
        return {"outcome": "skipped", "detail": f"a message of the {message['author']} is not transcribed"}
    return None


def _give_up(cur, tenant, message, settings, fallback: Fallback) -> dict:
    """The voice note stays without text; for a customer's, the decision is recorded."""
    messages.record_transcription_fallback(cur, message["id"], fallback.reason, fallback.detail)
    decision = None
    if message["author"] == "customer":
        decision = settings["voice_note_fallback"]
        answer = "the customer is asked to write it" if decision == "ask_to_write" else "a person takes the chat"
        events.record_message_decision(
            cur, tenant["id"], event_type=EVENT_TYPE, chat_id=message["chat_id"],
            wa_message_id=message["wa_message_id"], decision=decision, message_id=message["id"],
            reply_token_id=message["reply_token_id"],
            reason=f"{label(message['media'])} not transcribed: {fallback.detail}; {answer}")
    log_event(log, "voice note not transcribed", tenant=tenant["instance_name"], chat=message["chat_id"],
              wa_message_id=message["wa_message_id"], reason=fallback.reason, decision=decision)
    return {"outcome": "fallback", "reason": fallback.reason, "detail": fallback.detail, "decision": decision}


def _transcribe(request, tenant, message, settings, target: providers.Target, options, cfg) -> dict:
    """Download, transcribe, record: no transaction is open while Evolution or the provider works."""
    media, started = message["media"], time.perf_counter()
    try:
        got = media_fetch.fetch(tenant, message["wa_message_id"], media, cfg, inline_base64=request.inline_base64)
    except media_fetch.MediaError as err:
        return _settle_fallback(request, Fallback("fetch_failed", f"the voice note could not be fetched: {err.message}"))
    seconds = seconds_of(media, len(got.data))
    if seconds is not None and seconds > settings["max_voice_note_seconds"]:
        return _settle_fallback(request, Fallback(
            "too_long", f"the voice note is about {seconds:g} s, over max_voice_note_seconds "
                        f"({settings['max_voice_note_seconds']})"))
    language = LANGUAGES.get(settings.get("knowledge_language"))
    try:
        result = providers.openai_client(target, options).audio.transcriptions.create(
            model=target.model, file=(file_name_for(media, message["wa_message_id"]), got.data, got.mimetype),
            **({"language": language} if language else {}))
    except Exception as exc:  # noqa: BLE001 - a provider failure is a recorded fallback, never a 500
        detail = f"{target.provider} ({target.model}): {providers.describe_error(exc, options)}"
        return _settle_fallback(request, Fallback("failed", f"transcription failed: {detail}"))
    text = (getattr(result, "text", None) or "").strip()
    if not text:
        return _settle_fallback(request, Fallback("empty", "the transcription has no words"))
    seconds = seconds if seconds is not None else getattr(result, "duration", None)
    with db.transaction() as cur:
        messages.record_transcript(cur, message["id"], text=text, by=target.provider, model=target.model,
                                   seconds=seconds)
        events.record_message_decision(
            cur, tenant["id"], event_type=EVENT_TYPE, chat_id=message["chat_id"],
            wa_message_id=message["wa_message_id"], decision="transcribed", message_id=message["id"],
            reply_token_id=message["reply_token_id"],
            reason=f"{label(media)} transcribed by {target.provider} ({target.model}): {len(text)} characters")
    latency = round((time.perf_counter() - started) * 1000)
    usage.count_transcription_cost(target.provider, target.model, seconds)
    log_event(log, "voice note transcribed", tenant=tenant["instance_name"], chat=message["chat_id"],
              wa_message_id=message["wa_message_id"], provider=target.provider, model=target.model,
              seconds=seconds, latency_ms=latency)
    return {"outcome": "transcribed", "text": text, "by": target.provider, "model": target.model,
            "seconds": seconds, "latency_ms": latency}


def _settle_fallback(request, fallback: Fallback) -> dict:
    with db.transaction() as cur:
        tenant, message = media_fetch.find_message(cur, request)
        return _give_up(cur, tenant, message, effective_settings(tenant["settings"]), fallback)
