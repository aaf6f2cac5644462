import json
import re

import numpy as np
import pandas as pd
import pytest

from maps import layers
from maps.assets import check_offline


def test_to_wgs84_birmingham_centre():
    lat, lon = layers.to_wgs84([406800.0], [286800.0])
    assert lat[0] == pytest.approx(52.48, abs=0.01) and lon[0] == pytest.approx(-1.90, abs=0.01)


def test_boundaries_have_codes_and_names():
    w = layers.load_boundaries("ward")
    assert len(w) == 40 and w["area_code"].str.startswith("E05").all() and w.crs.to_epsg() == 4326


def test_full_map_is_offline_and_has_every_layer(frames):
    m = layers.hotspot_map(frames["area_hotspots_ward"], frames["place_events"], None,
                           frames["premises_of_concern"], frames["co_missing_groups"])
    html = layers.map_html(m)
    check_offline(html)
    for host in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn", "unpkg", "tile.openstreetmap"):
        assert host not in html
    assert not re.search(r"src=\"https?://|<link[^>]*href=\"https?://", html)
    for name in ("Ward hot spots (Gi*)", "Found-at points", "Heat map (by month)", "Co-missing groups",
                 "Premises of concern", "Network: places linked by children"):
        assert name in html
    assert "Contains Ordnance Survey and ONS data" in html  # attribution kept in the credits
    assert "WF.pointsLayer" in html and "WF.timeHeat" in html
    assert "Hot spot, FDR q" in html and "confidence" not in html  # legend: the test and the q


def test_points_are_one_canvas_layer_not_markers(frames):
    ev = pd.concat([frames["place_events"]] * 20, ignore_index=True)  # 8,000 points
    m = layers.base_map()
    layers.found_at_layer(ev, labels=False).add_to(m)
    html = layers.map_html(m)
    assert html.count("L.marker(") == 0 and html.count("L.circleMarker(") == 0
    data = json.loads(re.search(r'WF\.pointsLayer\((\{.*?\}), \{"colors"', html).group(1))
    assert data["n"] == len(ev) and data["enc"] == "b64"


def test_hotspot_classes_and_minimised_counts(frames):
    hs = frames["area_hotspots_ward"].copy()
    hs["children"] = 3
    fg = layers.hotspot_layer(hs, count=lambda n: "<5" if 0 < int(n) < 5 else str(int(n)))
    m = layers.base_map()
    fg.add_to(m)
    html = m.get_root().render()
    assert '"children_txt": "\\u003c5"' in html or '"children_txt": "<5"' in html
    assert layers.GI_CLASSES[3][0] in html  # style function colours by class


def test_place_links_counts_distinct_children():
    ev = pd.DataFrame({
        "person_id": ["a", "a", "b", "b", "c", "c", "c"],
        "easting": [400000, 401000, 400010, 401020, 400020, 401030, 405000],
        "northing": [280000, 281000, 280010, 281020, 280020, 281030, 285000],
    }).astype({"easting": float, "northing": float})
    links = layers.place_links(ev, min_children=2)
    assert len(links) == 1 and links["children"].iloc[0] == 3
    assert layers.place_links(ev, min_children=4).empty


def test_group_places_and_hulls(frames):
    gp = layers.group_places(frames["co_missing_groups"], frames["place_events"])
    assert set(gp["group_id"]) <= {"G1", "G2"} and len(gp) > 0
    ev = frames["place_events"].head(60)
    labels = np.repeat([0, 1, -1], 20)
    hulls = layers.cluster_hulls(ev, labels)
    assert list(hulls["cluster_id"]) == [0, 1] and (hulls.geometry.area > 0).all()
    m = layers.base_map()
    layers.cluster_layer(hulls.assign(first_seen="2017-01-01", last_seen="2017-02-01")).add_to(m)
    check_offline(layers.map_html(m))


def test_premises_icons_by_type_and_colour_by_score(frames):
    poc = frames["premises_of_concern"]
    m = layers.base_map()
    layers.premises_layer(poc).add_to(m)
    html = m.get_root().render()
    assert html.count("wf-prem-icon") >= len(poc)
    assert "#bd0026" in html and "#ffffb2" in html  # highest and lowest score colours
    assert "children found within 150 m" in html  # explanation in the popup
