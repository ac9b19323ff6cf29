"""The demo tenant: `demo` on the sandbox, so a fresh machine with no WhatsApp
and no API key can hold a conversation. Idempotent: run it as often as you
like (`make up` does, on every start).

    python -m python_services.sandbox.demo [--collision-url URL] [--admin-token T]
                                            [--sandbox-url URL] [--webhook-url URL]

It creates the tenant through the collision admin API when missing (offline
provider, or anthropic / openai when ANTHROPIC_API_KEY / OPENAI_API_KEY is
set), then connects it (POST /api/tenants/<id>/connect), which sets a fresh
webhook secret and the webhook on the sandbox. The sandbox keeps its state in
memory, so after a sandbox restart this must run again."""
from __future__ import annotations

import argparse
import os
import sys

import requests

from ..collision.connect import default_webhook_url
from ..common.config import Config
from .api import items_of

DEMO_INSTANCE = "demo"
BUSINESS_NAME = "Sandbox Sneakers"

SYSTEM_PROMPT = (
    "You are the WhatsApp assistant of {business_name}, a small sneaker shop. Answer briefly and kindly, "
    "in the customer's language, from the shop's facts below. When you do not know, say that someone "
    "from the shop will answer soon."
)

KNOWLEDGE_BASE = [
    {"question": "What are your opening hours?",
     "answer": "We are open Monday to Saturday, 9:00 to 19:00. Closed on Sundays and public holidays."},
    {"question": "Where is the shop?",
     "answer": "Rua das Flores 123, downtown, next to the central market."},
    {"question": "Do you deliver? How much is shipping?",
     "answer": "Yes, nationwide in 2 to 5 working days. Shipping is free above R$ 200, otherwise R$ 19,90."},
    {"question": "How do returns and exchanges work?",
     "answer": "Exchanges within 30 days with the receipt, shoes unworn. Returns are refunded in 7 days."},
    {"question": "Which payment methods do you accept?",
     "answer": "Pix, credit card (up to 6 instalments without interest) and cash in the shop."},
    {"question": "Do you have the Runner Azul in size 38?",
     "answer": "The Runner Azul costs R$ 249,90 and comes in sizes 34 to 44; size 38 is in stock."},
]

DEMO_SETTINGS = {
    "knowledge_base": KNOWLEDGE_BASE,
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


def _tenant_id(body) -> str | None:
    if isinstance(body, dict):
        if body.get("id"):
            return str(body["id"])
        if isinstance(body.get("tenant"), dict) and body["tenant"].get("id"):
            return str(body["tenant"]["id"])
    return None


class DemoError(RuntimeError):
    pass


def _call(session: requests.Session, method: str, url: str, **kwargs):
    try:
        resp = session.request(method, url, timeout=30, **kwargs)
    except requests.RequestException as exc:
        raise DemoError(f"{method} {url}: {type(exc).__name__}") from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if resp.status_code >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        raise DemoError(f"{method} {url} answered {resp.status_code}: {err.get('message') or resp.text[:200]}")
    return body


def ensure_demo_tenant(*, collision_url: str, admin_token: str, sandbox_url: str, webhook_url: str,
                       env: dict | None = None) -> list[str]:
    """Creates (when missing) and connects the demo tenant; returns the lines
    to print (the page's address first). Never raises for a service that is
    not up: the lines say what went wrong."""
    env = dict(os.environ if env is None else env)
    collision_url = collision_url.rstrip("/")
    sandbox_url = sandbox_url.rstrip("/")
    from .app import DEFAULT_API_KEY

    api_key = env.get("SANDBOX_API_KEY") or DEFAULT_API_KEY
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {admin_token}"
    try:
        # the instance on the sandbox (its state is in memory: it may have just started)
        _call(requests.Session(), "POST", sandbox_url + "/sandbox/instances",
              json={"instance": DEMO_INSTANCE, "business_name": BUSINESS_NAME})
        tenants = items_of(_call(session, "GET", collision_url + "/api/tenants"), "tenants", "items", "data")
        found = [t for t in tenants if isinstance(t, dict) and t.get("instance_name") == DEMO_INSTANCE]
        if found:
            tenant = found[0]
            tenant_id, created = _tenant_id(tenant), False
            if tenant.get("evo_server_url") != sandbox_url:
                _call(session, "PATCH", f"{collision_url}/api/tenants/{tenant_id}",
                      json={"evo_server_url": sandbox_url, "evo_api_key": api_key})
        else:
            provider = provider_from(env)
            new = {"instance_name": DEMO_INSTANCE, "business_name": BUSINESS_NAME,
                   "evo_server_url": sandbox_url, "evo_api_key": api_key, "system_prompt": SYSTEM_PROMPT,
                   "llm_provider": provider, "llm_model": "", "settings": DEMO_SETTINGS}
            tenant_id, created = _tenant_id(_call(session, "POST", collision_url + "/api/tenants", json=new)), True
            if tenant_id is None:
                raise DemoError("POST /api/tenants answered without the tenant's id")
        connected = _call(session, "POST", f"{collision_url}/api/tenants/{tenant_id}/connect",
                          json={"webhook_url": webhook_url})
    except DemoError as err:
        return [f"  sandbox page      {sandbox_url}/",
                f"  demo tenant       NOT ready: {err}"]
    provider = (found[0].get("llm_provider") if not created else provider_from(env)) or "?"
    return [
        f"  sandbox page      {sandbox_url}/   <- chat as the customer and as the owner",
        f"  demo tenant       {DEMO_INSTANCE!r} ({'created' if created else 'already there'}, provider "
        f"{provider}, instance state {connected.get('connection_state')}, webhook -> {webhook_url})",
    ]


def main(argv=None) -> int:
    cfg = Config.from_env()
    parser = argparse.ArgumentParser(description="Create (idempotently) the demo tenant on the sandbox.")
    parser.add_argument("--collision-url", default=cfg.collision_url)
    parser.add_argument("--admin-token", default=cfg.admin_token)
    parser.add_argument("--sandbox-url", default=cfg.sandbox_url,
                        help="the sandbox as the evolution service reaches it")
    parser.add_argument("--webhook-url", default=default_webhook_url(cfg.n8n_webhook_url),
                        help="where the sandbox posts its webhooks (n8n's inbound flow)")
    args = parser.parse_args(argv)
    if not args.admin_token:
        print("ADMIN_TOKEN is not set (environment or .env); pass --admin-token", file=sys.stderr)
        return 2
    lines = ensure_demo_tenant(collision_url=args.collision_url, admin_token=args.admin_token,
                               sandbox_url=args.sandbox_url, webhook_url=args.webhook_url, env=cfg.env)
    print("\n".join(lines))
    return 1 if any("NOT ready" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main())
