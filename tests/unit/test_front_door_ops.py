"""How `make up` wires the front door and n8n's owner: the labelled address
lines of DESIGN.md, the door between Evolution and n8n, each process with only
its secrets, the owner's bcrypt hash (kept while the password is the same),
$env left closed."""
from __future__ import annotations

import re
from pathlib import Path

import bcrypt

from ops import generated_secrets, n8n
from ops.__main__ import print_addresses
from ops.isolated import PORT_NAMES
from ops.stack import DEFAULT_PORTS, SECRETS, Stack

ENV = {"SERVICE_TOKEN": "svc-token", "ADMIN_TOKEN": "admin-token", "N8N_ENCRYPTION_KEY": "enc-key",
       "HYBRIDFLOW_SECRET_KEYS": "keys", "SANDBOX_API_KEY": "sandbox-key", "N8N_OWNER_PASSWORD": "owner-pass",
       "ANTHROPIC_API_KEY": "anthropic-key"}


def make_stack(tmp_path: Path, **env) -> Stack:
    return Stack(data_dir=tmp_path, env={**ENV, **env})


def line_of(out: str, label: str) -> str:
    """The address on `make up`'s line with this label."""
    [address] = re.findall(rf"^  {label}\s{{2,}}(\S+)", out, re.MULTILINE)
    return address


def test_make_up_prints_the_labelled_lines_with_the_door_as_the_webhook(tmp_path, capsys):
    print_addresses(make_stack(tmp_path), ["  sandbox page        http://127.0.0.1:8090/"])
    out = capsys.readouterr().out
    labels = {m.group(1).strip(): m.group(2) for m in re.finditer(r"^  (\S[\w ]*?)\s{2,}(\S+)", out, re.MULTILINE)}
    assert labels["Evolution webhook"] == "http://127.0.0.1:8080/webhook/evolution"
    assert labels["admin API"] == "http://127.0.0.1:8080/api/"
    assert labels["console"] == "http://127.0.0.1:8080/console/"
    assert labels["n8n editor"] == "http://127.0.0.1:5678/"
    assert labels["sandbox page"] == "http://127.0.0.1:8090/"
    assert "login admin@hybridflow.local" in out and "owner-pass" not in out


def test_a_public_address_set_by_the_operator_is_what_evolution_is_given(tmp_path, capsys):
    stack = make_stack(tmp_path, N8N_WEBHOOK_URL="https://bot.example.com/")
    print_addresses(stack, [])
    assert "Evolution webhook   https://bot.example.com/webhook/evolution" in capsys.readouterr().out
    # the sandbox and the demo still post to the door on loopback
    assert stack.webhook_url == "http://127.0.0.1:8080/webhook/evolution"


def test_the_door_sends_webhooks_to_n8n_and_the_api_to_the_services(tmp_path):
    env = make_stack(tmp_path).door_env()
    assert env["DOOR_WEBHOOK_UPSTREAMS"] == "127.0.0.1:5678"
    assert (env["DOOR_COLLISION_UPSTREAM"], env["DOOR_LLM_UPSTREAM"]) == ("127.0.0.1:8001", "127.0.0.1:8002")
    assert env["DOOR_BIND"] == "127.0.0.1" and env["DOOR_SITE"] == "http://:8080"
    assert not set(env) & set(SECRETS)


def test_the_doors_metrics_are_on_loopback_on_a_port_of_their_own(tmp_path, capsys):
    stack = make_stack(tmp_path)
    env = stack.door_env()
    assert (env["DOOR_METRICS_BIND"], env["DOOR_METRICS_PORT"]) == ("127.0.0.1", "2019")
    print_addresses(stack, [])
    assert line_of(capsys.readouterr().out, "door metrics") == "http://127.0.0.1:2019/metrics"


def test_make_up_takes_the_doors_metrics_port_from_env(tmp_path, monkeypatch):
    monkeypatch.setattr("ops.stack.read_environment", lambda: {**ENV, "DOOR_METRICS_PORT": "9119"})
    stack = Stack.from_environment()
    assert stack.door_env()["DOOR_METRICS_PORT"] == "9119" and stack.ports["door"] == 8080


def test_a_stack_of_the_tests_has_a_free_port_for_each_of_make_ups():
    # a port missing here would be make up's fixed one, shared by every test stack (and make up)
    assert set(DEFAULT_PORTS) <= set(PORT_NAMES)


def test_in_queue_mode_the_door_sends_webhooks_to_the_webhook_processors(tmp_path):
    stack = make_stack(tmp_path)
    stack.queue_workers, stack.webhook_processors = 1, 2
    assert stack.door_env()["DOOR_WEBHOOK_UPSTREAMS"].split() == ["127.0.0.1:5689", "127.0.0.1:5690"]


def test_each_process_gets_only_the_secrets_it_uses(tmp_path):
    stack = make_stack(tmp_path)
    held = {name: {k for k in SECRETS if k in stack.env_for(name)}
            for name in ("collision", "llm", "evolution", "sandbox", "n8n")}
    assert held["sandbox"] == {"SANDBOX_API_KEY", "SERVICE_TOKEN"}
    assert held["n8n"] == {"N8N_ENCRYPTION_KEY"}
    assert held["evolution"] == {"SERVICE_TOKEN", "HYBRIDFLOW_SECRET_KEYS"}
    assert "ADMIN_TOKEN" in held["collision"] and "N8N_OWNER_PASSWORD" not in set().union(*held.values())
    assert "DATABASE_URL" not in stack.env_for("sandbox")


def test_the_console_gets_its_port_behind_the_door_and_only_its_secrets(tmp_path):
    stack = make_stack(tmp_path, CONSOLE_SECRET_KEY="console-key")
    assert stack.door_env()["DOOR_CONSOLE_UPSTREAM"] == "127.0.0.1:8004"
    env = stack.env_for("console")
    assert {k for k in SECRETS if k in env} == {"SERVICE_TOKEN", "HYBRIDFLOW_SECRET_KEYS", "CONSOLE_SECRET_KEY"}
    assert "DATABASE_URL" in env
    assert "CONSOLE_SECRET_KEY" not in stack.env_for("collision")
    # the sandbox page links to the console through the door
    assert stack.env_for("sandbox")["CONSOLE_URL"] == "http://127.0.0.1:8080/console/"


def test_n8n_gets_its_owner_as_a_bcrypt_hash_and_env_access_stays_closed(tmp_path):
    stack = make_stack(tmp_path)
    stack.server_url = "postgresql://postgres@127.0.0.1:5432/postgres"
    env = stack.n8n_env()
    assert env["N8N_INSTANCE_OWNER_MANAGED_BY_ENV"] == "true"
    assert env["N8N_INSTANCE_OWNER_EMAIL"] == "admin@hybridflow.local"
    assert re.fullmatch(r"\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}", env["N8N_INSTANCE_OWNER_PASSWORD_HASH"])
    assert bcrypt.checkpw(b"owner-pass", env["N8N_INSTANCE_OWNER_PASSWORD_HASH"].encode())
    assert "owner-pass" not in env.values()
    assert "N8N_BLOCK_ENV_ACCESS_IN_NODE" not in env
    for secret in ("ADMIN_TOKEN", "SERVICE_TOKEN", "HYBRIDFLOW_SECRET_KEYS", "ANTHROPIC_API_KEY"):
        assert secret not in env


def test_the_owner_hash_is_kept_while_the_password_is_the_same(tmp_path):
    cache = tmp_path / "owner.hash"
    first = n8n.password_hash("one", cache)
    assert n8n.password_hash("one", cache) == first  # the editor's sessions survive a restart
    assert not cache.read_text().endswith("\n")  # n8n reads it as a _FILE value
    second = n8n.password_hash("two", cache)
    assert second != first and bcrypt.checkpw(b"two", second.encode())
    assert cache.stat().st_mode & 0o077 == 0


def test_make_up_generates_the_owner_password_once(tmp_path):
    env: dict = {}
    made = generated_secrets.ensure(env, tmp_path / ".env")
    assert "N8N_OWNER_PASSWORD" in made and len(env["N8N_OWNER_PASSWORD"]) >= 32
    assert generated_secrets.ensure(env, tmp_path / ".env") == []


def test_each_queue_mode_worker_serves_its_metrics_on_a_port_of_its_own(tmp_path):
    # with N8N_METRICS on, a worker opens a server on QUEUE_HEALTH_CHECK_PORT (n8n's
    # default 5678, the main n8n's own port) and exits at once when the port is taken
    stack = make_stack(tmp_path)
    stack.queue_workers = 2
    ports = [int(stack.worker_env(n)["QUEUE_HEALTH_CHECK_PORT"]) for n in (1, 2)]
    taken = {stack.ports["n8n"], *[int(stack.worker_env(n)["N8N_RUNNERS_BROKER_PORT"]) for n in (1, 2)],
             *[stack.webhook_processor_port(n) for n in (1, 2)]}
    assert len(set(ports)) == 2 and not set(ports) & taken
    assert stack.worker_env(1)["N8N_WORKER_SERVER_ADDRESS"] == "127.0.0.1"
