"""docker-compose.yml agrees with the Makefile path; .env.example documents
every variable the code reads."""
import json
import re

import yaml

from ops.stack import N8N_DEFAULTS, N8N_FIXED_ENV
from python_services.common.config import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
ONE_SHOT = {"migrate", "render-credentials", "n8n-import"}


def _n8n_version():
    return json.loads((PROJECT_ROOT / "package.json").read_text())["dependencies"]["n8n"]


def test_compose_runs_the_same_n8n_version_as_make_up():
    images = {s["image"] for s in SERVICES.values() if "n8n" in s.get("image", "")}
    assert images == {f"docker.n8n.io/n8nio/n8n:{_n8n_version()}"}


def test_package_lock_pins_the_same_n8n():
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/n8n"]["version"] == _n8n_version()


def test_compose_postgres_is_16_or_newer():
    tag = SERVICES["postgres"]["image"].split(":")[1]
    assert int(re.match(r"\d+", tag).group()) >= 16


def test_every_long_running_compose_service_has_a_healthcheck():
    for name, svc in SERVICES.items():
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
        assert key in env, key
        assert str(env[key]) == value, key
    for key in N8N_DEFAULTS:
        assert key in env, key


def test_scale_profile_has_redis_workers_and_a_webhook_processor():
    for name in ("redis", "n8n-worker", "n8n-webhook"):
        assert SERVICES[name]["profiles"] == ["scale"]
    assert SERVICES["n8n-worker"]["command"] == ["worker"]
    assert SERVICES["n8n-worker"]["environment"]["EXECUTIONS_MODE"] == "queue"


def _variables_read_by_the_code():
    names = set()
    pattern = re.compile(r"""(?:env|environ)(?:\.get)?[\[(]\s*["']([A-Z][A-Z0-9_]+)["']""")
    for path in list((PROJECT_ROOT / "python_services").rglob("*.py")) + list((PROJECT_ROOT / "ops").rglob("*.py")):
        names |= set(pattern.findall(path.read_text()))
    return names


def test_env_example_documents_every_variable_the_code_reads():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    internal = {"BIND", "HYBRIDFLOW_ENV_FILE", "PYTHONUNBUFFERED", "TEST_DATABASE_URL", "HF_TEST_QUEUE_MODE",
                "QUEUE_BULL_PREFIX", "SANDBOX_THREADS"}
    missing = _variables_read_by_the_code() - documented - internal - set(N8N_FIXED_ENV)
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_compose_services_use_the_variable_names_of_the_makefile_path():
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (PROJECT_ROOT / "docker-compose.yml").read_text()))
    assert used <= documented, f"compose uses undocumented {sorted(used - documented)}"
