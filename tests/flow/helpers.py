"""What the flow scenarios share: a tenant on the sandbox, typing as the
customer or the owner, and waiting for what the bot does."""
from __future__ import annotations

import itertools
import time

import requests

from ops.tenants import onboard_tenant

_numbers = itertools.count(5511900000001)
_instances = itertools.count(1)


def wait_for(what: str, check, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {what} (last: {last!r})")


class Chat:
    """One customer chatting with one tenant through the sandbox and n8n."""

    def __init__(self, stack, tenant: dict, secret: str, number: str):
        self.stack, self.tenant, self.secret, self.number = stack, tenant, secret, number
        self.instance = tenant["instance_name"]
        self.chat_id = f"{number}@s.whatsapp.net"

    # ---- people typing ----
    def _say(self, who: str, text: str) -> dict:
        resp = requests.post(f"{self.stack.url('sandbox')}/sandbox/{who}",
                             json={"instance": self.instance, "number": self.number, "text": text, "wait": True},
                             timeout=60)
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert all(d["ok"] for d in body["deliveries"]), body["deliveries"]
        return body

    def customer_says(self, text: str) -> dict:
        return self._say("customer", text)

    def owner_says(self, text: str) -> dict:
        return self._say("owner", text)

    # ---- what happened ----
    def messages(self, author: str | None = None) -> list[dict]:
        resp = requests.get(f"{self.stack.url('sandbox')}/sandbox/messages",
                            params={"instance": self.instance, "number": self.number}, timeout=10)
        msgs = resp.json()["messages"]
        return [m for m in msgs if author is None or m["author"] == author]

    def bot_replies(self) -> list[str]:
        return [m["text"] for m in self.messages("bot")]

    def wait_for_bot_replies(self, count: int = 1, timeout: float = 30.0) -> list[str]:
        return wait_for(f"{count} bot replies", lambda: (r := self.bot_replies()) and len(r) >= count and r, timeout)

    def query(self, sql: str, *params) -> list[dict]:
        with self.stack.db() as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def events(self) -> list[dict]:
        return self.query("SELECT event_type, decision, reason, wa_message_id FROM events"
                          " WHERE tenant_id = %s AND (chat_id = %s OR chat_id IS NULL) ORDER BY id",
                          self.tenant["id"], self.chat_id)

    def decisions(self) -> list[str]:
        return [e["decision"] for e in self.events()]

    def tokens(self) -> list[dict]:
        return self.query("SELECT id, state, reason, error FROM reply_tokens WHERE tenant_id = %s AND chat_id = %s"
                          " ORDER BY created_at", self.tenant["id"], self.chat_id)

    def tokens_attempts(self) -> list[int]:
        return [r["attempts"] for r in self.query(
            "SELECT attempts FROM reply_tokens WHERE tenant_id = %s AND chat_id = %s ORDER BY created_at",
            self.tenant["id"], self.chat_id)]

    def all_tokens_ended(self) -> bool:
        tokens = self.tokens()
        return bool(tokens) and all(t["state"] not in ("pending", "claimed") for t in tokens)

    def session(self) -> dict | None:
        rows = self.query("SELECT * FROM sessions WHERE tenant_id = %s AND chat_id = %s", self.tenant["id"], self.chat_id)
        return rows[0] if rows else None


def new_chat(stack, settings: dict | None = None, provider: str = "anthropic") -> Chat:
    """A fresh tenant on the sandbox, connected (webhook set to n8n), and a new customer number."""
    instance = f"flow-shop-{next(_instances)}-{int(time.time() * 1000) % 100000}"
    body = {
        "instance_name": instance,
        "business_name": "Flow Test Shop",
        "evo_server_url": stack.url("sandbox"),
        "evo_api_key": stack.env["SANDBOX_API_KEY"],
        "system_prompt": "You are the assistant of {business_name}.",
        "llm_provider": provider,
        "llm_model": "claude-test" if provider == "anthropic" else "",
        "settings": {"debounce_seconds": 0, "typing": False, **(settings or {})},
    }
    # the phone's instance exists on the sandbox before HybridFlow is connected to it
    made = requests.post(stack.url("sandbox") + "/sandbox/instances",
                         json={"instance": instance, "business_name": "Flow Test Shop"}, timeout=10)
    assert made.status_code in (200, 201), made.text
    tenant, secret = onboard_tenant(stack.url("collision"), stack.env["ADMIN_TOKEN"], body, stack.webhook_url)
    tenant_row = {"id": tenant["id"], "instance_name": instance}
    return Chat(stack, tenant_row, secret, str(next(_numbers)))


class FakeLLMControl:
    """Scripts the fake LLM process over its /_fake API."""

    def __init__(self, url: str):
        self.url = url

    def reset(self):
        requests.post(self.url + "/_fake/reset", timeout=10).raise_for_status()

    def script(self, queue=None, rules=None):
        requests.post(self.url + "/_fake/script", json={"queue": queue or [], "rules": rules or []},
                      timeout=10).raise_for_status()

    def requests(self) -> list[dict]:
        return requests.get(self.url + "/_fake/requests", timeout=10).json()["requests"]

    def prompts_containing(self, text: str) -> list[dict]:
        import json as _json

        return [r for r in self.requests() if text in _json.dumps(r["body"], ensure_ascii=False)]


class SandboxControl:
    def __init__(self, url: str):
        self.url = url

    def knobs(self, **knobs):
        resp = requests.post(self.url + "/sandbox/knobs", json=knobs, timeout=10)
        assert resp.status_code == 200, resp.text

    def reset(self):
        requests.post(self.url + "/sandbox/reset", json={}, timeout=30).raise_for_status()

    def calls(self, instance: str, kind: str) -> list[dict]:
        return requests.get(self.url + "/sandbox/calls", params={"instance": instance, "kind": kind},
                            timeout=10).json()["calls"]

    def wait_deliveries(self):
        requests.get(self.url + "/sandbox/deliveries", params={"wait": "1"}, timeout=30)
