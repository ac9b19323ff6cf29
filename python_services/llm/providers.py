"""The providers, through the official SDKs only: anthropic (Messages API),
openai (Chat Completions), openai_compatible (the openai SDK against the
tenant's own base URL: Ollama, vLLM, LM Studio) and offline (the knowledge
base's best entry, no network). Every provider gets the same system prompt,
the knowledge base's section included (reply.py, prompt.knowledge_section).

Keys and URLs come from the service's environment (ANTHROPIC_API_KEY,
ANTHROPIC_BASE_URL, OPENAI_API_KEY, OPENAI_BASE_URL), passed to the SDK
explicitly so that the service's Config is the one source. A tenant's own
settings.llm_api_key and llm_model apply to its chosen provider only: a
fallback uses the deployment's key and default model (an Anthropic key is
no use to OpenAI). The deployment's OPENAI_API_KEY is never sent to a
tenant's own base URL."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import anthropic
import openai

from ..core.settings import PROVIDERS
from . import images, offline
from .prompt import HANDOFF_MARKER


DEFAULT_MODELS = {
    "anthropic": "claude-haiku-4-5",
    "openai": "gpt-4.1-mini",
    "openai_compatible": "llama3.2",
    "offline": "knowledge-base",
}
ANTHROPIC_DEFAULT_URL = "https://api.anthropic.com"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
# local OpenAI-compatible servers want some key and ignore its value
NO_KEY = "not-needed"


@dataclass(frozen=True)
class LlmOptions:
    """The service-wide LLM settings (Config's llm_* and the SDKs' variables)."""
    timeout: float
    max_retries: int
    # the whole reply, fallbacks included, must end before the caller gives up
    # (gunicorn and n8n's HTTP node allow 120 s): past this only offline runs
    reply_budget: float = 90.0
    anthropic_api_key: str = ""
    anthropic_base_url: str = ""
    openai_api_key: str = ""
    openai_base_url: str = ""

    @classmethod
    def from_config(cls, cfg) -> "LlmOptions":
        return cls(timeout=cfg.llm_timeout, max_retries=cfg.llm_max_retries, reply_budget=cfg.llm_reply_budget,
                   anthropic_api_key=cfg.anthropic_api_key, anthropic_base_url=cfg.anthropic_base_url,
                   openai_api_key=cfg.openai_api_key, openai_base_url=cfg.openai_base_url)


@dataclass(frozen=True)
class Target:
    """One provider, ready to call: which model, with which key, where."""
    provider: str
    model: str
    api_key: str = ""
    base_url: str = ""


@dataclass(frozen=True)
class Completion:
    provider: str
    model: str
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    # the knowledge entries it was written from; None: every entry it was given
    sources: tuple | None = None


class ProviderError(Exception):
    """A provider could not answer (after the SDK's own retries)."""

    def __init__(self, provider: str, model: str, message: str):
        super().__init__(f"{provider} ({model}): {message}" if model else f"{provider}: {message}")
        self.provider = provider
        self.model = model
        self.message = message


class Unavailable(ProviderError):
    """The provider is not configured (no key, no base URL): skipped."""


def provider_chain(primary: str, fallbacks) -> list[str]:
    """The tenant's provider, then its fallbacks, each once."""
    chain: list[str] = []
    for name in [primary, *(fallbacks or [])]:
        if name in PROVIDERS and name not in chain:
            chain.append(name)
    return chain


def resolve_target(provider: str, *, tenant: dict, settings: dict, options: LlmOptions) -> Target:
    """The model, key and URL for one provider of the chain, or Unavailable."""
    primary = provider == tenant.get("llm_provider")
    model = (tenant.get("llm_model") or "").strip() if primary else ""
    model = model or DEFAULT_MODELS[provider]
    tenant_key = (settings.get("llm_api_key") or "").strip() if primary else ""
    if provider == "offline":
        return Target(provider, model)
    if provider == "anthropic":
        key = tenant_key or options.anthropic_api_key
        if not key:
            raise Unavailable(provider, model, "no API key (ANTHROPIC_API_KEY or settings.llm_api_key)")
        return Target(provider, model, key, options.anthropic_base_url or ANTHROPIC_DEFAULT_URL)
    if provider == "openai":
        key = tenant_key or options.openai_api_key
        if not key:
            raise Unavailable(provider, model, "no API key (OPENAI_API_KEY or settings.llm_api_key)")
        return Target(provider, model, key, options.openai_base_url or OPENAI_DEFAULT_URL)
    if provider == "openai_compatible":
        base_url = (settings.get("llm_base_url") or "").strip()
        if not base_url:
            raise Unavailable(provider, model, "no base URL (settings.llm_base_url)")
        return Target(provider, model, tenant_key or NO_KEY, base_url)
    raise Unavailable(provider, model, "unknown provider")


# ------------------------------------------------------------------ SDK clients
# One client per (key, url, limits): the SDK keeps a connection pool in it and
# is safe to share between threads.

_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()
_MAX_CLIENTS = 64


def _client(kind: str, target: Target, options: LlmOptions):
    key = (kind, target.api_key, target.base_url, options.timeout, options.max_retries)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if len(_clients) >= _MAX_CLIENTS:
                _clients.pop(next(iter(_clients))).close()
            factory = anthropic.Anthropic if kind == "anthropic" else openai.OpenAI
            client = _clients[key] = factory(
                api_key=target.api_key, base_url=target.base_url,
                timeout=options.timeout, max_retries=options.max_retries,
            )
        return client


def openai_client(target: Target, options: LlmOptions):
    """The openai SDK's client for a target (transcription uses it too)."""
    return _client("openai", target, options)


def _error_fields(body) -> tuple[str, str]:
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("type") or inner.get("code") or ""), str(inner.get("message") or "")
    return "", ""


def describe_error(exc: BaseException, options: LlmOptions) -> str:
    """One line a person can act on, without the SDK's long boilerplate."""
    status = getattr(exc, "status_code", None)
    if isinstance(exc, (anthropic.APIStatusError, openai.APIStatusError)) and status is not None:
        kind, message = _error_fields(getattr(exc, "body", None))
        text = f"HTTP {status}" + (f" {kind}" if kind else "") + (f": {message}" if message else "")
    elif isinstance(exc, (anthropic.APITimeoutError, openai.APITimeoutError)):
        text = f"timed out after {options.timeout:g}s"
    elif isinstance(exc, (anthropic.APIConnectionError, openai.APIConnectionError)):
        cause = exc.__cause__ or exc.__context__
        text = "connection failed" + (f": {type(cause).__name__}" if cause else "")
    else:
        text = f"{type(exc).__name__}: {exc}"
    if options.max_retries and isinstance(exc, (anthropic.APIError, openai.APIError)):
        text += f" (after {options.max_retries} retries)" if _retryable(exc) else ""
    return text[:500]


def _retryable(exc) -> bool:
    status = getattr(exc, "status_code", None)
    if status is None:
        return isinstance(exc, (anthropic.APIConnectionError, openai.APIConnectionError))
    return status in (408, 409, 429) or status >= 500


# ------------------------------------------------------------------ calls

def _system_text(system) -> str:
    return "\n\n".join(p for p in ((system,) if isinstance(system, str) else system) if p)


def call_anthropic(target: Target, system, conversation: list[dict], max_tokens: int,
                   options: LlmOptions, pictures=()) -> Completion:
    parts = [system] if isinstance(system, str) else [p for p in system if p]
    # the tenant's rendered prompt is the long, repeated part: cache it; what the
    # knowledge base found for this message follows it, uncached
    blocks = [{"type": "text", "text": parts[0], "cache_control": {"type": "ephemeral"}},
              *({"type": "text", "text": p} for p in parts[1:])]
    response = _client("anthropic", target, options).messages.create(
        model=target.model,
        max_tokens=max_tokens,
        system=blocks,
        messages=images.with_images(conversation, list(pictures), "anthropic"),
    )
    text = "".join(block.text for block in response.content or [] if getattr(block, "type", "") == "text")
    usage = response.usage
    tokens_in = (usage.input_tokens or 0) + (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
    return Completion(target.provider, response.model or target.model, text, tokens_in, usage.output_tokens or 0)


def call_openai(target: Target, system, conversation: list[dict], max_tokens: int,
                options: LlmOptions, pictures=()) -> Completion:
    limit = {"max_completion_tokens": max_tokens} if target.provider == "openai" else {"max_tokens": max_tokens}
    response = _client("openai", target, options).chat.completions.create(
        model=target.model,
        messages=[{"role": "system", "content": _system_text(system)},
                  *images.with_images(conversation, list(pictures), "openai")],
        **limit,
    )
    choice = response.choices[0] if response.choices else None
    text = (choice.message.content if choice and choice.message else None) or ""
    usage = response.usage
    tokens_in = (usage.prompt_tokens or 0) if usage else 0
    tokens_out = (usage.completion_tokens or 0) if usage else 0
    return Completion(target.provider, response.model or target.model, text, tokens_in, tokens_out)


def call_offline(target: Target, knowledge: list, max_chars: int) -> Completion:
    """The best knowledge-base entry's content (a long one: the part around
    the question's words) when it answers the question on its own, or the
    handoff marker (the caller turns it into the tenant's handoff message)."""
    hit = offline.answer_from(knowledge)
    if hit is None:
        return Completion(target.provider, target.model, HANDOFF_MARKER, sources=())
    return Completion(target.provider, target.model, hit.passage(max_chars), sources=(hit,))


def complete(target: Target, *, system, conversation: list[dict], customer_text: str,
             settings: dict, options: LlmOptions, knowledge: list = (), pictures=()) -> Completion:
    """One provider's answer; every failure comes back as a ProviderError.
    `system` is the system prompt, or its parts (the tenant's prompt, then
    the knowledge base's section); `knowledge` the entries found for the
    customer's message (the offline provider answers from the best);
    `pictures` the burst's photos (llm/images.py), added to the last turn."""
    if target.provider == "offline":
        return call_offline(target, list(knowledge), int(settings.get("max_reply_chars") or 1000))
    call = call_anthropic if target.provider == "anthropic" else call_openai
    try:
        return call(target, system, conversation, int(settings.get("llm_max_tokens") or 1024), options, pictures)
    except Exception as exc:  # noqa: BLE001 - every provider problem becomes a recorded outcome
        raise ProviderError(target.provider, target.model, describe_error(exc, options)) from exc
