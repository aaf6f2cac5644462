import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
if str(Path(__file__).resolve().parents[2]) not in sys.path:  # the repository (geo, network, api, maps)
    sys.path.insert(1, str(Path(__file__).resolve().parents[2]))

from _frames import make_frames  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "data" / "reference"


@pytest.fixture(scope="session")
def frames():
    return make_frames()


@pytest.fixture(scope="session")
def real_store(tmp_path_factory):
    """A real store made by the real pipeline (the contract CLI, run in-process): synth sample ->
    reference -> ingest -> analyse -> network. Returns (url, workdir). Steps after ingest may be
    missing while other engineers finish them; whatever they stored is used, failures are printed."""
    from typer.testing import CliRunner

    from api.cli import app

    work = tmp_path_factory.mktemp("wf_store")
    url = f"sqlite:///{work / 'wf.sqlite'}"
    steps = [
        ["synth", "--out", str(work / "drop"), "--seed", "7", "--scale", "sample"],
        ["reference", "--db", url, "--codepoint", str(REF / "gazetteer" / "codepoint_open_2014_b.csv"),
         "--wards", str(REF / "boundaries" / "birmingham_wards_2013.geojson"),
         "--lsoa", str(REF / "boundaries" / "birmingham_lsoa_2011.geojson")],
        ["ingest", str(work / "drop"), "--db", url],
        ["analyse", "--db", url, "--out", str(work / "analyses")],
        ["network", "--db", url, "--out", str(work / "network")],
    ]
    runner = CliRunner()
    problems = []
    old = os.environ.get("WAYFINDER_DB")
    os.environ["WAYFINDER_DB"] = url
    try:
        for i, step in enumerate(steps):
            r = runner.invoke(app, step)
            if r.exit_code != 0:
                msg = f"wayfinder {step[0]}: {((r.output or '') + repr(r.exception)).strip().splitlines()[-1:]}"
                if i <= 2:  # no store without synth, reference and ingest
                    pytest.fail("cannot build a real store: " + msg)
                problems.append(msg)
    finally:
        if old is None:
            os.environ.pop("WAYFINDER_DB", None)
        else:
            os.environ["WAYFINDER_DB"] = old
    if problems:
        print("real_store: " + "; ".join(problems), file=sys.stderr)
    return url, work
