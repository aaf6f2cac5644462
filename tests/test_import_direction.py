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
