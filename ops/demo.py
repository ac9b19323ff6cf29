"""The demo tenant on the sandbox, so a fresh machine with no WhatsApp and no
API key can hold a conversation (the sandbox's own module does the work)."""
from __future__ import annotations

import importlib


def ensure_demo(stack) -> list[str]:
    if stack.env.get("EVOLUTION_SERVER_URL"):
        return ["  demo              skipped: EVOLUTION_SERVER_URL is set (a real Evolution is configured)"]
    try:
        demo = importlib.import_module("python_services.sandbox.demo")
    except ImportError:
        return []
    return demo.ensure_demo_tenant(
        collision_url=stack.url("collision"), admin_token=stack.env["ADMIN_TOKEN"],
        sandbox_url=stack.url("sandbox"), webhook_url=stack.url("n8n") + "/webhook/evolution",
        env=stack.service_env(),
    )
