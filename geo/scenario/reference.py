"""Real Birmingham reference data for the scenario generator, and its location-text catalogue.

Everything the generator places is put on real open data bundled in ``data/reference``
(see ``data/reference/SOURCES.md`` for licences and attribution):

* OS Code-Point Open 2014 postcode centroids (EPSG:27700, metres), Birmingham district
  ``E08000025`` only for background locations; the rest of postcode area B for out-of-area
  placements;
* ONS 2013 ward boundaries (``WD13CD``/``WD13NM``), reprojected to EPSG:27700; the centroid of
  each ward (or a point on its surface when the centroid falls outside) is the true point of a
  vague "in Aston" description;
* FSA FHRS and HMRC Eat Out to Help Out premises, turned into a licensing register.

The *catalogue* is the set of location texts a person might write for a true place, each with the
best precision an offline geocoder can reach from the bundled reference data: ``premises`` (a
register premises or a curated named place), ``postcode`` (any text holding a full valid postcode,
including "12 Albert Road, Aston, B6 4PS" since Code-Point has no street names), ``street`` (a
curated street), ``area`` (a ward name or a vague description inside a ward) and ``none``
(unresolvable). All coordinates are British National Grid metres (EPSG:27700).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "reference"
BIRMINGHAM = "E08000025"

# Well-known Birmingham places with real postcodes (checked against Code-Point 2014 at load time).
# (name, kind, postcode, aliases)
PLACES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("Birmingham New Street Station", "station", "B2 4QA", ("New Street station", "New St station", "new st stn", "Grand Central")),
    ("Birmingham Moor Street Station", "station", "B4 7UL", ("Moor Street station", "moor st station")),
    ("Birmingham Snow Hill Station", "station", "B3 2BJ", ("Snow Hill station", "snowhill")),
    ("Digbeth Coach Station", "station", "B5 6DD", ("coach station", "digbeth coach stn")),
    ("Bullring Shopping Centre", "shopping_centre", "B5 4BU", ("the Bullring", "bull ring", "Bullring")),
    ("The Mailbox", "shopping_centre", "B1 1RS", ("Mailbox",)),
    ("Fort Shopping Park", "shopping_centre", "B24 9FP", ("the Fort", "fort retail park")),
    ("Star City", "shopping_centre", "B7 5SA", ("starcity", "Star City cinema")),
    ("The Pallasades", "shopping_centre", "B2 4XD", ("Pallasades", "palisades")),
    ("Brindleyplace", "area", "B1 2JB", ("Brindley Place", "brindley place")),
    ("Cannon Hill Park", "park", "B12 9QH", ("cannon hill", "Canon Hill Park")),
    ("Sutton Park", "park", "B74 2YT", ("sutton pk",)),
    ("Handsworth Park", "park", "B20 2BY", ("handsworth pk",)),
    ("Small Heath Park", "park", "B10 0AB", ("small heath pk",)),
    ("Ward End Park", "park", "B8 2HR", ("ward end pk",)),
    ("Kings Heath Park", "park", "B14 7TQ", ("kings heath pk",)),
    ("Victoria Square", "area", "B1 1BD", ("vic square",)),
    ("Library of Birmingham", "other", "B1 2ND", ("the library", "central library")),
    ("Villa Park", "other", "B6 6HE", ("villa pk", "aston villa ground")),
    ("St Andrew's Stadium", "other", "B9 4RL", ("St Andrews", "blues ground")),
    ("Birmingham Children's Hospital", "other", "B4 6NH", ("childrens hospital", "BCH")),
    ("Queen Elizabeth Hospital", "other", "B15 2GW", ("QE hospital", "the QE")),
    ("Aston Hall", "other", "B6 6JD", ("aston hall park",)),
]

# Curated streets: (name, postcode on the street, aliases); precision "street".
STREETS: list[tuple[str, str, tuple[str, ...]]] = [
    ("Broad Street", "B1 2HF", ("Broad St", "broad st")),
    ("Hurst Street", "B5 4TD", ("Hurst St", "hurst st")),
    ("Corporation Street", "B2 4LP", ("Corporation St", "corporation st")),
    ("Soho Road", "B21 9DP", ("Soho Rd", "soho rd")),
    ("Ladypool Road", "B12 8JY", ("Ladypool Rd", "ladypool rd")),
    ("Stratford Road", "B11 1AR", ("Stratford Rd", "stratford rd")),
    ("Coventry Road", "B10 0RX", ("Coventry Rd", "coventry rd")),
    ("Alum Rock Road", "B8 1JB", ("Alum Rock Rd", "alum rock rd")),
    ("Dudley Road", "B18 7QH", ("Dudley Rd", "dudley rd")),
    ("Lozells Road", "B19 2TS", ("Lozells Rd", "lozells rd")),
    ("Digbeth High Street", "B5 6DY", ("Digbeth High St", "digbeth")),
    ("Hagley Road", "B16 8LS", ("Hagley Rd", "hagley rd")),
]

# Fictional taxi operators, hackney ranks and gambling premises added to the register.
EXTRA_PREMISES: list[tuple[str, str, str, str]] = [
    # (name, premises_type, licence_type, postcode)
    ("New Street Station Taxi Rank", "taxi_rank", "hackney_carriage", "B2 4QA"),
    ("Moor Street Taxi Rank", "taxi_rank", "hackney_carriage", "B4 7UL"),
    ("Broad Street Taxi Rank", "taxi_rank", "hackney_carriage", "B1 2HF"),
    ("Hurst Street Taxi Rank", "taxi_rank", "hackney_carriage", "B5 4TD"),
    ("Citywide Private Hire", "taxi_operator", "private_hire_operator", "B19 2TS"),
    ("Five Star Cars", "taxi_operator", "private_hire_operator", "B8 1JB"),
    ("Northside Minicabs", "taxi_operator", "private_hire_operator", "B21 9DP"),
    ("Southway Private Hire", "taxi_operator", "private_hire_operator", "B12 8JY"),
    ("Eastgate Cars", "taxi_operator", "private_hire_operator", "B10 0RX"),
    ("Lucky Seven Amusements", "gambling", "gambling", "B5 6DY"),
    ("Golden Reels Arcade", "gambling", "gambling", "B11 1AR"),
    ("Broadway Off Licence", "off_licence", "premises_licence", "B18 7QH"),
    ("Corner Stop Wines", "off_licence", "premises_licence", "B20 2BY"),
]

# Invented premises that carry the planted venue hotspots. No real business is ever planted: the
# trading names are built from made-up stems (checked at load time not to occur anywhere in the real
# premises files in data/reference/premises) and placed at real Birmingham postcodes.
FICTIONAL_STEM_A = ("Brack", "Thistle", "Pell", "Corve", "Quill", "Marl", "Fenn", "Hollin", "Wrenn", "Kestle",
                    "Orrin", "Tamber", "Dapple", "Tarran", "Merrow", "Gorse", "Lunt", "Whin", "Yarrow", "Baskel")
FICTIONAL_STEM_B = ("moor", "wick", "combe", "thorpe", "stead", "mere", "hythe", "garth", "worth", "bourne", "holt")
# premises_type: (count, name templates, nickname templates, licence_type)
FICTIONAL_TYPES: dict[str, tuple[int, tuple[str, ...], tuple[str, ...], str]] = {
    "hotel": (5, ("{s} Lodge Hotel", "{s} House Hotel", "Hotel {s}"), ("the {s}", "{l} hotel"), "premises_licence"),
    "bnb": (3, ("{s} Guest House", "{s} Rooms"), ("{l} gh", "the {s} rooms"), "premises_licence"),
    "takeaway": (6, ("{s} Fried Chicken", "{s} Pizza & Kebab", "{s} Grill House"), ("{l} chicken", "{s} kebabs"),
                 "premises_licence"),
    "shop": (3, ("{s} Convenience Store", "{s} Mini Market"), ("{l} shop",), "premises_licence"),
    "off_licence": (4, ("{s} Food & Wine", "{s} Wines"), ("{l} offy", "the offie {s}"), "premises_licence"),
    "taxi_operator": (4, ("{s} Cars", "{s} Private Hire"), ("{l} cabs", "{s} taxis"), "private_hire_operator"),
    "leisure": (3, ("{s} Snooker Club", "{s} Shisha Lounge", "{s} Pool Hall"), ("{l} snooker", "the {s} lounge"),
                "premises_licence"),
}

STREET_STEMS = np.array([
    "Albert", "Victoria", "Church", "Park", "Grove", "Station", "Mill", "Oak", "Elm", "Ash", "Beech",
    "Cedar", "Willow", "Chester", "Warwick", "Stafford", "Windsor", "Gladstone", "Wellington",
    "Nelson", "Stanley", "Clifton", "Howard", "Somerset", "Dorset", "Kenilworth", "Hazel", "Holly",
    "Laburnum", "Linden", "Rose", "Brook", "Mere", "Lea", "Hall", "Green", "Manor", "Farm", "Wood",
    "Hill", "Vale", "Highfield", "Moor", "Heath", "Cross", "Foxton", "Sandon", "Tiverton", "Alcester",
])
STREET_SUFFIXES = np.array(["Road", "Street", "Avenue", "Close", "Grove", "Lane", "Drive", "Crescent", "Way"])

NONE_TEXTS = np.array([
    "not known", "Not known", "NK", "unknown", "with friends", "refused to say", "wouldn't say",
    "out with mates", "friend's house", "with boyfriend", "walking around", "in town", "not disclosed",
])

AREA_FORMS = ("{w}", "a friend's house in {w}", "somewhere in {w}", "{lw}", "friends house {lw}", "park in {w}",
              "shops in {w}", "{w} area")

PREMISES_TYPE_FROM_FHRS = {
    "Restaurant/Cafe/Canteen": "restaurant",
    "Takeaway/sandwich shop": "takeaway",
    "Pub/bar/nightclub": "pub",
    "Hotel/bed & breakfast/guest house": "hotel",
}


def normalise_postcode(s: pd.Series) -> pd.Series:
    """Postcodes as 'OUTWARD INWARD' upper case with one space (e.g. 'B7 4PS'); invalid -> <NA>."""
    compact = s.astype("string").str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    ok = compact.str.fullmatch(r"[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2}").fillna(False)
    out = compact.str[:-3] + " " + compact.str[-3:]
    return out.where(ok)


@dataclass(frozen=True)
class Reference:
    """Real reference tables, all coordinates EPSG:27700 metres.

    postcodes: postcode, easting, northing, ward_code, ward_name (Birmingham only)
    b_postcodes: postcode, easting, northing, district (all of area B, for out-of-area homes)
    wards: ward_code, ward_name, easting, northing (centroid or point on surface), neighbours
        (tuple of queen-contiguous ward codes), n_postcodes
    premises: the licensing register (contract columns) plus true_e, true_n, ward_code, fictional
        (True for the invented premises that may carry planted venues), nickname (invented only)
    places: curated named places (contract columns) plus true_e, true_n, ward_code
    streets: name, aliases, postcode, true_e, true_n, ward_code
    """

    postcodes: pd.DataFrame
    b_postcodes: pd.DataFrame
    wards: pd.DataFrame
    premises: pd.DataFrame
    places: pd.DataFrame
    streets: pd.DataFrame


def _codepoint() -> pd.DataFrame:
    heads = pd.read_csv(REFERENCE_DIR / "gazetteer" / "codepoint_open_column_headers.csv", header=None)
    names = [str(v) for v in heads.iloc[1]]
    cp = pd.read_csv(REFERENCE_DIR / "gazetteer" / "codepoint_open_2014_b.csv", header=None, names=names,
                     usecols=["Postcode", "Eastings", "Northings", "Admin_district_code", "Admin_ward_code"],
                     dtype={"Postcode": str, "Admin_district_code": str, "Admin_ward_code": str})
    cp = cp.rename(columns={"Postcode": "raw", "Eastings": "easting", "Northings": "northing",
                            "Admin_district_code": "district", "Admin_ward_code": "ward_code"})
    cp = cp[(cp.easting > 0) & (cp.northing > 0)].copy()
    cp["postcode"] = normalise_postcode(cp.raw)
    return cp.drop(columns="raw").dropna(subset=["postcode"]).reset_index(drop=True)


def _wards() -> pd.DataFrame:
    import geopandas as gpd

    g = gpd.read_file(REFERENCE_DIR / "boundaries" / "birmingham_wards_2013.geojson").to_crs(27700)
    cen = g.geometry.centroid
    inside = cen.within(g.geometry)
    pt = cen.where(inside, g.geometry.representative_point())
    # Queen contiguity: wards sharing a boundary or a corner (a 1 m buffer absorbs digitising slivers).
    codes = g.WD13CD.astype(str).to_numpy()
    grown = gpd.GeoSeries(g.geometry.buffer(1.0), crs=g.crs)
    left, right = g.sindex.query(grown, predicate="intersects")
    keep = left != right
    nbrs = pd.Series(codes[right[keep]]).groupby(codes[left[keep]]).agg(lambda x: tuple(sorted(set(x))))
    return pd.DataFrame({"ward_code": codes, "ward_name": g.WD13NM.astype(str),
                         "easting": pt.x.round().astype(int), "northing": pt.y.round().astype(int),
                         "neighbours": [nbrs.get(c, ()) for c in codes]})


def _lookup(postcodes: pd.Series, cp: pd.DataFrame) -> pd.DataFrame:
    pc = normalise_postcode(postcodes)
    idx = cp.set_index("postcode")
    found = pc.isin(idx.index)
    if not found.all():
        missing = list(postcodes[~found])
        raise ValueError(f"curated postcodes not in Code-Point: {missing}")
    return idx.loc[pc.to_numpy(), ["easting", "northing", "ward_code", "district"]].reset_index()


def real_premises_text() -> str:
    """Every cell of the real premises files (FHRS and EOTHO), lower case, one string."""
    parts = []
    for f in sorted((REFERENCE_DIR / "premises").glob("*.csv")):
        df = pd.read_csv(f, dtype=str, keep_default_na=False)
        parts.append("\n".join(df.astype(str).agg(" | ".join, axis=1)))
    return "\n".join(parts).lower()


def _fictional_premises(bham: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Invented premises (hotels, guest houses, takeaways, shops, off licences, taxi operators,
    leisure) at real Birmingham postcodes, one ward each where possible.

    Each gets its own made-up stem ("Brackmoor"); a stem is used only if it occurs nowhere in the
    real premises files, and the full name and nicknames are checked the same way, so no invented
    trading name can be a real business in the bundled data.
    """
    real = real_premises_text()
    pairs = [(a, b) for a in FICTIONAL_STEM_A for b in FICTIONAL_STEM_B]
    pairs = [pairs[i] for i in rng.permutation(len(pairs)) if (pairs[i][0] + pairs[i][1]).lower() not in real]
    used: dict[str, int] = {}
    rows = []
    for ptype, (count, names, nicks, licence) in FICTIONAL_TYPES.items():
        in_type: set[str] = set()
        for _ in range(count):
            # distinctive stems: a first part at most twice overall and once per type
            j = next(j for j, (a, _b) in enumerate(pairs) if used.get(a, 0) < 2 and a not in in_type)
            a, b = pairs.pop(j)
            stem = a + b
            name = names[int(rng.integers(0, len(names)))].format(s=stem)
            nick = nicks[int(rng.integers(0, len(nicks)))].format(s=stem, l=stem.lower())
            if name.lower() in real or nick.lower() in real:      # cannot happen: the stem is not in real
                raise ValueError(f"invented premises name {name!r} collides with a real premises")
            used[a] = used.get(a, 0) + 1
            in_type.add(a)
            rows.append((name, ptype, licence, nick))
    fp = pd.DataFrame(rows, columns=["name", "premises_type", "licence_type", "nickname"])
    wards = bham.ward_code.unique()
    order = rng.permutation(len(wards))
    fp_wards = wards[order[np.arange(len(fp)) % len(wards)]]
    by_ward = bham.groupby("ward_code").postcode.agg(list)
    fp["postcode"] = [by_ward[w][int(rng.integers(0, len(by_ward[w])))] for w in fp_wards]
    fp["fictional"] = True
    return fp


def _register(cp: pd.DataFrame, rng: np.random.Generator, fictional: pd.DataFrame | None = None) -> pd.DataFrame:
    """The licensing register from FHRS + EOTHO (real), fictional taxi/gambling premises and the
    invented premises that carry planted venues (``fictional`` column True; deterministic)."""
    from pyproj import Transformer

    fh = pd.read_csv(REFERENCE_DIR / "premises" / "fhrs_birmingham_new_2025-11_to_2026-08.csv", dtype=str)
    fh = fh[fh.BusinessType.isin(list(PREMISES_TYPE_FROM_FHRS))].copy()
    name = fh.BusinessName.str.strip()
    ptype = fh.BusinessType.map(PREMISES_TYPE_FROM_FHRS)
    low = name.str.lower()
    ptype = ptype.mask((ptype == "pub") & low.str.contains(r"\bclub\b"), "nightclub")
    ptype = ptype.mask((ptype == "pub") & low.str.contains(r"\bbar\b|martini|tap\b"), "bar")
    ptype = ptype.mask((ptype == "hotel") & low.str.contains(r"townhouse|rooms|guest|b&b"), "bnb")
    ptype = ptype.mask((ptype == "restaurant") & low.str.contains(r"caf[eé]|coffee|tea\b"), "cafe")
    addr = fh[["AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4"]].apply(
        lambda c: c.str.strip()).fillna("")
    address = addr.agg(", ".join, axis=1).str.replace(r"(, )+", ", ", regex=True).str.strip(", ")
    lat = pd.to_numeric(fh.Latitude, errors="coerce")
    lon = pd.to_numeric(fh.Longitude, errors="coerce")
    tr = Transformer.from_crs(4326, 27700, always_xy=True)
    e, n = tr.transform(lon.to_numpy(), lat.to_numpy())
    e = np.where(np.isfinite(e), e, np.nan)
    n = np.where(np.isfinite(n), n, np.nan)
    fhrs = pd.DataFrame({"name": name.to_numpy(), "premises_type": ptype.to_numpy(), "address": address.to_numpy(),
                         "postcode": fh.PostCode.str.strip().to_numpy(), "lat": lat.to_numpy(), "lon": lon.to_numpy(),
                         "true_e": np.round(e), "true_n": np.round(n)})

    eo = pd.read_csv(REFERENCE_DIR / "premises" / "eat_out_to_help_out_birmingham_2020.csv", dtype=str)
    low = eo.Name.str.lower().fillna("")
    etype = np.select(
        [low.str.contains(r"hotel|\binn\b.*hotel|marriott|hilton"), low.str.contains(r"\binn\b|arms\b|tavern|\bpub\b|bar\b"),
         low.str.contains(r"caf[eé]|coffee|tea room"), low.str.contains(r"casino"), low.str.contains(r"golf|club|bowl|play")],
        ["hotel", "pub", "cafe", "gambling", "leisure"], "restaurant")
    eaddr = eo[["Line 1", "Line 2", "Town"]].apply(lambda c: c.str.strip()).fillna("")
    eotho = pd.DataFrame({"name": eo.Name.str.strip().to_numpy(), "premises_type": etype,
                          "address": eaddr.agg(", ".join, axis=1).str.replace(r"(, )+", ", ", regex=True)
                          .str.strip(", ").to_numpy(),
                          "postcode": eo.Postcode.to_numpy(), "lat": np.nan, "lon": np.nan,
                          "true_e": np.nan, "true_n": np.nan})

    extra = pd.DataFrame(EXTRA_PREMISES, columns=["name", "premises_type", "licence_type", "postcode"])
    extra["address"] = ""
    extra["lat"] = np.nan
    extra["lon"] = np.nan
    extra["true_e"] = np.nan
    extra["true_n"] = np.nan
    fic = fictional if fictional is not None else pd.DataFrame(columns=["name", "premises_type", "licence_type",
                                                                       "nickname", "postcode", "fictional"])
    fic = fic.assign(address="", lat=np.nan, lon=np.nan, true_e=np.nan, true_n=np.nan)
    reg = pd.concat([fhrs, eotho, extra, fic], ignore_index=True)
    reg["fictional"] = reg.fictional.astype("boolean").fillna(False).astype(bool)
    reg["nickname"] = reg.nickname.fillna("")
    reg["pc_norm"] = normalise_postcode(reg.postcode)
    pcidx = cp.set_index("postcode")
    known = reg.pc_norm.isin(pcidx.index)
    reg = reg[known].reset_index(drop=True)
    at = pcidx.loc[reg.pc_norm.to_numpy()]
    reg["true_e"] = reg.true_e.fillna(pd.Series(at.easting.to_numpy(), dtype=float))
    reg["true_n"] = reg.true_n.fillna(pd.Series(at.northing.to_numpy(), dtype=float))
    reg["ward_code"] = at.ward_code.to_numpy()
    reg["district"] = at.district.to_numpy()
    reg = reg[reg.district == BIRMINGHAM].drop_duplicates(subset=["name", "pc_norm"]).reset_index(drop=True)
    reg["true_e"] = reg.true_e.astype(int)
    reg["true_n"] = reg.true_n.astype(int)

    lt = reg.get("licence_type")
    reg["licence_type"] = lt.fillna("") if lt is not None else ""
    default_lt = np.where(reg.premises_type.isin(["pub", "bar", "nightclub", "hotel", "bnb", "restaurant",
                                                  "takeaway", "leisure", "off_licence"]), "premises_licence",
                          np.where(reg.premises_type == "gambling", "gambling", "other"))
    reg["licence_type"] = reg.licence_type.where(reg.licence_type != "", default_lt)
    reg.loc[reg.name.str.contains("Club", case=False) & (reg.premises_type == "nightclub"),
            "licence_type"] = "club_premises_certificate"
    n = len(reg)
    numbers = rng.choice(np.arange(1000, 99999), size=n, replace=False)
    prefix = np.select([reg.premises_type.eq("taxi_operator"), reg.premises_type.eq("taxi_rank"),
                        reg.premises_type.eq("gambling")], ["BCC/PHO/", "BCC/HCR/", "BCC/GA/"], "BCC/PL/")
    reg["premises_id"] = pd.Series(prefix) + pd.Series(numbers).map("{:06d}".format)
    reg["status"] = rng.choice(["active", "suspended", "revoked", "surrendered", "expired"], size=n,
                               p=[0.9, 0.02, 0.01, 0.03, 0.04])
    # About half carry coordinates (BNG or WGS84), the rest only address + postcode.
    has_ll = reg.lat.notna()
    r = rng.random(n)
    give_bng = has_ll & (r < 0.45) | (~has_ll & (r < 0.25))
    give_ll = has_ll & (r >= 0.45) & (r < 0.7)
    reg["easting"] = np.where(give_bng, reg.true_e, np.nan)
    reg["northing"] = np.where(give_bng, reg.true_n, np.nan)
    reg["latitude"] = np.where(give_ll, reg.lat.round(6), np.nan)
    reg["longitude"] = np.where(give_ll, reg.lon.round(6), np.nan)
    return reg.drop(columns=["lat", "lon", "district"])


def _places(cp: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    pl = pd.DataFrame(PLACES, columns=["name", "kind", "postcode", "aliases"])
    at = _lookup(pl.postcode, cp)
    pl["true_e"] = at.easting.to_numpy()
    pl["true_n"] = at.northing.to_numpy()
    pl["ward_code"] = at.ward_code.to_numpy()
    st = pd.DataFrame(STREETS, columns=["name", "postcode", "aliases"])
    at = _lookup(st.postcode, cp)
    st["true_e"] = at.easting.to_numpy()
    st["true_n"] = at.northing.to_numpy()
    st["ward_code"] = at.ward_code.to_numpy()
    return pl, st


@lru_cache(maxsize=1)
def load_reference() -> Reference:
    """Load and cache the bundled real reference data (deterministic: the register ids use seed 0)."""
    cp = _codepoint()
    wards = _wards()
    bham = cp[cp.district == BIRMINGHAM].merge(wards[["ward_code", "ward_name"]], on="ward_code", how="inner")
    bham = bham.sort_values("postcode").reset_index(drop=True)
    wards = wards.merge(bham.groupby("ward_code").size().rename("n_postcodes").reset_index(), on="ward_code")
    premises = _register(cp, np.random.default_rng(0), _fictional_premises(bham, np.random.default_rng(1)))
    places, streets = _places(cp)
    return Reference(postcodes=bham, b_postcodes=cp[cp.district != BIRMINGHAM].reset_index(drop=True),
                     wards=wards.sort_values("ward_code").reset_index(drop=True), premises=premises,
                     places=places, streets=streets)
