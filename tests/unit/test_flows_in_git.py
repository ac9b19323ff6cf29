"""Flows in git stay normalised, readable and free of secrets."""
import json
import re

import pytest

from ops.flow_files import (ADDRESS_PLACEHOLDERS, DEFAULT_NAME, SECRET_PATTERNS, dumps, flow_files, normalise,
                            placeholders_in, render_flow, unrender_flow, write_normalised)
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
    # service addresses are placeholders rendered at import, never a literal host
    assert not re.search(r"https?://(127\.0\.0\.1|localhost)", text)


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_flow_never_reads_the_environment(path):
    # n8n's default N8N_BLOCK_ENV_ACCESS_IN_NODE refuses $env: a flow that reads it fails
    text = path.read_text()
    assert "$env" not in text and "process.env" not in text


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_flow_uses_only_the_known_address_placeholders(path):
    assert placeholders_in(json.loads(path.read_text())) <= set(ADDRESS_PLACEHOLDERS)


ADDRESSES = {"COLLISION_URL": "http://127.0.0.1:8001", "LLM_URL": "http://127.0.0.1:8002",
             "EVOLUTION_URL": "http://127.0.0.1:8003", "N8N_URL": "http://127.0.0.1:5678"}


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_rendering_fills_every_address_and_exporting_gives_the_file_back(path):
    wf = json.loads(path.read_text())
    rendered = render_flow(wf, ADDRESSES)
    assert not placeholders_in(rendered)
    assert dumps(normalise(unrender_flow(rendered, ADDRESSES))) == path.read_text()


def test_a_rendered_address_becomes_its_placeholder_only_where_it_ends():
    wf = {"id": "x" * 16, "name": "n", "connections": {}, "nodes": [{"name": "A", "type": "t", "parameters": {
        "url": "=http://127.0.0.1:8001/cron/prune", "other": "http://127.0.0.1:80012/x", "same": "http://127.0.0.1:8001"}}]}
    params = unrender_flow(wf, ADDRESSES)["nodes"][0]["parameters"]
    assert params == {"url": "=${COLLISION_URL}/cron/prune", "other": "http://127.0.0.1:80012/x",
                      "same": "${COLLISION_URL}"}


def test_a_flow_needing_an_address_not_given_is_not_rendered():
    wf = {"id": "x" * 16, "name": "n", "connections": {},
          "nodes": [{"name": "A", "type": "t", "parameters": {"url": "=${COLLISION_URL}/x"}}]}
    with pytest.raises(KeyError, match="COLLISION_URL"):
        render_flow(wf, {"LLM_URL": "http://l"})


def test_export_writes_the_placeholders_back_so_the_diff_stays_clean(tmp_path):
    original = FLOWS[0].read_text()
    (tmp_path / FLOWS[0].name).write_text(original)
    exported = render_flow(json.loads(original), ADDRESSES)
    exported["versionId"] = "from-n8n"
    assert write_normalised([exported], tmp_path, addresses=ADDRESSES) == []
    assert (tmp_path / FLOWS[0].name).read_text() == original


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


def _inputs(workflow: dict, target: str) -> list[tuple[str, int]]:
    """(node, output index) of every connection into `target`."""
    return [(source, index) for source, outputs in workflow["connections"].items()
            for index, output in enumerate(outputs.get("main", [])) if any(c["node"] == target for c in output)]


def _conditions_of_output(node: dict, index: int) -> list[dict]:
    """The conditions an item meets to leave a Switch by output `index`, or an IF by its true output;
    [] for anything else (a Switch's fallback, an IF's false output, a node that does not route)."""
    params = node["parameters"]
    if node["type"] == "n8n-nodes-base.switch":
        rules = params.get("rules", {}).get("values", [])
        return rules[index]["conditions"]["conditions"] if index < len(rules) else []
    if node["type"] == "n8n-nodes-base.if" and index == 0:
        return params["conditions"]["conditions"]
    return []


def test_the_inbound_flow_tells_the_team_only_when_the_service_says_notify():
    # the branch is a placeholder the operator fills in, so a flow test cannot see which way n8n went:
    # every way into it must be a route that reads the service's `notify`
    wf = json.loads((PROJECT_ROOT / "flows/inbound.json").read_text())
    nodes = {n["name"]: n for n in wf["nodes"]}
    [notify] = [name for name in nodes if name.startswith("Notify the team")]
    inputs = _inputs(wf, notify)
    assert inputs, f"nothing leads to {notify!r}"
    for source, index in inputs:
        conditions = _conditions_of_output(nodes[source], index)
        assert any("notify" in str(c.get("leftValue", "")) + str(c.get("rightValue", "")) for c in conditions), (
            f"{source!r} output {index} leads to {notify!r} without reading the service's notify")


@pytest.mark.parametrize("path", FLOWS, ids=lambda p: p.name)
def test_every_node_has_an_id_and_a_name_of_its_own(path):
    # n8n refuses to import a workflow whose nodes share an id ("duplicate_node_id")
    nodes = json.loads(path.read_text())["nodes"]
    ids, names = [n.get("id") for n in nodes], [n["name"] for n in nodes]
    assert all(ids) and len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    assert len(set(names)) == len(names)
