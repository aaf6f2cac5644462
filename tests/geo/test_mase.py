"""MASE areas: the reference file (wards to areas), the bundled illustrative Birmingham split,
and the list of children at CSE risk each area's meeting reviews."""
import pandas as pd
import pytest
from typer.testing import CliRunner

from api import cli
from geo.meetings.mase import MaseAreaError, mase_lists, read_mase_areas
from geo.places.reference import BUNDLED, MASE_AREAS_ILLUSTRATIVE


def test_bundled_split_covers_every_ward_once():
    import geopandas as gpd
    a = read_mase_areas(MASE_AREAS_ILLUSTRATIVE)
    wards = set(gpd.read_file(BUNDLED["wards"])["WD13CD"])
    assert set(a["ward_code"]) == wards and len(a) == 40
    assert set(a["mase_area"]) == {"South", "East", "North West & Central"}


def test_bad_files_are_one_line_errors(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("ward,area\nE1,South\n")
    with pytest.raises(MaseAreaError, match="no column ward_code, mase_area"):
        read_mase_areas(f)
    f.write_text("Ward_Code , MASE_Area\nE1,South\nE1,East\n")
    with pytest.raises(MaseAreaError, match="more than one MASE area"):
        read_mase_areas(f)


def test_reference_loads_mase_areas_alone(tmp_path):
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    r = CliRunner().invoke(cli.app, ["reference", "--db", db, "--mase-areas", str(MASE_AREAS_ILLUSTRATIVE)])
    assert r.exit_code == 0, r.output
    assert "loaded 40 wards in 3 MASE areas" in r.stdout
    r = CliRunner().invoke(cli.app, ["mase", "list", "--db", db, "--from", "2017-03-01", "--to", "2017-03-31"])
    assert r.exit_code != 0    # no episodes yet: a one-line reason
    r = CliRunner().invoke(cli.app, ["reference", "--db", db])
    assert r.exit_code != 0 and "--codepoint" in r.stderr


def _frames():
    t = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    children = pd.DataFrame({
        "person_id": ["A", "B", "C", "D"], "child_key": ["s/A", "s/B", "s/C", "s/D"], "source": "s",
        "cse_risk": ["serious", "at_risk", "none", "significant"], "care_status": ["cic", "cp", "none", "cin"],
        "placement_ward": ["W1", "W2", "W1", None]})
    episodes = pd.DataFrame({
        "person_id": ["A", "A", "B", "D", "C"], "episode_key": ["e/1", "e/2", "e/3", "e/4", "e/5"],
        "category": ["missing", "absent", "missing", "missing", "missing"],
        "reported_at": [t("2017-03-02"), t("2017-03-05"), t("2017-03-06"), t("2017-03-30"), t("2017-03-07")],
        "returned_at": [t("2017-03-03"), t("2017-03-05 12:00"), pd.NaT, pd.NaT, t("2017-03-08")],
        "last_seen_ward": [None, None, None, "W3", None], "found_ward": None})
    areas = pd.DataFrame({"ward_code": ["W1", "W2", "W3"], "mase_area": ["South", "East", "South"]})
    return t, children, episodes, areas


def test_mase_lists_by_area():
    t, children, episodes, areas = _frames()
    out = mase_lists(episodes, children, areas, t("2017-03-01"), t("2017-04-01"))
    assert list(out["person_id"]) == ["B", "A", "D"]      # East first; then South: serious, significant
    s = out.set_index("person_id")
    assert s.loc["A", "mase_area"] == "South" and s.loc["A", "missing_episodes"] == 1
    assert s.loc["A", "absent_away_episodes"] == 1
    assert s.loc["D", "mase_area"] == "South" and s.loc["D", "ward_code"] == "W3"   # from the episode
    assert bool(s.loc["B", "missing_now"]) and bool(s.loc["D", "missing_now"])
    assert "C" not in s.index                                # not at CSE risk
    east = mase_lists(episodes, children, areas, t("2017-03-01"), t("2017-04-01"), area="east")
    assert list(east["person_id"]) == ["B"]


def test_mase_area_pack_lists_pseudonyms_for_members():
    from maps import packs
    _, children, episodes, areas = _frames()
    children = children.assign(given_name="Zelda", family_name=["Ay", "Bee", "Cee", "Dee"])
    data = {"children": children, "episodes": episodes, "mase_areas": areas}
    v = packs.View("mase_member", secret="s")
    html = packs.build_pack("mase", data, "2017-03-01", "2017-03-31", area="south", view=v)
    assert "MASE pack: South area" in html and v.pseudonym("A") in html and v.pseudonym("D") in html
    assert v.pseudonym("B") not in html and "Zelda" not in html          # B is East's
    with pytest.raises(packs.PackError, match="no MASE area"):
        packs.build_pack("mase", data, "2017-03-01", "2017-03-31", area="West", view=v)
