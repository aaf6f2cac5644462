"""CLI misuse ends with one line that says what is wrong and what to do, a non-zero exit, and no
traceback: no reference data loaded, a wrong store URL (the API's web address, an unknown
scheme, a missing folder, a database that is not there), an empty or missing drop, a store with
nothing ingested."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app



def _one_line_failure(args, *needles):
    r = CliRunner().invoke(app, args)
    text = (r.output or "").strip()
    assert r.exit_code not in (0, None), (args, text)
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), \
        (args, repr(r.exception))
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, (args, text)
    assert lines[0].startswith("wayfinder"), lines[0]
    assert "Traceback" not in text
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.fixture()
def drop(tmp_path):
    """A small real drop (the synthetic sample generator)."""
    from geo.scenario import generator as synth
    synth.generate(tmp_path / "drop", seed=5, scale="sample")
    return tmp_path / "drop"


def test_ingest_without_reference_data(drop, tmp_path):
    db = f"sqlite:///{tmp_path / 'noref.sqlite'}"
    _one_line_failure(["ingest", str(drop), "--db", db], "no reference data", "wayfinder reference")


def test_empty_and_missing_drops(drop, tmp_path):
    db = f"sqlite:///{tmp_path / 'w.sqlite'}"
    empty = tmp_path / "empty"
    empty.mkdir()
    _one_line_failure(["ingest", str(empty), "--db", db, "--no-geocode"], "no contract file")
    _one_line_failure(["ingest", str(tmp_path / "nowhere"), "--db", db], "no such folder")
    headers = tmp_path / "headers"
    headers.mkdir()
    for f in drop.glob("*.csv"):
        (headers / f.name).write_text(f.read_text(encoding="utf-8").splitlines()[0] + "\n",
                                      encoding="utf-8")
    _one_line_failure(["ingest", str(headers), "--db", db, "--no-geocode"], "the drop is empty")
    # nothing was written: the store holds no ingest run
    from geo.storage.store import open_store
    with open_store(db).engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM ingest_runs").scalar() == 0


@pytest.mark.parametrize("command", [["analyse", "--out", "OUT"], ["network", "--out", "OUT"],
                                     ["ingest", "DROP"]])
def test_wrong_store_urls(command, drop, tmp_path):
    args = [a.replace("OUT", str(tmp_path / "out")).replace("DROP", str(drop)) for a in command]
    _one_line_failure([*args, "--db", "http://127.0.0.1:8000/"], "web address", "sqlite:///")
    _one_line_failure([*args, "--db", "mysql+nodriver://x/y"], "not a database URL", "postgresql://")
    _one_line_failure([*args, "--db", "not a url"], "not a database URL")
    _one_line_failure([*args, "--db", f"sqlite:///{tmp_path}/no/such/folder/w.sqlite"],
                      "does not exist")
    _one_line_failure([*args, "--db", "postgresql://nobody@127.0.0.1:1/none"], "cannot open")


@pytest.mark.parametrize("command", [["analyse", "--out", "OUT"], ["network", "--out", "OUT"]])
def test_analyses_of_an_empty_store_say_ingest_first(command, tmp_path):
    db = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    args = [a.replace("OUT", str(tmp_path / "out")) for a in command]
    _one_line_failure([*args, "--db", db], "holds no episodes", "wayfinder ingest")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
