"""The global statistics of the area maps (Moran's I, General G) on the analysis route."""


def test_global_statistics_served_with_the_hotspot_map(as_role):
    r = as_role("analyst", "GET", "/analyses/hotspots/global?level=ward&purpose=test")
    assert r.status_code == 200, r.text
    rows = r.json()
    assert {x["statistic"] for x in rows} == {"moran_i", "general_g"}
    for x in rows:
        assert x["level"] == "ward" and x["method"] and 0 < x["p_sim"] <= 1
        assert x["expected"] is not None and x["value"] is not None
    assert as_role("analyst", "GET", "/analyses/hotspots/global?level=lsoa&purpose=test").json() == []
    assert as_role("licensing_officer", "GET", "/analyses/hotspots/global?purpose=test").status_code == 200
