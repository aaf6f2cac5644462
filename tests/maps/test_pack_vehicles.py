"""Issue 15 (low): packs showed vehicle registrations to the case roles whose API view
pseudonymises them. Every pack kind is built for every role; no role whose API view is not
``full`` (api.minimise.VIEW_OF_ROLE) may find a registration in it, in any spelling, while the
analyst's pack of the same data does show it (so the registration does reach the packs)."""
from __future__ import annotations

import pandas as pd
import pytest

from api.minimise import VIEW_OF_ROLE
from geo import disclosure
from maps import packs

VRM = "XK53 QZJ"
SPELLINGS = (VRM, VRM.replace(" ", ""), "XK53&nbsp;QZJ")


@pytest.fixture(scope="module")
def with_vehicle(frames):
    data = dict(frames)
    ch = data["children"]
    child = str(ch.loc[ch["child_key"] == "synth/C0001", "person_id"].iloc[0])
    adult = str(data["persons"].loc[data["persons"]["role"] == "adult_of_concern", "person_id"].iloc[0])
    extra = pd.DataFrame({"link_key": ["v1", "v2"], "source": "police",
                          "from_ref": [f"person:{adult}", f"child:{child}"],
                          "to_ref": [f"vehicle:{VRM}", f"vehicle:{VRM}"],
                          "relation": ["drives", "transported_by"],
                          "observed_at": pd.Timestamp("2017-03-02", tz="UTC"), "source_ref": "intel:I1",
                          "grading": "2B P"})
    data["links"] = pd.concat([data["links"], extra], ignore_index=True)
    intel = data["intelligence"].copy()
    intel["vehicle"] = [VRM]
    data["intelligence"] = intel
    data.pop("_graph", None)
    return data, child


def _build(kind, data, child, role):
    return packs.build_pack(kind, data, "2017-01-01", "2017-12-31", child="synth/C0001" if kind == "mase" else None,
                            view=packs.View(role=role, secret="test-secret"))


@pytest.mark.parametrize("kind", packs.PACK_KINDS)      # licensing: premises only, no network
def test_no_registration_reaches_a_pseudonymised_role(with_vehicle, kind):
    data, child = with_vehicle
    for role, view in VIEW_OF_ROLE.items():
        if view == "full":
            continue
        html = _build(kind, data, child, role)
        for s in SPELLINGS:
            assert s not in html, (kind, role, s)


@pytest.mark.parametrize("kind", ("cog", "mase"))
def test_analysts_still_see_the_registration(with_vehicle, kind):
    data, child = with_vehicle
    html = _build(kind, data, child, "analyst")
    assert any(s in html for s in SPELLINGS), kind
    member = _build(kind, data, child, packs.DEFAULT_ROLE[kind])
    assert '"kind": "vehicle"' in member and '"label": "vehicle"' in member      # the node stays, unlabelled


def test_one_label_rule_for_api_and_packs():
    assert disclosure.node_label("vehicle", VRM) == "vehicle"
    assert disclosure.node_label("place", "12 Home Road") == "place"
    assert disclosure.node_label("premises", "The Swan") == "The Swan"
