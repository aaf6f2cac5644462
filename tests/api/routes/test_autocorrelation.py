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


def test_rates_withheld_with_small_counts():
    import pandas as pd
    from geo.disclosure import suppress_small_rates
    df = pd.DataFrame({"children": [0, 3, 12], "value": [0.0, 3.0, 12.0], "rate": [None, 0.4, 1.5],
                       "eb_rate": [0.1, 0.6, 1.4], "gi_z": [0.1, 0.2, 0.3]})
    out = suppress_small_rates(df)
    assert out["value"].tolist() == [0.0, None, 12.0] and out["eb_rate"].tolist()[1] is None
    assert out["gi_z"].tolist() == [0.1, 0.2, 0.3] and df["value"].tolist()[1] == 3.0
