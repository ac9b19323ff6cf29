"""What the run ran on: the machine, the versions of n8n, Node, Python,
Postgres and gunicorn, and the settings that change the figures."""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from python_services.common.config import PROJECT_ROOT


def _run(argv) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def describe(stack) -> dict:
    """The machine, the versions and the settings of the run, for the report's first table."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    if not cpu:
        cpu = (_run(["lscpu"]).partition("Model name:")[2].splitlines() or [""])[0].strip()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    node = _run([stack.n8n_command()[0], "--version"])
    pg = stack.query("SHOW server_version")[0]["server_version"]
    import gunicorn

    env = stack.service_env()
    n8n_env = stack.n8n_env()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu or platform.processor() or "unknown",
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "node": node,
        "n8n": _n8n_version(),
        "postgres": pg,
        "postgres_where": "a private cluster for the run" if stack.private_pg_port else "the given server",
        "gunicorn": gunicorn.__version__,
        "gunicorn_workers": env.get("GUNICORN_WORKERS", "2"),
        "gunicorn_threads": env.get("GUNICORN_THREADS", "8"),
        "expression_engine": n8n_env.get("N8N_EXPRESSION_ENGINE") or "n8n's default",
        "save_on_success": n8n_env.get("EXECUTIONS_DATA_SAVE_ON_SUCCESS"),
        "load_at_start": os.getloadavg()[0],
    }


def _n8n_version() -> str:
    return json.loads((PROJECT_ROOT / "package.json").read_text())["dependencies"]["n8n"]
