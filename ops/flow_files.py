"""Flows in git, as files: the normal form that keeps diffs small (only what
describes a flow, in a stable order), the files and their ids, the
credentials file rendered from the environment, and the service addresses
written into the flows at import. Nothing here talks to n8n: ops/n8n.py
imports these files into n8n, ops/flows.py exports them back.

The files in flows/ name each address by a placeholder (`${COLLISION_URL}`
in an HTTP Request node's URL); render_flow() writes the stack's address in
its place when the flows are imported, and unrender_flow() turns it back into
the placeholder when they are exported, so a diff shows only what the
operator changed. n8n itself never reads an address from its environment
($env stays closed: N8N_BLOCK_ENV_ACCESS_IN_NODE is n8n's default)."""
from __future__ import annotations

import json
import re
import string
from pathlib import Path

from python_services.common.config import PROJECT_ROOT, read_environment

FLOWS_DIR = PROJECT_ROOT / "flows"
WORKFLOW_KEYS = ("id", "name", "active", "settings", "nodes", "connections", "tags")
NODE_KEYS = (
    "id", "name", "type", "typeVersion", "position", "parameters", "credentials", "webhookId",
    "disabled", "notes", "notesInFlow", "onError", "retryOnFail", "maxTries", "waitBetweenTries",
    "alwaysOutputData", "executeOnce",
)
# n8n's own default names: a node still called this was never named for what it does
DEFAULT_NAME = re.compile(
    r"^(Webhook|HTTP Request|Switch|If|IF|Code|Set|Edit Fields|Wait|Sticky Note|Respond to Webhook|"
    r"Schedule Trigger|Error Trigger|No Operation, do nothing|NoOp|Merge|Execute Workflow|Postgres)\d*$"
)
# the addresses the flows call, by placeholder: the services, and n8n itself
# (the recovery flow resumes a reply through n8n's own webhook)
ADDRESS_PLACEHOLDERS = ("COLLISION_URL", "LLM_URL", "EVOLUTION_URL", "N8N_URL")
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
SECRET_PATTERNS = re.compile(
    r"(sk-ant-[A-Za-z0-9]|sk-[A-Za-z0-9]{20,}|\"apikey\"\s*:\s*\"[A-Za-z0-9]{16,}|Bearer [A-Za-z0-9_\-]{16,})"
)


def normalise(workflow: dict) -> dict:
    """Only what describes the flow, in a stable order: no pinData, no
    version ids, timestamps or other execution- and instance-specific fields."""
    out = {k: workflow[k] for k in WORKFLOW_KEYS if k in workflow}
    if not out.get("tags"):
        out.pop("tags", None)
    else:
        out["tags"] = sorted({t["name"] if isinstance(t, dict) else t for t in out["tags"]})
    out["active"] = True  # every HybridFlow flow runs; import --activeState is not relied on
    nodes = []
    for node in workflow.get("nodes", []):
        clean = {k: node[k] for k in NODE_KEYS if k in node}
        nodes.append(clean)
    out["nodes"] = sorted(nodes, key=lambda n: n["name"])
    out["connections"] = {k: workflow.get("connections", {})[k] for k in sorted(workflow.get("connections", {}))}
    return out


def dumps(workflow: dict) -> str:
    return json.dumps(workflow, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def flow_files(directory: Path = FLOWS_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def flow_ids(directory: Path = FLOWS_DIR) -> list[str]:
    """The ids n8n knows the flows by (fixed in the files, so they never change)."""
    return [json.loads(p.read_text())["id"] for p in flow_files(directory)]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "workflow"


def write_normalised(workflows: list[dict], directory: Path = FLOWS_DIR, addresses: dict | None = None) -> list[Path]:
    """Writes each workflow to the file that already holds its id, or a new
    file named after it, with `addresses` (as rendered at import) turned back
    into placeholders; returns the files whose content changed."""
    by_id = {json.loads(p.read_text())["id"]: p for p in flow_files(directory)}
    changed = []
    for wf in workflows:
        path = by_id.get(wf["id"]) or directory / f"{slug(wf['name'])}.json"
        text = dumps(normalise(unrender_flow(wf, addresses or {})))
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def render_credentials(env: dict | None = None) -> str:
    """n8n-credentials.example.json with every ${VAR} filled from the environment."""
    env = env if env is not None else read_environment()
    template = (PROJECT_ROOT / "n8n-credentials.example.json").read_text()
    return string.Template(template).substitute(env)


# ---------------------------------------------------------------- addresses


def _map_strings(value, change):
    """value with change() applied to every string in it (keys left alone)."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    return value


def placeholders_in(workflow: dict) -> set[str]:
    """The ${NAME} placeholders a flow's nodes use."""
    found: set[str] = set()
    _map_strings(workflow.get("nodes", []), lambda s: found.update(PLACEHOLDER.findall(s)) or s)
    return found


def render_flow(workflow: dict, addresses: dict) -> dict:
    """The flow with every ${NAME} placeholder replaced by addresses[NAME]
    (without a trailing slash); a placeholder it has no address for is an error."""
    missing = placeholders_in(workflow) - set(addresses)
    if missing:
        raise KeyError(f"flow {workflow.get('name')!r} needs {', '.join(sorted(missing))}: no address given")
    clean = {k: v.rstrip("/") for k, v in addresses.items()}
    out = dict(workflow)
    out["nodes"] = _map_strings(workflow.get("nodes", []),
                                lambda s: PLACEHOLDER.sub(lambda m: clean.get(m.group(1), m.group(0)), s))
    return out


def unrender_flow(workflow: dict, addresses: dict) -> dict:
    """render_flow() undone: each address (where it ends: before a /, a quote,
    a space, ? or # or the end) back into its placeholder."""
    pairs = sorted(((v.rstrip("/"), k) for k, v in addresses.items() if v), key=lambda p: -len(p[0]))
    if not pairs:
        return workflow
    pattern = re.compile("|".join(f"({re.escape(url)})(?=[/\"'\\s?#]|$)" for url, _ in pairs))
    names = [name for _, name in pairs]

    def change(text: str) -> str:
        return pattern.sub(lambda m: "${" + names[m.lastindex - 1] + "}", text)

    out = dict(workflow)
    out["nodes"] = _map_strings(workflow.get("nodes", []), change)
    return out


def render_flows(directory: Path, addresses: dict) -> dict[str, str]:
    """Every flow file of `directory`, rendered: {file name: JSON text}."""
    return {p.name: dumps(render_flow(json.loads(p.read_text()), addresses)) for p in flow_files(directory)}
