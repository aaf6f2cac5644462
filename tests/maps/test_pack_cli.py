"""`wayfinder pack`: exit 0 on success, non-zero with a one-line reason on stderr otherwise."""
import pytest
from typer.testing import CliRunner

from api.cli import app


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('wf_empty') / 'empty.sqlite'}"


@pytest.mark.parametrize("args, reason", [
    (["pack", "weekly", "--from", "2017-01-01", "--to", "2017-02-01"], "unknown pack"),
    (["pack", "mase", "--from", "2017-01-01", "--to", "2017-02-01"], "needs --child"),
    (["pack", "mog", "--from", "2017-02-01", "--to", "2017-01-01"], "bad period"),
    (["pack", "mog", "--from", "2017-01-01", "--to", "2017-02-01", "--role", "admin"], "may not receive"),
    (["pack", "mog", "--from", "2017-01-01", "--to", "2017-02-01"], "no episodes"),
])
def test_pack_failures_are_one_line(empty_db, tmp_path, args, reason):
    r = CliRunner().invoke(app, args + ["--db", empty_db, "--out", str(tmp_path / "x.html")])
    assert r.exit_code != 0
    err = r.stderr.strip()
    assert reason in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x.html").exists()
