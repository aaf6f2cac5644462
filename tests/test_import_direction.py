"""Imports flow one way: geo <- network <- maps <- api (DESIGN.md). Computed from the source, so
a function-local import that crosses a layer upwards fails here too."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("geo", "network", "maps", "api")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_imports_flow_one_way():
    bad = []
    for i, layer in enumerate(LAYERS):
        above = set(LAYERS[i + 1:])
        for path in sorted((ROOT / layer).rglob("*.py")):
            for up in sorted(_imports(path) & above):
                bad.append(f"{path.relative_to(ROOT)} imports {up}")
    assert not bad, "imports against the flow geo <- network <- maps <- api:\n" + "\n".join(bad)


# ---------------------------------------------------------------------------------------------
# inside api/: jobs <- cli, jobs <- service, and no circles (DESIGN.md "Layout", issue #17)
# ---------------------------------------------------------------------------------------------
API = ROOT / "api"


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _api_modules() -> dict[str, Path]:
    return {_module_of(p): p for p in sorted(API.rglob("*.py"))}


def _api_edges() -> dict[str, set[str]]:
    """module -> the api modules it imports (top-level and function-local, `from api.x import y`
    counted as api.x.y when that is a module, else api.x)."""
    modules = _api_modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                           else node.module for a in node.names]
            for t in targets:
                if t.split(".")[0] == "api" and t in modules and t != mod:
                    edges[mod].add(t)
    return edges


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("jobs", "cli", "service") else "base"


def test_api_edges_are_found():
    edges = _api_edges()
    assert "api.jobs.pipeline" in edges["api.cli.run"]
    assert "api.service.app" in edges["api.cli.serve"]


def test_jobs_import_neither_cli_nor_service():
    edges = _api_edges()
    allowed = {"jobs": {"jobs", "base"}, "base": {"base"}}
    bad = [f"{m} imports {t}" for m, ts in sorted(edges.items()) if _layer(m) in allowed
           for t in sorted(ts) if _layer(t) not in allowed[_layer(m)]]
    assert not bad, "api/jobs (and the shared api/*.py) import the CLI or the service:\n" + "\n".join(bad)


def test_api_imports_have_no_cycles():
    edges = _api_edges()
    cycles, state, stack = [], {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles in api/:\n" + "\n".join(cycles)


def test_service_and_cli_stand_side_by_side():
    """The service calls jobs, never the CLI; the CLI reaches the service only to serve it
    (`wayfinder serve`) and to manage its users (`wayfinder users`)."""
    edges = _api_edges()
    cli_may = {"api.cli.serve": {"api.service.app"},
               "api.cli.users": {"api.service.auth", "api.service.errors"}}
    bad = [f"{m} imports {t}" for m, ts in sorted(edges.items()) for t in sorted(ts)
           if (_layer(m) == "service" and _layer(t) == "cli")
           or (_layer(m) == "cli" and _layer(t) == "service" and t not in cli_may.get(m, set()))]
    assert not bad, "\n".join(bad)
