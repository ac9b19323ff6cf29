"""The demo tenant: `demo` on the sandbox, so a fresh machine with no WhatsApp
and no API key can hold a conversation. Idempotent: `make up` runs it on
every start, and so can you:

    python -m ops.demo [--collision-url URL] [--admin-token T] [--sandbox-url URL] [--webhook-url URL]

It makes the instance on the sandbox, creates the tenant through the
collision admin API when missing (offline provider, or anthropic / openai
when ANTHROPIC_API_KEY / OPENAI_API_KEY is set), gives it the shop's
knowledge base when it has none (POST /api/tenants/<id>/knowledge, one entry
each: an owner's edits are never overwritten) and connects it, which sets
the webhook on the sandbox with the tenant's secret, and gives the tenant
an owner who can log in to the console (DEMO_OWNER_EMAIL, by default
owner@sandbox-sneakers.example; the password: DEMO_OWNER_PASSWORD in .env).
The sandbox keeps its state in memory, so after a sandbox restart this must run again. It lives in
ops, beside `make up`, because it is a client of two services; the sandbox
itself onboards nobody."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import requests

from .stack import Stack
from .tenants import (
    OnboardingError,
    admin_session,
    call,
    connect_tenant,
    list_tenants,
    onboard_tenant,
    update_tenant,
)

DEMO_INSTANCE = "demo"
BUSINESS_NAME = "Sandbox Sneakers"
# the demo tenant's owner, who logs in to the console (DEMO_OWNER_EMAIL changes
# it; the password is DEMO_OWNER_PASSWORD, generated into .env by make up)
DEFAULT_OWNER_EMAIL = "owner@sandbox-sneakers.example"

SYSTEM_PROMPT = (
    "You are the WhatsApp assistant of {business_name}, a small sneaker shop. Answer briefly and kindly, "
    "in the customer's language, from the shop's facts below. When you do not know, say that someone "
    "from the shop will answer soon."
)

# the shop's knowledge base: entries made through the knowledge API (tags: other words customers use)
KNOWLEDGE_BASE = [
    {"title": "What are your opening hours?", "tags": ["open", "horário", "horario"],
     "content": "We are open Monday to Saturday, 9:00 to 19:00. Closed on Sundays and public holidays."},
    {"title": "Where is the shop?", "tags": ["address", "endereço", "dirección"],
     "content": "Rua das Flores 123, downtown, next to the central market."},
    {"title": "Do you deliver? How much is shipping?", "tags": ["delivery", "frete", "entrega", "envío"],
     "content": "Yes, nationwide in 2 to 5 working days. Shipping is free above R$ 200, otherwise R$ 19,90."},
    {"title": "How do returns and exchanges work?", "tags": ["return", "troca", "devolução", "cambio"],
     "content": "Exchanges within 30 days with the receipt, shoes unworn. Returns are refunded in 7 days."},
    {"title": "Which payment methods do you accept?", "tags": ["pay", "pagamento", "pix", "cartão", "tarjeta"],
     "content": "Pix, credit card (up to 6 instalments without interest) and cash in the shop."},
    {"title": "Do you have the Runner Azul in size 38?", "tags": ["runner", "azul", "tamanho", "size"],
     "content": "The Runner Azul costs R$ 249,90 and comes in sizes 34 to 44; size 38 is in stock."},
]

DEMO_SETTINGS = {
    # the entries are in English (customers' Portuguese and Spanish words are in their tags)
    "knowledge_language": "english",
    "debounce_seconds": 2,
    # the owner's takeover ends by itself after two minutes (or with "#bot on")
    "resume_after_minutes": 2,
    "typing": True,
    "typing_max_ms": 2500,
}


def provider_from(env: dict) -> str:
    if env.get("ANTHROPIC_API_KEY"):
        return "anthropic"
    if env.get("OPENAI_API_KEY"):
        return "openai"
    return "offline"


def demo_tenant_body(sandbox_url: str, api_key: str, provider: str) -> dict:
    return {"instance_name": DEMO_INSTANCE, "business_name": BUSINESS_NAME, "evo_server_url": sandbox_url,
            "evo_api_key": api_key, "system_prompt": SYSTEM_PROMPT, "llm_provider": provider, "llm_model": "",
            "settings": DEMO_SETTINGS}


def ensure_demo_knowledge(session, collision_url: str, tenant_id: str) -> int:
    """The shop's entries, when the demo's knowledge base is empty (an owner's
    own entries and edits stay); how many were added."""
    url = f"{collision_url}/api/tenants/{tenant_id}/knowledge"
    if call(session, "GET", url, 200, params={"limit": 1})["total"]:
        return 0
    for entry in KNOWLEDGE_BASE:
        call(session, "POST", url, 201, json=entry)
    return len(KNOWLEDGE_BASE)


def make_sandbox_instance(sandbox_url: str) -> None:
    """The demo's phone on the sandbox (in memory: it may have just started)."""
    url = sandbox_url + "/sandbox/instances"
    try:
        resp = requests.post(url, json={"instance": DEMO_INSTANCE, "business_name": BUSINESS_NAME}, timeout=30)
    except requests.RequestException as exc:
        raise OnboardingError(f"POST {url}: {type(exc).__name__} (is the sandbox running?)") from None
    if resp.status_code not in (200, 201):
        raise OnboardingError(f"POST {url} answered {resp.status_code}: {resp.text[:200]}")


def sandbox_api_key(env: dict) -> str:
    """The key the sandbox checks; `make up` generates it into .env, so no default is relied on."""
    if not env.get("SANDBOX_API_KEY"):
        raise OnboardingError("SANDBOX_API_KEY is not set (`make up` generates it into .env)")
    return env["SANDBOX_API_KEY"]


def ensure_demo_owner(session, collision_url: str, tenant_id: str, env: dict) -> str:
    """The demo tenant's owner account (made when missing: POST
    /api/tenants/<id>/users; 409 means it is there already); the line to print.
    An account made before keeps the password it was made with."""
    email = env.get("DEMO_OWNER_EMAIL") or DEFAULT_OWNER_EMAIL
    env_file = Path(env.get("HYBRIDFLOW_ENV_FILE") or ".env").name
    password = env.get("DEMO_OWNER_PASSWORD")
    if not password:
        return f"  {'demo owner login':<20}NOT made: DEMO_OWNER_PASSWORD is not set (`make up` generates it into .env)"
    url = f"{collision_url}/api/tenants/{tenant_id}/users"
    try:
        resp = session.post(url, json={"email": email, "password": password, "role": "owner"}, timeout=30)
    except requests.RequestException as exc:
        return f"  {'demo owner login':<20}NOT made: POST {url}: {type(exc).__name__}"
    if resp.status_code not in (201, 409):
        return f"  {'demo owner login':<20}NOT made: POST {url} answered {resp.status_code}: {resp.text[:200]}"
    state = "created" if resp.status_code == 201 else "already there"
    return f"  {'demo owner login':<20}{email}   (password: DEMO_OWNER_PASSWORD in {env_file}; {state})"


def ensure_demo_tenant(*, collision_url: str, admin_token: str, sandbox_url: str, webhook_url: str,
                       env: dict | None = None) -> list[str]:
    """Creates (when missing) and connects the demo tenant; returns the lines
    to print (the page's address first). Never raises for a service that is
    not up: the lines say what went wrong."""
    env = dict(os.environ if env is None else env)
    collision_url, sandbox_url = collision_url.rstrip("/"), sandbox_url.rstrip("/")
    session = admin_session(admin_token)
    try:
        make_sandbox_instance(sandbox_url)
        found = [t for t in list_tenants(session, collision_url) if t.get("instance_name") == DEMO_INSTANCE]
        if found:
            tenant, created = found[0], False
            # the sandbox's address and key may have changed since (a new port, a generated key)
            changes = {"evo_server_url": sandbox_url, "evo_api_key": sandbox_api_key(env)}
            if "knowledge_language" not in (tenant.get("settings") or {}):  # made before the knowledge API
                changes["settings"] = {"knowledge_language": DEMO_SETTINGS["knowledge_language"]}
            update_tenant(session, collision_url, tenant["id"], changes)
            connect_tenant(session, collision_url, tenant["id"], webhook_url)
        else:
            body = demo_tenant_body(sandbox_url, sandbox_api_key(env), provider_from(env))
            tenant, _secret = onboard_tenant(collision_url, admin_token, body, webhook_url)
            created = True
        ensure_demo_knowledge(session, collision_url, tenant["id"])
    except OnboardingError as err:
        return [f"  sandbox page        {sandbox_url}/",
                f"  demo tenant         NOT ready: {err}"]
    state = "created" if created else "already there"
    return [
        f"  sandbox page        {sandbox_url}/   <- chat as the customer and as the owner",
        f"  demo tenant         {DEMO_INSTANCE!r} ({state}, provider {tenant.get('llm_provider') or '?'}, "
        + f"webhook -> {webhook_url})",
        ensure_demo_owner(session, collision_url, tenant["id"], env),
    ]


def ensure_demo(stack: Stack) -> list[str]:
    """The demo on `make up`'s stack, unless a real Evolution is configured."""
    if stack.env.get("EVOLUTION_SERVER_URL"):
        return ["  demo                skipped: EVOLUTION_SERVER_URL is set (a real Evolution is configured)"]
    return ensure_demo_tenant(collision_url=stack.url("collision"), admin_token=stack.env["ADMIN_TOKEN"],
                              sandbox_url=stack.url("sandbox"), webhook_url=stack.webhook_url,
                              env=stack.service_env())


def main(argv=None) -> int:
    stack = Stack.from_environment()
    parser = argparse.ArgumentParser(description="Create (idempotently) the demo tenant on the sandbox.")
    parser.add_argument("--collision-url", default=stack.url("collision"))
    parser.add_argument("--admin-token", default=stack.env.get("ADMIN_TOKEN"))
    parser.add_argument("--sandbox-url", default=stack.url("sandbox"),
                        help="the sandbox as the evolution service reaches it")
    parser.add_argument("--webhook-url", default=stack.webhook_url,
                        help="where the sandbox posts its webhooks (n8n's inbound flow)")
    args = parser.parse_args(argv)
    if not args.admin_token:
        print("ADMIN_TOKEN is not set (environment or .env); pass --admin-token", file=sys.stderr)
        return 2
    lines = ensure_demo_tenant(collision_url=args.collision_url, admin_token=args.admin_token,
                               sandbox_url=args.sandbox_url, webhook_url=args.webhook_url,
                               env=stack.service_env())
    print("\n".join(lines))
    return 1 if any("NOT ready" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
