"""Where things are: the addresses one part of HybridFlow gives another."""
from __future__ import annotations

INBOUND_WEBHOOK_PATH = "webhook/evolution"


def default_webhook_url(n8n_webhook_url: str) -> str:
    """Where Evolution should post: n8n's production webhook of the inbound flow."""
    return n8n_webhook_url.rstrip("/") + "/" + INBOUND_WEBHOOK_PATH
