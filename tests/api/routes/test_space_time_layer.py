"""The space-time scan clusters layer: served to data roles, counts minimised per role."""
import pytest


def test_analyst_sees_scan_clusters(as_role):
    fc = as_role("analyst", "GET", "/collections/space_time_clusters/items?limit=1000").json()
    assert fc["features"], "the fixture scan reports clusters"
    props = fc["features"][0]["properties"]
    for k in ("cluster_id", "start", "end", "observed", "expected", "relative_risk", "llr", "p_value",
              "recurrence_days", "q_value", "centre_e"):
        assert k in props
    assert fc["features"][0]["geometry"]["type"] == "Polygon"


@pytest.mark.parametrize("role", ["mog_member", "licensing_officer"])
def test_scan_clusters_minimised(as_role, role):
    full = as_role("analyst", "GET", "/collections/space_time_clusters/items?limit=1000").json()["features"]
    got = as_role(role, "GET", "/collections/space_time_clusters/items?limit=1000").json()["features"]
    assert len(got) == len(full) > 0
    for f, a in zip(got, full):
        p = f["properties"]
        assert "centre_e" not in p and "centre_n" not in p
        if isinstance(a["properties"]["observed"], int) and 0 < a["properties"]["observed"] < 5:
            assert p["observed"] == "<5" and p["relative_risk"] is None and p["llr"] is None
        else:
            assert p["observed"] == a["properties"]["observed"]
