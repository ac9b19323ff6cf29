"""The front door (real Caddy) in front of the real n8n: the webhook Evolution
is given is the door's, n8n's editor and REST API are not on it, n8n has its
owner from the start (nobody can claim it), and n8n runs without the secrets
and the $env access it does not need."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from .helpers import new_chat, wait_for

pytestmark = pytest.mark.flow


def test_the_webhook_evolution_is_given_is_the_doors_and_works(flow_stack):
    chat = new_chat(flow_stack)
    hook = requests.get(f"{flow_stack.url('sandbox')}/webhook/find/{chat.instance}",
                        headers={"apikey": flow_stack.env["SANDBOX_API_KEY"]}, timeout=10).json()
    assert hook["url"] == f"{flow_stack.url('door')}/webhook/evolution"
    chat.owner_says("#bot off")
    wait_for("the owner's command, through the door, pauses the chat", lambda: (s := chat.session()) and s["paused"])


@pytest.mark.parametrize("method, path", [
    ("POST", "/rest/owner/setup"), ("POST", "/rest/login"), ("GET", "/rest/settings"), ("GET", "/"),
    ("GET", "/home/workflows"), ("GET", "/healthz/readiness"), ("POST", "/webhook-test/evolution"),
])
def test_n8ns_editor_and_rest_api_are_not_on_the_webhook_address(flow_stack, method, path):
    through_door = requests.request(method, flow_stack.url("door") + path, json={}, timeout=30)
    assert through_door.status_code == 404
    assert through_door.json()["error"]["code"] == "not_found"


def test_the_door_gives_the_admin_api_of_the_collision_service(flow_stack):
    resp = requests.get(flow_stack.url("door") + "/api/tenants",
                        headers={"Authorization": f"Bearer {flow_stack.env['ADMIN_TOKEN']}"}, timeout=30)
    assert resp.status_code == 200 and "tenants" in resp.json()
    assert requests.get(flow_stack.url("door") + "/api/tenants", timeout=30).status_code == 401


def test_a_fresh_n8n_cannot_be_claimed_its_owner_comes_from_the_environment(flow_stack):
    n8n = flow_stack.url("n8n")
    claim = requests.post(n8n + "/rest/owner/setup", json={
        "email": "attacker@example.com", "firstName": "A", "lastName": "B", "password": "Attacker-Passw0rd!"},
        timeout=30)
    assert claim.status_code == 400, claim.text
    assert "already setup" in claim.text
    wrong = requests.post(n8n + "/rest/login", json={"emailOrLdapLoginId": "attacker@example.com",
                                                     "password": "Attacker-Passw0rd!"}, timeout=30)
    assert wrong.status_code == 401
    owner = requests.post(n8n + "/rest/login", json={"emailOrLdapLoginId": flow_stack.env["N8N_OWNER_EMAIL"],
                                                     "password": flow_stack.env["N8N_OWNER_PASSWORD"]}, timeout=30)
    assert owner.status_code == 200, owner.text
    assert owner.json()["data"]["role"] == "global:owner"


def _environ_of(pid: int) -> dict:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode(errors="replace").split("=", 1) for item in raw if b"=" in item)


def test_n8n_runs_without_secrets_it_does_not_use_and_with_env_access_closed(flow_stack):
    env = _environ_of(int(flow_stack.pidfile("n8n").read_text()))
    for secret in ("ADMIN_TOKEN", "SERVICE_TOKEN", "HYBRIDFLOW_SECRET_KEYS", "SANDBOX_API_KEY", "N8N_OWNER_PASSWORD",
                   "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "DATABASE_URL"):
        assert secret not in env, secret
    assert flow_stack.env["N8N_OWNER_PASSWORD"] not in "\n".join(env.values())
    assert env.get("N8N_BLOCK_ENV_ACCESS_IN_NODE", "true") != "false"
    assert env["N8N_INSTANCE_OWNER_MANAGED_BY_ENV"] == "true"
    assert env["N8N_INSTANCE_OWNER_PASSWORD_HASH"].startswith("$2b$")


def test_the_sandbox_has_no_admin_token(flow_stack):
    env = _environ_of(int(flow_stack.pidfile("sandbox").read_text()))
    assert "ADMIN_TOKEN" not in env and "HYBRIDFLOW_SECRET_KEYS" not in env
