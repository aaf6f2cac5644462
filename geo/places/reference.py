"""Loading reference data into the store: the postcode gazetteer and boundaries of any city.

Nothing here is specific to Birmingham: the bundled Birmingham files in data/reference are what
`make demo` happens to load.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd
import shapely
import sqlalchemy as sa

from geo.storage import schema
from geo.places.areas import locate_points, read_boundaries
from geo.places.postcodes import read_postcode_file
from geo.storage.store import Store

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "reference"
MASE_AREAS_ILLUSTRATIVE = REFERENCE_DIR / "mase_areas_birmingham_illustrative.csv"
BUNDLED = {
    "codepoint": [REFERENCE_DIR / "gazetteer" / "codepoint_open_2014_b.csv"],
    "wards": REFERENCE_DIR / "boundaries" / "birmingham_wards_2013.geojson",
    "lsoa": REFERENCE_DIR / "boundaries" / "birmingham_lsoa_2011.geojson",
}


@dataclass
class ReferenceReport:
    postcodes: int
    wards: int
    lsoas: int

    def __str__(self) -> str:
        return (f"loaded {self.postcodes} postcodes, {self.wards} wards, "
                f"{self.lsoas} LSOAs")


def load_reference(store: Store, codepoint: Iterable[str | Path], wards: str | Path,
                   lsoa: str | Path | None = None, code_field: str | None = None,
                   name_field: str | None = None) -> ReferenceReport:
    """Load postcode files (Code-Point Open without header, or ONSPD) and boundaries.

    Postcodes already stored are replaced by the new files' rows; each boundary level is replaced
    whole. All in one transaction: a failure leaves the store as it was.
    """
    pcs = pd.concat([read_postcode_file(p) for p in codepoint], ignore_index=True)
    pcs = pcs.dropna(subset=["postcode", "easting", "northing"])
    pcs = pcs.drop_duplicates("postcode", keep="last")
    levels = {"ward": read_boundaries(wards, "ward", code_field, name_field)}
    if lsoa is not None:
        levels["lsoa"] = read_boundaries(lsoa, "lsoa", code_field, name_field)

    areas = pd.concat(list(levels.values()), ignore_index=True)
    located = locate_points(pcs["easting"], pcs["northing"], areas)
    pcs["lsoa_code"] = located["lsoa_code"].to_numpy()
    pcs["ward_code"] = pcs["ward_code"].where(pcs["ward_code"].notna(),
                                              located["ward_code"].to_numpy())
    with store.engine.begin() as conn:
        existing = set(conn.execute(sa.select(schema.postcodes.c.postcode)).scalars())
        stale = sorted(existing & set(pcs["postcode"]))
        for i in range(0, len(stale), 5000):
            conn.execute(schema.postcodes.delete()
                         .where(schema.postcodes.c.postcode.in_(stale[i:i + 5000])))
        store.insert_frame(conn, schema.postcodes, pcs)
        for level, gdf in levels.items():
            conn.execute(schema.areas.delete().where(schema.areas.c.level == level))
            cent = gdf.geometry.representative_point()
            rows = pd.DataFrame({
                "level": level, "area_code": gdf["area_code"], "area_name": gdf["area_name"],
                "geometry_wkb": shapely.to_wkb(gdf.geometry.to_numpy()),
                "centroid_e": cent.x, "centroid_n": cent.y})
            store.insert_frame(conn, schema.areas, rows)
    return ReferenceReport(len(pcs), len(levels["ward"]),
                           len(levels["lsoa"]) if "lsoa" in levels else 0)


def load_bundled(store: Store) -> ReferenceReport:
    """The bundled Birmingham reference data (data/reference, see SOURCES.md)."""
    return load_reference(store, BUNDLED["codepoint"], BUNDLED["wards"], BUNDLED["lsoa"])


def load_mase_areas(store: Store, path: str | Path) -> str:
    """Replace the store's MASE areas (``geo.meetings.mase.read_mase_areas``) with a file's; wards not in
    the loaded boundaries are kept but counted in the report line."""
    from geo.meetings.mase import read_mase_areas
    df = read_mase_areas(path)
    with store.engine.begin() as conn:
        wards = set(conn.execute(sa.select(schema.areas.c.area_code)
                                 .where(schema.areas.c.level == "ward")).scalars())
        conn.execute(schema.mase_areas.delete())
        store.insert_frame(conn, schema.mase_areas, df)
    unknown = int((~df["ward_code"].isin(wards)).sum()) if wards else len(df)
    return (f"loaded {len(df)} wards in {df['mase_area'].nunique()} MASE areas "
            f"({', '.join(sorted(df['mase_area'].unique()))})"
            + (f"; {unknown} ward codes not in the loaded boundaries" if unknown else ""))
