"""Flows in git stay normalised, readable and free of secrets."""
import json
import re

import pytest

from ops.flows import DEFAULT_NAME, SECRET_PATTERNS, dumps, flow_files, normalise
from python_services.common.config import PROJECT_ROOT

FLOWS = flow_files()
KNOWN_CREDENTIALS = {(c["id"], c["name"], c["type"])
                     for c in json.loads((PROJECT_ROOT / "n8n-credentials.example.json").read_text())}


def test_there_are_flows():
    assert FLOWS, "flows/ holds no workflow"


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_flow_file_is_in_normal_form(path):
    text = path.read_text()
    assert text == dumps(normalise(json.loads(text))), f"run `python -m ops.flows normalise` ({path.name})"


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_flow_references_only_known_credentials(path):
    wf = json.loads(path.read_text())
    for node in wf["nodes"]:
        for cred_type, ref in node.get("credentials", {}).items():
            assert (ref["id"], ref["name"], cred_type) in KNOWN_CREDENTIALS, f"{node['name']}: {ref}"


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_flow_holds_no_secret_and_no_machine_address(path):
    text = path.read_text()
    assert not SECRET_PATTERNS.search(text)
    # service addresses come from configuration ($env), never a literal host
    assert not re.search(r"https?://(127\.0\.0\.1|localhost)", text)


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_every_node_has_a_real_name(path):
    wf = json.loads(path.read_text())
    names = [n["name"] for n in wf["nodes"]]
    assert len(names) == len(set(names))
    for name in names:
        assert not DEFAULT_NAME.match(name), f"{path.name}: node still has n8n's default name {name!r}"


def test_workflow_ids_are_stable_and_unique():
    ids = [json.loads(p.read_text())["id"] for p in FLOWS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Za-z0-9]{16}", i) for i in ids)


@pytest.mark.parametrize("bad, why", [
    ({"pinData": {"x": []}}, "pinData"),
    ({"versionId": "abc"}, "versionId"),
    ({"updatedAt": "2026-01-01"}, "updatedAt"),
])
def test_normalise_drops_execution_specific_fields(bad, why):
    wf = {"id": "x" * 16, "name": "n", "nodes": [], "connections": {}, **bad}
    assert why not in normalise(wf)


def test_normalise_orders_nodes_and_keys_so_diffs_stay_small():
    a = {"id": "x" * 16, "name": "n", "connections": {}, "nodes": [
        {"name": "B", "type": "t", "parameters": {"z": 1, "a": 2}}, {"name": "A", "type": "t", "parameters": {}}]}
    b = {"name": "n", "id": "x" * 16, "connections": {}, "nodes": list(reversed(a["nodes"]))}
    assert dumps(normalise(a)) == dumps(normalise(b))
