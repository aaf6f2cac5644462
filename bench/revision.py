"""A module of this repository as it was at a git revision, imported beside today's (the
benches compare old and new code in one process)."""
from __future__ import annotations

import importlib.util
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_at(rev: str, path: str, name: str):
    """Import the file ``path`` (relative to the repository) as it was at ``rev``, as ``name``."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], check=True,
                         capture_output=True, text=True).stdout
    file = Path(tempfile.mkdtemp(prefix="wf-rev-")) / f"{name}.py"
    file.write_text(src)
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
