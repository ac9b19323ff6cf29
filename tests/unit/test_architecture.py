"""The house keeps its shape: services are leaves over `core` over `common`,
and nothing imports in a circle (docs/architecture.md draws it)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from python_services.common.config import PROJECT_ROOT

SERVICES = ("collision", "llm", "evolution", "sandbox", "console")
# which top-level folder (or python_services package) may import which
ALLOWED = {
    "python_services.common": {"python_services.common"},
    "python_services.core": {"python_services.common", "python_services.core"},
    **{f"python_services.{s}": {"python_services.common", "python_services.core", f"python_services.{s}"}
       for s in SERVICES},
    "ops": {"python_services", "ops", "testkit"},
    "testkit": {"python_services", "testkit"},
    "bench": {"python_services", "ops", "testkit", "bench"},
    # tests may test bench's own code (its report); what both need lives in testkit
    "tests": {"python_services", "ops", "testkit", "bench", "tests"},
}
PROJECT_PACKAGES = ("python_services", "ops", "testkit", "bench", "tests")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found = {}
    for top in PROJECT_PACKAGES:
        for path in (PROJECT_ROOT / top).rglob("*.py"):
            found[module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: dict) -> set[str]:
    """Every project module this one imports, wherever the import stands
    (a lazy import inside a function still makes a circle)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # `from pkg import module` names a module; `from module import name` does not
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = project_modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def area_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "python_services" and len(parts) > 1 else parts[0]


def allowed(source_area: str, target: str) -> bool:
    return any(target == a or target.startswith(a + ".") for a in ALLOWED.get(source_area, ()))


def test_every_import_stays_within_the_layers_drawn_in_the_architecture(graph):
    wrong = sorted(f"{src} imports {dst}" for src, targets in graph.items() for dst in targets
                   if area_of(src) in ALLOWED and not allowed(area_of(src), dst))
    assert wrong == []


def test_no_service_imports_another_service(graph):
    crossing = sorted(
        f"{src} imports {dst}" for src, targets in graph.items() for dst in targets
        if area_of(src).removeprefix("python_services.") in SERVICES
        and area_of(dst).removeprefix("python_services.") in SERVICES and area_of(dst) != area_of(src)
    )
    assert crossing == []


def circles_in(graph: dict[str, set[str]]) -> list[str]:
    circles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return circles


def test_nothing_imports_in_a_circle(graph):
    assert circles_in(graph) == []


def test_the_checker_finds_a_circle_hidden_in_a_lazy_import():
    assert circles_in({"ops.flows": {"ops.stack"}, "ops.stack": {"ops.flows"}}) == ["ops.flows -> ops.stack -> ops.flows"]


def test_the_checker_sees_an_import_that_crosses_between_services(tmp_path):
    # the rule above must be able to fail: a made-up module importing another service is caught
    fake = PROJECT_ROOT / "python_services" / "llm" / "reply.py"
    known = {"python_services.llm.reply": fake, "python_services.collision.webhooks": fake}
    source = tmp_path / "reply.py"
    source.write_text("from ..collision import webhooks\n")
    found = imports_of("python_services.llm.reply", source, known)
    assert found == {"python_services.collision.webhooks"}
    assert not allowed("python_services.llm", "python_services.collision.webhooks")
