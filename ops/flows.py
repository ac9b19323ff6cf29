"""Flows in git: normalise workflow JSON so diffs stay small, export what was
changed in the editor back to flows/, render the credentials file.

    python -m ops.flows export              # n8n -> flows/ (normalised)
    python -m ops.flows normalise           # rewrite flows/ in normal form
    python -m ops.flows render-credentials [--output FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import string
import sys
import tempfile
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


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "workflow"


def write_normalised(workflows: list[dict], directory: Path = FLOWS_DIR) -> list[Path]:
    """Writes each workflow to the file that already holds its id, or a new
    file named after it; returns the files whose content changed."""
    by_id = {json.loads(p.read_text())["id"]: p for p in flow_files(directory)}
    changed = []
    for wf in workflows:
        path = by_id.get(wf["id"]) or directory / f"{slug(wf['name'])}.json"
        text = dumps(normalise(wf))
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def export_from_n8n() -> list[Path]:
    from .stack import Stack

    stack = Stack.from_environment()
    stack.ensure_server()
    with tempfile.TemporaryDirectory() as tmp:
        stack.n8n_cli("export:workflow", "--all", "--separate", f"--output={tmp}")
        workflows = [json.loads(p.read_text()) for p in sorted(Path(tmp).glob("*.json"))]
    return write_normalised([w for w in workflows if not w.get("isArchived")])


def render_credentials(env: dict | None = None) -> str:
    """n8n-credentials.example.json with every ${VAR} filled from the environment."""
    env = env if env is not None else read_environment()
    template = (PROJECT_ROOT / "n8n-credentials.example.json").read_text()
    return string.Template(template).substitute(env)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["export", "normalise", "render-credentials"])
    parser.add_argument("--output")
    args = parser.parse_args(argv)
    if args.command == "export":
        changed = export_from_n8n()
        print("flows changed: " + (", ".join(str(p.relative_to(PROJECT_ROOT)) for p in changed) or "none"))
    elif args.command == "normalise":
        changed = write_normalised([json.loads(p.read_text()) for p in flow_files()])
        print("normalised: " + (", ".join(p.name for p in changed) or "all already normal"))
    else:
        text = render_credentials()
        if args.output:
            Path(args.output).write_text(text)
            os.chmod(args.output, 0o644)
        else:
            sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
