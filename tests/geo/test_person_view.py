"""The best view of each person (geo.meetings.person_view) against a per-person reading of its
rules: the most authoritative source's value (ties: the record key), the highest CSE risk, a
conflict where the records hold more than one value, placement coordinates following the chosen
placement postcode; and the same view whatever the order of the records."""
import numpy as np
import pandas as pd
import pytest

from geo.meetings.person_view import (AUTHORITY, CHECKED, HIGHEST, _values, person_view,
                                      source_kind)

SOURCES = ["police", "carefirst", "rhi_provider", "school_ems", "other_src"]


@pytest.fixture(scope="module")
def children() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    pid = rng.integers(0, 90, n)
    src = rng.choice(SOURCES, n)
    postcodes = np.array(["B1 1AA", "B2 2BB", "B3 3CC", "unknown", ""], dtype=object)
    pc = postcodes[rng.integers(0, 5, n)]
    return pd.DataFrame({
        "person_id": [f"P{p:03d}" for p in pid],
        "child_key": [f"{s}/C{i:04d}" for i, s in enumerate(src)],
        "source": src,
        "care_status": np.array(["cic", "cp", "none", "unknown", None], dtype=object)[rng.integers(0, 5, n)],
        "cse_risk": np.array(["none", "at_risk", "significant", "serious", None], dtype=object)[rng.integers(0, 5, n)],
        "placement_postcode": pc,
        "placement_e": np.where(pc == "", np.nan, rng.uniform(400000, 420000, n)),
        "dob": pd.to_datetime("2005-01-01") + pd.to_timedelta(rng.integers(0, 3, n) * 400, "D"),
        "from_episode": rng.random(n) < 0.3,
    })


def _reference(ch: pd.DataFrame, field: str) -> dict:
    """The rules read person by person: ``{person_id: {value, source, conflict, values}}``."""
    text = _values(ch[field])
    rows = {}
    for pid, g in ch.groupby("person_id"):
        cand = []
        for i in g.index:
            if text[i] is None:
                continue
            if field in HIGHEST:
                rank = -HIGHEST[field].index(text[i]) if text[i] in HIGHEST[field] else 1
            else:
                order = AUTHORITY[field]
                kind = source_kind(ch.at[i, "source"])
                rank = order.index(kind) if kind in order else len(order)
            cand.append((rank, ch.at[i, "child_key"], i))
        cand.sort()
        chosen = cand[0][2] if cand else None
        distinct = {text[i] for _, _, i in cand}
        rows[pid] = {"value": None if chosen is None else ch.at[chosen, field],
                     "source": None if chosen is None else ch.at[chosen, "child_key"],
                     "conflict": len(distinct) > 1,
                     "values": {k: text[i] for _, k, i in cand} if len(distinct) > 1 else None}
    return rows


@pytest.mark.parametrize("field", ["care_status", "cse_risk", "placement_postcode", "dob"])
def test_each_field_follows_its_rule(children, field):
    view = person_view(children)
    ref = _reference(children, field)
    assert list(view.index) == sorted(ref)
    for pid, r in ref.items():
        got = view.loc[pid]
        if r["value"] is None:
            assert pd.isna(got[field]) and pd.isna(got[f"{field}_source"])
        else:
            assert got[field] == r["value"] and got[f"{field}_source"] == r["source"]
        assert bool(got[f"{field}_conflict"]) == r["conflict"]
        if field in CHECKED:
            if r["conflict"]:
                assert got[f"{field}_values"] == r["values"]
                assert list(got[f"{field}_values"]) == list(r["values"])   # strongest first
            else:
                assert pd.isna(got[f"{field}_values"])


def test_records_sources_and_minimal_records(children):
    view = person_view(children)
    for pid, g in children.groupby("person_id"):
        assert view.at[pid, "records"] == len(g)
        assert view.at[pid, "sources"] == ";".join(sorted(set(g["source"])))
        assert view.at[pid, "from_episode"] == bool(g["from_episode"].all())


def test_coordinates_follow_the_chosen_postcode(children):
    view = person_view(children)
    key_e = children.set_index("child_key")["placement_e"]
    for pid, src in view["placement_postcode_source"].items():
        if pd.isna(src):
            assert pd.isna(view.at[pid, "placement_e"])
        else:
            assert view.at[pid, "placement_e"] == key_e[src] or (
                pd.isna(view.at[pid, "placement_e"]) and pd.isna(key_e[src]))


def test_the_order_of_the_records_does_not_matter(children):
    a = person_view(children)
    b = person_view(children.sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
