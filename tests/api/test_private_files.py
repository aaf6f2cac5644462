"""Issue 15, finding 12 and secrets: files the commands write (store, exports, packs, keys) have
mode 0600; erasure removes the exports on disk that name the erased child and says so."""
from __future__ import annotations

import os
import stat
import sys

from typer.testing import CliRunner

from api.cli import app

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def test_exports_private_and_erased_with_the_child(tmp_path):
    from api_fixtures import open_populated
    url = f"sqlite:///{tmp_path / 'wf.sqlite'}"
    open_populated(url)
    out = tmp_path / "network"
    r = CliRunner().invoke(app, ["network", "--db", url, "--out", str(out)])
    assert r.exit_code == 0, r.output
    files = [f for f in out.rglob("*") if f.is_file()]
    assert files and all(stat.S_IMODE(f.stat().st_mode) & 0o077 == 0 for f in files)
    naming = [f for f in files if "C0003" in f.read_text(errors="replace")]
    assert naming, "the exports name the child before erasure"
    r = CliRunner().invoke(app, ["erase", "child", "police/C0003", "--reason", "subject access "
                                 "erasure request", "--by", "DPO", "--db", url, "--json"])
    assert r.exit_code == 0, r.output
    import json
    report = json.loads(r.output)
    assert {str(f) for f in naming} <= set(report["exports_removed"])   # names or record keys
    left = [f for f in out.rglob("*") if f.is_file()]
    assert left, "files that do not name the child stay"
    for f in left:
        text = f.read_text(errors="replace")
        assert "police/C0003" not in text and "Testgiven3 " not in text, f


def test_weak_or_shared_secrets_refused(tmp_path, monkeypatch):
    from api.service.app import build_service
    from api.keys import KeyConfigError
    import pytest
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    monkeypatch.setenv("WAYFINDER_SECRET", "a")
    with pytest.raises(KeyConfigError, match="at least 32"):
        build_service(url)
    same = "x" * 40
    monkeypatch.setenv("WAYFINDER_SECRET", same)
    monkeypatch.setenv("WAYFINDER_PSEUDONYM_KEY", same)
    with pytest.raises(KeyConfigError, match="differ"):
        build_service(url)


def test_token_rotation_keeps_pseudonyms(tmp_path):
    from api.service.app import build_service
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    wf = build_service(url)
    before = (wf.auth.secret, wf.minimiser.pseudonym("police/C0001"))
    wf.audit.close()
    r = CliRunner().invoke(app, ["keys", "rotate", "--db", url])
    assert r.exit_code == 0, r.output
    import api.jobs.audit
    api.jobs.audit._KEYS.clear()
    wf2 = build_service(url)
    assert wf2.auth.secret != before[0] and wf2.minimiser.pseudonym("police/C0001") == before[1]
    wf2.audit.close()


def test_legacy_store_secret_moved_out_of_the_store(tmp_path):
    """A store that kept one secret in settings: pseudonyms unchanged, secret gone from the store."""
    import sqlalchemy as sa

    from api.service.app import build_service
    from api.tables import api_setting, create_tables
    from geo.disclosure import pseudonym
    from geo.storage.store import open_store
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    store = open_store(url)
    create_tables(store.engine)
    old = "legacy-secret-kept-in-the-store-0123456789"
    with store.engine.begin() as conn:
        conn.execute(api_setting.insert().values(key="token_secret", value=old))
    wf = build_service(store)
    assert wf.minimiser.pseudonym("P1") == pseudonym(old, "P1")
    assert wf.auth.secret != old
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(api_setting.c.value).where(api_setting.c.key == "token_secret")).first() is None
    wf.audit.close()
