"""One reply, start to end: is the token still the one to answer, what is
the conversation, what does the provider chain say, and what is recorded.

No database connection is held while a provider thinks: one short
transaction reads, another records."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flask import current_app

from ..common import db
from ..common.errors import ApiError
from ..common.logs import log_event
from ..core import knowledge, messages, reply_sources, reply_tokens, sessions, tenants
from ..core.ledger import cancel_token, check_token, fail_token, record_llm_result
from ..core.settings import effective_settings
from . import history, media_burst, prompt, providers, usage
from .postprocess import finish_reply

log = logging.getLogger("hybridflow.llm")


@dataclass
class Request:
    """Everything a provider needs, read from Postgres in one transaction."""
    token_id: str
    tenant: dict
    settings: dict
    system: str
    conversation: list[dict]
    customer_text: str
    # the knowledge base: whether the tenant has one, the entries found for
    # this message (core.knowledge.Hit), and the prompt's section about them
    has_knowledge: bool = False
    knowledge: list = field(default_factory=list)
    knowledge_text: str = ""
    # the burst's photos, voice notes, documents (llm/media_burst.py)
    media: media_burst.BurstMedia = field(default_factory=media_burst.BurstMedia)
    # the tenant is over its daily LLM budget (over_budget offline): only the offline provider answers
    over_budget: bool = False

    @property
    def system_parts(self) -> tuple[str, ...]:
        """The system prompt in parts: what stays the same for the tenant, then what this message found."""
        return (self.system, self.knowledge_text) if self.knowledge_text else (self.system,)


@dataclass
class Attempt:
    provider: str
    model: str
    error: str


@dataclass
class Result:
    outcome: str  # text | handoff | failed
    provider: str | None = None
    model: str | None = None
    text: str = ""
    handoff: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: int = 0
    error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    # the knowledge entries the reply was written from ({"id", "title", "score"}, best first)
    sources: list[dict] = field(default_factory=list)


def load_request(cur, token_id: str, check: dict, now=None) -> Request:
    tenant = tenants.by_id(cur, check["tenant_id"])
    if tenant is None:  # the token's foreign key makes this a race with a deletion
        raise ApiError(404, "not_found", f"no tenant {check['tenant_id']}", "reply_token")
    settings = effective_settings(tenant["settings"])
    session = sessions.by_chat(cur, check["tenant_id"], check["chat_id"]) or {"id": None, "customer_name": ""}
    rows = messages.history(cur, session["id"], token_id, int(settings["history_messages"]))
    media = media_burst.read(cur, token_id)
    burst = media.lines
    conversation = history.build_conversation(rows, burst, int(settings["history_messages"]))
    variables = prompt.prompt_variables(
        business_name=tenant["business_name"], customer_name=session["customer_name"],
        timezone_name=settings["timezone"], now=now,
    )
    system = prompt.build_system_prompt(tenant["system_prompt"], variables, int(settings["max_reply_chars"]))
    # outside business hours (outside_hours reply) the model knows the shop is closed and when it opens
    system = prompt.with_hours(system, settings, now)
    customer_text = "\n".join(burst)
    has_knowledge, hits = find_knowledge(cur, check["tenant_id"], customer_text, rows, settings)
    return Request(token_id, tenant, settings, system, conversation, customer_text, has_knowledge, hits,
                   prompt.knowledge_section(has_knowledge, hits, int(settings["knowledge_max_chars"])),
                   over_budget=bool(check.get("over_budget")), media=media)


def find_knowledge(cur, tenant_id, customer_text: str, rows: list[dict], settings: dict) -> tuple[bool, list]:
    """The knowledge entries for the customer's message; when it finds none
    (a follow-up such as "and to Londrina?"), for it with the customer's
    previous message."""
    if int(settings["knowledge_max_entries"]) <= 0 or not customer_text.strip():
        return False, []
    has_knowledge, hits = knowledge.for_reply(cur, tenant_id, customer_text, settings)
    if has_knowledge and not hits:
        earlier = next((r["text"] for r in reversed(rows) if r["author"] == "customer" and (r["text"] or "").strip()),
                       None)
        if earlier:
            _, hits = knowledge.for_reply(cur, tenant_id, f"{earlier}\n{customer_text}", settings)
    return has_knowledge, hits


def generate(request: Request, options: providers.LlmOptions) -> Result:
    """The tenant's provider, then its fallbacks, until one gives a reply
    worth sending. An empty reply counts as that provider's failure."""
    settings = request.settings
    attempts: list[Attempt] = []
    started = time.perf_counter()
    voice_note = media_burst.voice_note_answer(request.media, settings)
    if voice_note is not None:
        # a voice note that could not be transcribed: the polite answer, or a person
        text, handoff = voice_note
        return Result("handoff" if handoff else "text", "hybridflow", "voice-note-fallback", text, handoff)
    if not request.customer_text.strip():
        return Result("failed", error="nothing to answer: the reply token has no customer message")
    chain = providers.provider_chain(request.tenant["llm_provider"], settings.get("fallback_providers"))
    if request.over_budget:
        chain = ["offline"]
    for name in chain:
        if name != "offline" and time.perf_counter() - started > options.reply_budget:
            attempts.append(Attempt(name, None, f"skipped: the reply's {options.reply_budget:g}s budget is spent"))
            continue
        try:
            target = providers.resolve_target(name, tenant=request.tenant, settings=settings, options=options)
            pictures = media_burst.pictures_for(name, request.media, settings)
            unseen = media_burst.unseen_note(request.media, len(pictures))
            completion = providers.complete(
                target, system=(*request.system_parts, unseen) if unseen else request.system_parts,
                conversation=request.conversation,
                customer_text=request.customer_text, settings=settings, options=options,
                knowledge=request.knowledge, pictures=pictures,
            )
        except providers.ProviderError as exc:
            attempts.append(Attempt(exc.provider, exc.model, exc.message))
            continue
        text = media_burst.offline_text(completion.text, request.media, settings) if name == "offline" else completion.text
        reply = finish_reply(text, max_chars=int(settings["max_reply_chars"]),
                             handoff_message=settings.get("handoff_message") or "")
        latency = round((time.perf_counter() - started) * 1000)
        if not reply.text and not reply.handoff:
            attempts.append(Attempt(completion.provider, completion.model, "empty reply"))
            continue
        given = request.knowledge if completion.sources is None else completion.sources
        return Result(
            "handoff" if reply.handoff else "text", completion.provider, completion.model, reply.text,
            reply.handoff, completion.tokens_in, completion.tokens_out, latency, attempts=attempts,
            sources=[hit.as_source() for hit in given],
        )
    latency = round((time.perf_counter() - started) * 1000)
    error = "; ".join(f"{a.provider} ({a.model}): {a.error}" for a in attempts) or "no provider configured"
    last = attempts[-1] if attempts else Attempt(None, None, "")
    return Result("failed", last.provider, last.model, latency_ms=latency, error=error, attempts=attempts)


def answer(result: Result) -> dict:
    tried = [{"provider": a.provider, "model": a.model, "error": a.error} for a in result.attempts]
    if result.outcome == "failed":
        return {"outcome": "failed", "error": result.error, "provider": result.provider,
                "model": result.model, "tried": tried}
    return {
        "outcome": result.outcome, "text": result.text, "handoff": result.handoff,
        "provider": result.provider, "model": result.model,
        "tokens_in": result.tokens_in, "tokens_out": result.tokens_out, "latency_ms": result.latency_ms,
        "tried": tried,
    }


def _settled(check: dict) -> dict | None:
    """The answer when no model is to write this reply: the token is no longer
    the one to answer, or the rules wrote its text (the away message)."""
    if not check["newest"]:
        return {"outcome": "superseded", "state": check["state"], "reason": check["reason"]}
    if check.get("fixed_text"):
        # sent as it is, no model asked
        return {"outcome": "text", "text": check["fixed_text"], "handoff": False, "provider": None,
                "model": None, "tokens_in": 0, "tokens_out": 0, "latency_ms": 0, "tried": []}
    return None


def reply_to_token(token_id: str, options: providers.LlmOptions, now=None) -> dict:
    """POST /reply: the answer for the flow, with every outcome recorded on the token."""
    # checked before anything is paid for: a recovered away-message token (the
    # shop is closed) or a superseded one must not transcribe its voice notes
    with db.transaction() as cur:
        settled = _settled(check_token(cur, token_id))
    if settled:
        return settled
    # the burst's voice notes become text first (the flow's node has usually done it already)
    media_burst.transcribe_pending(token_id, options)
    with db.transaction() as cur:
        check = check_token(cur, token_id)
        # again: a newer message or a person may have come while transcribing
        settled = _settled(check)
        if settled:
            return settled
        request = load_request(cur, token_id, check, now)
        if request.media.only_stickers:
            # stickers alone are not answered
            return {"outcome": "superseded", **cancel_token(cur, token_id, "nothing_to_answer")}

    media_burst.load_pictures(request.media, request.tenant, request.settings)
    result = generate(request, options)
    if result.outcome == "text":
        result.text = media_burst.with_voice_note_reply(result.text, request.media, request.settings)

    with db.transaction() as cur:
        record_llm_result(
            cur, token_id, provider=result.provider, model=result.model, outcome=result.outcome,
            tokens_in=result.tokens_in, tokens_out=result.tokens_out, latency_ms=result.latency_ms,
            text=result.text or None, handoff=result.handoff,
        )
        if result.outcome != "failed":
            reply_sources.record(cur, token_id, check["tenant_id"], result.sources)
        shown = media_burst.pictures_for(result.provider, request.media, request.settings)
        if shown and result.outcome != "failed":
            reply_tokens.record_images(cur, token_id, images=len(shown),
                                       image_tokens=media_burst.image_tokens(shown, result.provider))
        if result.outcome == "failed":
            # an already ended token keeps its end (fail_token is idempotent)
            ended = fail_token(cur, token_id, result.error)
            after = {"newest": ended["state"] == "failed", **ended}
        else:
            # a newer message or a person may have come while the model thought
            after = check_token(cur, token_id)
    # the tokens were spent whatever became of the reply (superseded meanwhile included)
    usage.count_reply_usage(result.provider, result.model, result.tokens_in, result.tokens_out,
                            current_app.extensions["llm_prices"])
    log_event(log, "reply", tenant=check["tenant_id"], chat=check["chat_id"], reply_token=str(token_id),
              outcome=result.outcome, provider=result.provider, model=result.model,
              tokens_in=result.tokens_in, tokens_out=result.tokens_out, latency_ms=result.latency_ms,
              error=result.error, tried=len(result.attempts), sources=len(result.sources))
    if not after["newest"]:
        return {"outcome": "superseded", "state": after["state"], "reason": after["reason"]}
    return answer(result)
