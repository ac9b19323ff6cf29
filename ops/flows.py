"""Flows in git, the commands: export what was changed in the n8n editor back
to flows/ (normalised, the addresses back into placeholders, so diffs stay
small), rewrite flows/ in normal form, render what n8n imports (docker
compose's one-shot import uses it).

    python -m ops.flows export              # n8n -> flows/ (normalised)
    python -m ops.flows normalise           # rewrite flows/ in normal form
    python -m ops.flows render --output DIR [--owner UID]
        # DIR/credentials.json (0600) and DIR/flows/*.json with the addresses
        # from COLLISION_URL, LLM_URL, EVOLUTION_URL, N8N_URL

The file format lives in ops/flow_files.py; this module sits on top of the
stack (export runs n8n's CLI the way `make up` configures it), and nothing in
ops imports it back.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from python_services.common.config import PROJECT_ROOT, read_environment

from . import n8n
from .flow_files import ADDRESS_PLACEHOLDERS, flow_files, render_credentials, render_flows, write_normalised
from .stack import Stack


def export_from_n8n() -> list[Path]:
    """Every workflow n8n holds (archived ones left out) into flows/; returns the files that changed."""
    stack = Stack.from_environment()
    stack.ensure_server()
    with tempfile.TemporaryDirectory() as tmp:
        stack.n8n_cli("export:workflow", "--all", "--separate", f"--output={tmp}")
        workflows = [json.loads(p.read_text()) for p in sorted(Path(tmp).glob("*.json"))]
    return write_normalised([w for w in workflows if not w.get("isArchived")], addresses=stack.flow_addresses())


def render_for_import(output: Path, owner: int | None = None) -> None:
    """What n8n imports, rendered from the environment: the credentials
    (readable by `owner` only) and the flows with their addresses."""
    env = read_environment()
    missing = [k for k in ADDRESS_PLACEHOLDERS if not env.get(k)]
    if missing:
        raise SystemExit(f"render: set {', '.join(missing)} (the addresses the flows call)")
    flows_dir = output / "flows"
    flows_dir.mkdir(parents=True, exist_ok=True)
    for stale in flows_dir.glob("*.json"):
        stale.unlink()
    for name, text in render_flows(PROJECT_ROOT / "flows", {k: env[k] for k in ADDRESS_PLACEHOLDERS}).items():
        (flows_dir / name).write_text(text)
    creds = output / "credentials.json"
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(render_credentials(env))
    os.chmod(creds, 0o600)
    written = [output, flows_dir, creds, *flows_dir.iterdir()]
    if env.get("N8N_OWNER_PASSWORD"):
        # the editor's owner: n8n reads the hash (N8N_INSTANCE_OWNER_PASSWORD_HASH_FILE), never the password
        written.append(output / "owner-password.hash")
        n8n.password_hash(env["N8N_OWNER_PASSWORD"], written[-1])
    if owner is not None:
        for path in written:
            os.chown(path, owner, owner)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["export", "normalise", "render"])
    parser.add_argument("--output")
    parser.add_argument("--owner", type=int, help="the uid that may read what render writes (n8n's: 1000)")
    args = parser.parse_args(argv)
    if args.command == "export":
        changed = export_from_n8n()
        print("flows changed: " + (", ".join(str(p.relative_to(PROJECT_ROOT)) for p in changed) or "none"))
    elif args.command == "normalise":
        changed = write_normalised([json.loads(p.read_text()) for p in flow_files()])
        print("normalised: " + (", ".join(p.name for p in changed) or "all already normal"))
    else:
        if not args.output:
            parser.error("render needs --output DIR")
        render_for_import(Path(args.output), args.owner)
        print(f"rendered the credentials and {len(flow_files())} flows into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
