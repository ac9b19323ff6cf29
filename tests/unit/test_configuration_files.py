"""docker-compose.yml (and docker-compose.scale.yml on top of it) agrees with
the Makefile path and keeps to least privilege: only the door publishes
ports, the sandbox is development only, n8n and the services have their own
Postgres roles and only the secrets they use, $env stays closed, queue mode
is queue mode everywhere; .env.example documents every variable the code reads."""
import json
import re

import pytest
import yaml

from ops.n8n import N8N_DEFAULTS, N8N_FIXED_ENV
from python_services.common.config import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SCALE = yaml.safe_load((PROJECT_ROOT / "docker-compose.scale.yml").read_text())
ONE_SHOT = {"migrate", "render", "n8n-import"}
N8N_PROCESSES = {"n8n", "n8n-worker", "n8n-webhook-1", "n8n-webhook-2"}


def _merged(base: dict, override: dict) -> dict:
    """docker compose -f base -f override: mappings merged key by key, the rest replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


SCALED = _merged(COMPOSE, SCALE)["services"]
ALL = {**SERVICES, **SCALED}


def _env(svc: dict) -> dict:
    return {k: str(v) for k, v in (svc.get("environment") or {}).items()}


def _n8n_version():
    return json.loads((PROJECT_ROOT / "package.json").read_text())["dependencies"]["n8n"]


def test_compose_runs_the_same_n8n_version_as_make_up():
    images = {s["image"] for s in ALL.values() if "n8n" in s.get("image", "")}
    assert images == {f"docker.n8n.io/n8nio/n8n:{_n8n_version()}"}


def test_package_lock_pins_the_same_n8n():
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/n8n"]["version"] == _n8n_version()


def test_compose_postgres_is_16_or_newer():
    tag = SERVICES["postgres"]["image"].split(":")[1]
    assert int(re.match(r"\d+", tag).group()) >= 16


def test_every_long_running_compose_service_has_a_healthcheck():
    for name, svc in ALL.items():
        if name in ONE_SHOT:
            continue
        assert "healthcheck" in svc, f"{name} has no healthcheck"


def test_n8n_waits_for_the_one_shot_import():
    assert SERVICES["n8n"]["depends_on"]["n8n-import"]["condition"] == "service_completed_successfully"


def test_compose_n8n_gets_the_same_settings_as_make_up():
    env = SERVICES["n8n"]["environment"]
    for key, value in N8N_FIXED_ENV.items():
        if key in ("N8N_LISTEN_ADDRESS", "N8N_HOST", "N8N_PROTOCOL"):
            continue  # in a container n8n listens on all interfaces
        if key == "N8N_SECURE_COOKIE":
            continue  # behind the door's TLS: on (below)
        assert key in env, key
        assert str(env[key]) == value, key
    for key in N8N_DEFAULTS:
        assert key in env, key


def test_the_door_is_the_only_service_with_published_ports():
    for name, svc in ALL.items():
        if name != "door":
            assert "ports" not in svc, f"{name} publishes {svc['ports']}"
    assert {p.split(":")[-1].split("/")[0] for p in SERVICES["door"]["ports"]} == {"80", "443"}


def test_the_doors_metrics_are_inside_the_network_and_never_published():
    for door in (SERVICES["door"], SCALED["door"]):
        env = _env(door)
        assert (env["DOOR_METRICS_BIND"], env["DOOR_METRICS_PORT"]) == ("0.0.0.0", "2019")
        assert env["DOOR_METRICS_PORT"] not in {p.split(":")[-1].split("/")[0] for p in door["ports"]}


def test_the_door_is_the_official_caddy_with_the_caddyfile_make_up_runs():
    door = SERVICES["door"]
    assert re.fullmatch(r"caddy:2\.\d+(-alpine)?", door["image"])
    assert "./ops/Caddyfile:/etc/caddy/Caddyfile:ro" in door["volumes"]
    assert _env(door)["DOOR_WEBHOOK_UPSTREAMS"] == "n8n:5678"


def test_the_sandbox_is_development_only():
    sandbox = SERVICES["sandbox"]
    assert sandbox["profiles"] == ["dev"]
    assert "ports" not in sandbox
    env = _env(sandbox)
    for secret in ("ADMIN_TOKEN", "HYBRIDFLOW_SECRET_KEYS", "DATABASE_URL", "N8N_ENCRYPTION_KEY"):
        assert secret not in env, secret
    assert ":?" in env["SANDBOX_API_KEY"], "the sandbox key must have no default"
    assert env["SANDBOX_WEBHOOK_ALLOWED"].startswith("http://door")
    assert [name for name, svc in ALL.items() if "dev" in svc.get("profiles", [])] == ["sandbox"]


def test_n8n_and_the_services_never_use_the_postgres_superuser():
    for name, svc in ALL.items():
        env = _env(svc)
        if "DB_POSTGRESDB_USER" in env:
            assert env["DB_POSTGRESDB_USER"] == "hybridflow_n8n", name
        if "DATABASE_URL" in env:
            assert env["DATABASE_URL"].startswith("postgresql://hybridflow:"), name
    assert _env(SERVICES["postgres"])["POSTGRES_USER"] == "postgres"  # Postgres' own, used by nothing else
    init = (PROJECT_ROOT / "db/init/01-roles.sql").read_text()
    assert "NOSUPERUSER" in init and "SUPERUSER " not in init.replace("NOSUPERUSER", "")


@pytest.mark.parametrize("secret, allowed", [
    ("ADMIN_TOKEN", {"collision", "llm"}),
    ("HYBRIDFLOW_SECRET_KEYS", {"collision", "llm", "evolution", "console"}),
    ("CONSOLE_SECRET_KEY", {"console"}),
    ("N8N_ENCRYPTION_KEY", {"n8n", "n8n-import", "n8n-worker", "n8n-webhook-1", "n8n-webhook-2"}),
    ("POSTGRES_PASSWORD", {"postgres"}),
    ("N8N_OWNER_PASSWORD", {"render"}),
    ("ANTHROPIC_API_KEY", {"llm"}),
    ("OPENAI_API_KEY", {"llm"}),
    ("SANDBOX_API_KEY", {"sandbox"}),
    ("N8N_DB_PASSWORD", {"postgres", "n8n", "n8n-import", "n8n-worker", "n8n-webhook-1", "n8n-webhook-2"}),
])
def test_each_container_gets_only_the_secrets_it_uses(secret, allowed):
    holders = {name for name, svc in ALL.items()
               if any("${" + secret in v for v in _env(svc).values())}
    assert holders <= allowed, f"{secret} also reaches {sorted(holders - allowed)}"


def test_env_access_in_n8n_expressions_stays_closed():
    for name, svc in ALL.items():
        assert _env(svc).get("N8N_BLOCK_ENV_ACCESS_IN_NODE", "true").lower() != "false", name
    assert "N8N_BLOCK_ENV_ACCESS_IN_NODE" not in N8N_FIXED_ENV


def test_n8n_has_its_owner_from_the_environment_and_a_secure_cookie_behind_tls():
    env = _env(SERVICES["n8n"])
    assert env["N8N_INSTANCE_OWNER_MANAGED_BY_ENV"] == "true"
    assert env["N8N_INSTANCE_OWNER_PASSWORD_HASH_FILE"] == "/bootstrap/owner-password.hash"
    assert env["N8N_SECURE_COOKIE"] == "${N8N_SECURE_COOKIE:-true}"


def test_the_rendered_credentials_are_removed_whatever_the_import_did():
    [script] = SERVICES["n8n-import"]["command"]
    before, after = script.split("rm -f /bootstrap/credentials.json;")
    assert "rc=$$?;" in before and "&&" not in before


def test_the_scale_file_runs_every_n8n_in_queue_mode():
    for name in N8N_PROCESSES:
        assert _env(SCALED[name])["EXECUTIONS_MODE"] == "queue", name
    assert _env(SERVICES["n8n"])["EXECUTIONS_MODE"] == "regular"
    assert SCALED["n8n-worker"]["command"] == ["worker"]
    assert SCALED["n8n-webhook-1"]["command"] == SCALED["n8n-webhook-2"]["command"] == ["webhook"]
    assert _env(SCALED["door"])["DOOR_WEBHOOK_UPSTREAMS"].split() == ["n8n-webhook-1:5678", "n8n-webhook-2:5678"]
    assert "redis" not in SERVICES and SCALED["redis"]["healthcheck"]


def _variables_read_by_the_code():
    names = set()
    # env["X"], env.get("X"), and config.py's parsers: _number(env, "X", ...)
    pattern = re.compile(r"""(?:(?:env|environ)(?:\.get)?[\[(]|\(env,)\s*["']([A-Z][A-Z0-9_]+)["']""")
    for path in list((PROJECT_ROOT / "python_services").rglob("*.py")) + list((PROJECT_ROOT / "ops").rglob("*.py")):
        names |= set(pattern.findall(path.read_text()))
    return names


def test_env_example_documents_every_variable_the_code_reads():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    internal = {"BIND", "HYBRIDFLOW_ENV_FILE", "PYTHONUNBUFFERED", "TEST_DATABASE_URL", "HF_TEST_QUEUE_MODE",
                "QUEUE_BULL_PREFIX", "N8N_REDIS_KEY_PREFIX", "SANDBOX_THREADS", "PATH"}
    missing = _variables_read_by_the_code() - documented - internal - set(N8N_FIXED_ENV)
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_compose_services_use_the_variable_names_of_the_makefile_path():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    used = set()
    for name in ("docker-compose.yml", "docker-compose.scale.yml"):
        used |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (PROJECT_ROOT / name).read_text()))
    assert used <= documented, f"compose uses undocumented {sorted(used - documented)}"
