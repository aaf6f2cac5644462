"""Which events make the space-time scan's most likely cylinder on a generated null drop (issue 13).

Run: ``.venv/bin/python bench/scan_top_cylinder.py --drop 0 --null housemates [--own-place-rule]``

Generates drop ``seed = 1000 + drop`` exactly as ``bench/bench_null_spacetime.py`` does (city scale,
ingest, identity resolution), runs the retrospective scan without replicates (the cylinder does
not depend on them) and prints the found-at events inside the most likely cylinder with the
own-place flags of ``geo.places.located``: ``home`` (the child's placement or a place it was last
seen), ``habitual`` (a point it was found at in two or more episodes), ``placement`` (a
shared-setting placement, anyone's), ``named`` (matched to a named premises or place), plus each
child's number of found-at events in the year and its placement records.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")


def main() -> None:
    import numpy as np
    import pandas as pd
    from api.jobs.identity import save_identities
    from geo.places.located import (at_a_placement, at_home, at_own_place, entity_matched, establishment_points,
                                    habitual_points, home_points, own_places)
    from geo.places.reference import load_bundled
    from geo.scenario.generator import generate
    from geo.stats.hotspots import filter_events
    from geo.stats.scan import EXCLUDE_PRECISION, prepare, space_time_scans
    from geo.storage.ingest import ingest_drop
    from geo.storage.store import open_store
    from network.identity import records_from_frames, resolve_identities

    ap = argparse.ArgumentParser()
    ap.add_argument("--drop", type=int, default=0)
    ap.add_argument("--null", default="housemates", choices=("plain", "housemates"))
    ap.add_argument("--own-place-rule", action="store_true")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "scan_top_cylinder")
    a = ap.parse_args()
    d = a.work / f"{a.null}{a.drop}"
    shutil.rmtree(d, ignore_errors=True)
    generate(d / "drop", seed=1000 + a.drop, scale="city", null=True if a.null == "plain" else a.null)
    store = open_store(f"sqlite:///{d / 'wf.sqlite'}")
    load_bundled(store)
    ingest_drop(store, d / "drop")
    save_identities(store, resolve_identities(records_from_frames(store.frame("children"), store.frame("persons")),
                                              store.table("identity_overrides"), seed=a.drop))
    ev, ch = store.frame("place_events"), store.frame("children")
    store.engine.dispose()

    data = prepare(ev, children=ch, own_place_rule=a.own_place_rule)
    (cl, info), = space_time_scans(data, analyses=(False,), replications=0, seed=a.drop)
    top = cl.iloc[0]
    print(f"drop {a.drop} ({a.null}, own-place rule {'on' if a.own_place_rule else 'off'}): {info['events']} events, "
          f"{info['own_place_events_left_out']} left out; top cylinder LLR {top.llr:.2f}, observed {top.observed}, "
          f"expected {top.expected:.2f}, {top.children} children, {top.start.date()} .. {top.end.date()}, "
          f"radius {top.radius_m:.0f} m, {top.locations} cells")

    # the scan's events, as prepare reads them, with the own-place flags
    f = filter_events(ev, ("found_at",), None, None).dropna(subset=["easting", "northing", "at"])
    f = f[~f["precision"].astype("string").isin(list(EXCLUDE_PRECISION)).fillna(False).to_numpy(bool)]
    f = f.reset_index(drop=True)
    homes, places = home_points(ch, ev), establishment_points(ch)
    f["home"] = at_home(f, homes)
    f["habitual"] = at_home(f, habitual_points(ev)) & ~f["home"].to_numpy()
    f["placement"] = at_a_placement(f, places)
    f["named"] = entity_matched(f["match_id"]) if "match_id" in f else False
    if a.own_place_rule:
        f = f[~at_own_place(f, own_places(ch, ev), places)].reset_index(drop=True)
    cell = (np.floor(f[["easting", "northing"]].to_numpy(float) / data.cell_m) + 0.5) * data.cell_m
    in_circle = np.hypot(cell[:, 0] - top.centre_e, cell[:, 1] - top.centre_n) <= top.radius_m + 1e-6
    at = pd.to_datetime(f["at"], utc=True)
    inside = in_circle & (at >= top.start).to_numpy() & (at < top.end).to_numpy()
    own = f[["home", "habitual", "placement"]].any(axis=1).to_numpy()
    sub = f[inside]
    pd.set_option("display.width", 250)
    cols = [c for c in ("person_id", "at", "text", "easting", "northing", "precision", "home", "habitual",
                        "placement", "named") if c in sub]
    print(sub[cols].sort_values("at").to_string())
    n_found = filter_events(ev, ("found_at",), None, None).groupby("person_id").size()
    print("found-at events in the year per child:", n_found.reindex(sub["person_id"].unique()).to_dict())
    pcols = [c for c in ("person_id", "placement_type", "placement_postcode", "care_status") if c in ch]
    print(ch.loc[ch["person_id"].isin(sub["person_id"]), pcols].to_string())
    print(f"in the cylinder: {own[inside].mean():.0%} at an own place; in its circle over the whole period: "
          f"{int(in_circle.sum())} events, {own[in_circle].mean():.0%} at an own place; all scanned events: "
          f"{own.mean():.0%} at an own place")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
