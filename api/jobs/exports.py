"""Files written outside the store (network and analysis exports, identity tables): where they
are, so that erasure can remove those that name an erased child or person.

``wayfinder network --out DIR`` and ``wayfinder analyse --out DIR`` record DIR in the store's
``settings`` (``export_dir:<hash>``). :func:`remove_naming` deletes every file under the recorded
folders whose text names the subject (person id, record keys, names: whole words, any case) and
returns what it removed: the erasure report says so, and the next run regenerates them without
the subject (DPA 2018 s.47: erasure covers every copy the controller made).
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import sqlalchemy as sa

from geo.storage import schema

PREFIX = "export_dir:"
TEXT_SUFFIXES = {".json", ".csv", ".gexf", ".graphml", ".geojson", ".html", ".txt", ".tsv", ".xml"}
#: files larger than this are scanned in chunks (exports at national scale are gigabytes)
CHUNK = 8 * 2**20


def record_export_dir(engine, directory) -> None:
    """Remember ``directory`` as holding exports of this store."""
    path = str(Path(directory).resolve())
    key = PREFIX + hashlib.sha1(path.encode()).hexdigest()[:16]
    with engine.begin() as conn:
        if conn.execute(sa.select(schema.settings.c.key).where(schema.settings.c.key == key)).first():
            return
        conn.execute(schema.settings.insert().values(key=key, value=path))


def export_dirs(conn) -> list[Path]:
    rows = conn.execute(sa.select(schema.settings.c.value)
                        .where(schema.settings.c.key.like(PREFIX + "%"))).scalars()
    return [Path(v) for v in rows]


def _names(path: Path, pattern: re.Pattern) -> bool:
    tail = ""
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        while True:
            block = fh.read(CHUNK)
            if not block:
                return False
            if pattern.search(tail + block):
                return True
            tail = block[-256:]


def remove_naming(dirs, terms) -> list[str]:
    """Delete files under ``dirs`` whose text names any of ``terms``; returns their paths."""
    terms = sorted({str(t).strip() for t in terms if t and len(str(t).strip()) >= 3}, key=len,
                   reverse=True)
    if not terms:
        return []
    pattern = re.compile(r"(?<![\w/])(" + "|".join(re.escape(t) for t in terms) + r")(?![\w/])",
                         re.IGNORECASE)
    removed = []
    for d in dirs:
        if not Path(d).is_dir():
            continue
        for f in sorted(Path(d).rglob("*")):
            if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES and _names(f, pattern):
                f.unlink()
                removed.append(str(f))
    return removed
