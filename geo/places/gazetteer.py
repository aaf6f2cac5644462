"""The offline gazetteer: everything a location text can be resolved against.

Built once per ingest from the postcodes frame (Code-Point Open / ONSPD, see
``geo.places.postcodes``), the area boundaries (wards, LSOAs), the licensing register
(the premises frame of docs/FRAMES.md), named places (places.csv of a drop) and,
for Birmingham, the curated list ``data/places/birmingham_places.csv``.

Every point is British National Grid (EPSG:27700) metres.  Nothing here is
specific to one city: area names, generic words and street names are all taken
from the data given.

Named things (premises, places, wards and neighbourhoods, streets seen in
premises addresses) go into one *name index*: a token vocabulary with a weight
per token (rare tokens weigh 1, tokens common among names weigh less, stop
words 0) and a sparse names x tokens matrix.  ``geo.places.geocode`` matches texts
against it blocked by rare tokens, so the cost grows with the candidates a text
shares a distinctive word with, not with the size of the gazetteer.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import Transformer
from scipy import sparse


from geo.places.areas import AreaIndex
from geo.places.postcodes import (
    district_of,
    normalise_postcodes,
    postcode_key,
    sector_of,
)

CURATED_PLACES = Path(__file__).resolve().parents[2] / "data" / "places" / "birmingham_places.csv"

#: Words that never identify anything on their own (weight 0 in names and texts).
STOPWORDS = frozenset(
    "the a an and of at in on by to for from with near nr opposite opp outside behind next "
    "around round back front side top bottom end inside off up down over under into onto "
    "o s his her their my our your its he she they them him we was were is are been be "
    "found seen last went go going stayed staying slept sleeping living lives lived went "
    "area place places location somewhere someone something some any just like".split()
)
#: Words of a text that say how vague it is; they never block or count as evidence.
VAGUE_WORDS = frozenset(
    "friend friends mate mates house home flat address family relative relatives auntie aunt "
    "uncle cousin nan gran boyfriend girlfriend partner known unknown not nk refused say said "
    "abode fixed nfa unsure sure unclear no none nothing street streets road roads town city "
    "centre park shop shops car cars bus".split()
)
#: Spelling variants mapped to one token, applied to names and texts alike.
ABBREVIATIONS = {
    "rd": "road", "st": "street", "str": "street", "ave": "avenue", "av": "avenue",
    "ln": "lane", "dr": "drive", "cl": "close", "cres": "crescent", "cr": "crescent",
    "gdns": "gardens", "gr": "grove", "pl": "place", "sq": "square", "ter": "terrace",
    "terr": "terrace", "pk": "park", "stn": "station", "ctr": "centre", "cntr": "centre",
    "center": "centre", "sc": "centre", "hosp": "hospital", "uni": "university",
    "univ": "university", "mkt": "market", "bham": "birmingham", "brum": "birmingham",
    "mcd": "mcdonalds", "maccies": "mcdonalds", "maccys": "mcdonalds", "mcds": "mcdonalds",
    "kfc": "kfc", "hse": "house", "ct": "court", "nth": "north", "sth": "south",
    "w": "west", "e": "east", "n": "north", "gt": "great", "lt": "little", "jct": "junction",
    "colour": "color", "theatre": "theater", "spoons": "wetherspoon", "wetherspoons": "wetherspoon",
    "mcdonald": "mcdonalds", "maccys": "mcdonalds",
}
#: Street-type words: an address part ending in one of these names a street.
STREET_TYPES = frozenset(
    "road street lane avenue drive close way walk grove place crescent hill square row parade "
    "terrace gardens court green rise view mews croft wharf circus queensway ringway boulevard "
    "highway passage gate".split()
)

_BNG_TO_WGS84 = Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
_WGS84_TO_BNG = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def to_wgs84(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude, longitude (WGS84 degrees) of British National Grid metres; NaN stays NaN."""
    lon, lat = _BNG_TO_WGS84.transform(np.asarray(easting, float), np.asarray(northing, float))
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    bad = ~(np.isfinite(lat) & np.isfinite(lon))
    return np.where(bad, np.nan, lat), np.where(bad, np.nan, lon)


def to_bng(latitude: np.ndarray, longitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Easting, northing (EPSG:27700 metres) of WGS84 latitude/longitude degrees."""
    e, n = _WGS84_TO_BNG.transform(np.asarray(longitude, float), np.asarray(latitude, float))
    return np.asarray(e), np.asarray(n)


def normalise_text(texts: pd.Series) -> pd.Series:
    """Lower-case ASCII words separated by single spaces: accents folded, ``&`` read
    as ``and``, apostrophes dropped (``friend's -> friends``), other punctuation
    a word break.  Vectorised over a Series of str."""
    s = texts.astype("string").fillna("")
    if not s.str.isascii().all():
        s = s.map(lambda t: unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode())
    s = s.str.lower().str.replace("&", " and ", regex=False)
    s = s.str.replace(r"['\u2019`]", "", regex=True)
    s = s.str.replace(r"^\s*place:", " ", regex=True)
    s = s.str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()
    return s.astype(object)


def tokenise(norm: pd.Series) -> pd.Series:
    """Token lists of normalised texts with spelling variants unified (ABBREVIATIONS)."""
    return norm.map(lambda t: [ABBREVIATIONS.get(w, w) for w in t.split()])


def street_names(addresses: pd.Series) -> pd.Series:
    """The street named in each address (``"Chinatown, 21 Ladywell Walk, Birmingham"`` ->
    ``"ladywell walk"``) as normalised text, or ``None``.  A street is the first
    comma-separated part whose last word is a street type, without its house number."""
    parts = addresses.astype("string").fillna("").str.split(",")
    ex = parts.explode()
    norm = normalise_text(ex.fillna(""))
    toks = tokenise(norm)
    ok = toks.map(lambda t: len(t) >= 2 and t[-1] in STREET_TYPES)
    cand = toks[ok].map(lambda t: " ".join(w for w in t if not re.fullmatch(r"\d+[a-z]?|\d+[a-z]?\d*", w)))
    cand = cand[cand.str.count(" ") >= 1]
    first = cand.groupby(level=0).first()
    return first.reindex(addresses.index).astype(object).where(lambda x: x.notna(), None)


@dataclass
class NameIndex:
    """Names x tokens: ``names`` (one row per name or alias; entity columns),
    ``vocab`` (token -> column), ``weight`` (per column), ``matrix`` (CSR, names x
    tokens, value = weight), ``context`` (CSR, names x tokens of the entity's
    address, postcode district and ward name, value 1), ``blocking`` (bool per
    column: distinctive enough to propose candidates)."""

    names: pd.DataFrame
    vocab: dict[str, int]
    tokens: np.ndarray
    weight: np.ndarray
    matrix: sparse.csr_matrix
    context: sparse.csr_matrix
    blocking: np.ndarray
    by_length: dict[int, np.ndarray] = field(default_factory=dict)
    is_type: np.ndarray | None = None

    @classmethod
    def build(cls, names: pd.DataFrame) -> "NameIndex":
        names = names.reset_index(drop=True)
        name_toks = tokenise(normalise_text(names["name"]))
        ctx_toks = tokenise(normalise_text(names["context"].fillna("")))
        all_tokens = pd.Index(sorted(set(name_toks.explode().dropna()) | set(ctx_toks.explode().dropna())))
        vocab = {t: i for i, t in enumerate(all_tokens)}
        n_names = len(names)
        # Document frequency over distinct entities' names (an alias does not count twice).
        ent_tok = pd.DataFrame({"entity": names["entity_id"].repeat(name_toks.str.len()).to_numpy(),
                                "token": name_toks.explode().dropna().to_numpy()}).drop_duplicates()
        df = ent_tok["token"].value_counts().reindex(all_tokens, fill_value=0).to_numpy()
        n_ent = max(names["entity_id"].nunique(), 1)
        # Weight 1 for a token in <= 1% of names (or <= 3 names), falling with frequency.
        ref = max(n_ent / max(3.0, 0.01 * n_ent), 2.0)
        weight = np.clip(np.log(n_ent / np.maximum(df, 1)) / np.log(ref), 0.1, 1.0)
        is_stop = np.array([t in STOPWORDS for t in all_tokens], dtype=bool)
        numeric = np.array([t.isdigit() for t in all_tokens], dtype=bool)
        weight[is_stop] = 0.0
        weight[numeric] = np.minimum(weight[numeric], 0.5)
        # Words found in most addresses (the city's own name) say little in a name either.
        ctx_ent = pd.DataFrame({"entity": names["entity_id"].repeat(ctx_toks.str.len()).to_numpy(),
                                "token": ctx_toks.explode().dropna().to_numpy()}).drop_duplicates()
        with_ctx = max(int((ctx_toks.str.len() > 0).sum()), 1)
        cdf = ctx_ent["token"].value_counts().reindex(all_tokens, fill_value=0).to_numpy()
        generic = cdf > max(0.2 * with_ctx, 5)
        weight[generic] = np.minimum(weight[generic], 0.2)
        is_type = np.array([t in STREET_TYPES for t in all_tokens], dtype=bool)
        blocking = (weight >= 0.45) & ~is_stop & ~numeric & (df > 0)
        blocking &= np.array([len(t) >= 2 for t in all_tokens], dtype=bool)

        def csr(toks: pd.Series, values: np.ndarray | None) -> sparse.csr_matrix:
            ex = toks.explode().dropna()
            rows = ex.index.to_numpy()
            cols = ex.map(vocab).to_numpy(dtype=np.int64)
            m = sparse.csr_matrix(
                (np.ones(len(rows)), (rows, cols)), shape=(n_names, len(vocab))
            )
            m.data[:] = 1.0  # duplicates collapse to presence
            if values is not None:
                m = sparse.csr_matrix(m.multiply(values[None, :]))
            m.eliminate_zeros()
            return m

        matrix = csr(name_toks, weight)
        context = csr(ctx_toks, None)
        lengths = np.array([len(t) for t in all_tokens])
        by_length = {int(L): np.flatnonzero((lengths == L) & (df > 0) & ~is_stop) for L in np.unique(lengths)}
        names = names.assign(
            name_weight=np.asarray(matrix.sum(axis=1)).ravel(),
            n_tokens=name_toks.str.len().to_numpy(),
            norm=name_toks.map(" ".join).to_numpy(dtype=object),
            has_street_word=name_toks.map(lambda t: any(w in STREET_TYPES for w in t)).to_numpy(bool),
            type_weight=np.asarray(matrix[:, is_type].sum(axis=1)).ravel(),
        )
        return cls(names, vocab, all_tokens.to_numpy(), weight, matrix, context, blocking, by_length, is_type)


@dataclass
class Gazetteer:
    """Postcode units, postcode sectors and districts, areas and the name index.

    Attributes
    ----------
    postcodes : DataFrame indexed by space-free key (``B74PS``): postcode, easting,
        northing, ward_code (point in polygon, else the postcode file's), sector,
        district, lsoa_code, latitude, longitude.
    sectors, districts : DataFrame indexed by ``"B7 4"`` / ``"B7"``: easting,
        northing of a representative unit (inside the sector's most common ward),
        ward_code, units.
    areas : GeoDataFrame (EPSG:27700) area_code, area_name, level, geometry.
    names : NameIndex over premises, places, areas and streets.
    addresses : the address register (geo.places.addresses.AddressIndex), when one is loaded.
    """

    postcodes: pd.DataFrame
    sectors: pd.DataFrame
    districts: pd.DataFrame
    areas: gpd.GeoDataFrame
    names: NameIndex
    _area_index: AreaIndex | None = field(default=None, repr=False)
    addresses: object | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ build
    @classmethod
    def build(
        cls,
        postcodes: pd.DataFrame,
        areas: gpd.GeoDataFrame | None = None,
        premises: pd.DataFrame | None = None,
        places: pd.DataFrame | None = None,
        curated: bool | pd.DataFrame = True,
    ) -> "Gazetteer":
        """Build the gazetteer.

        Parameters
        ----------
        postcodes : postcodes frame (``geo.places.postcodes``): postcode, easting, northing
            (EPSG:27700 m), quality, district_code, ward_code.
        areas : GeoDataFrame of area_code, area_name, level (ward | lsoa | grid),
            geometry; reprojected to EPSG:27700 if it says another CRS.  Ward names
            (and each side of "X and Y" names) become area names; LSOA and grid
            names are codes, used only for point-in-polygon.
        premises : premises frame (docs/FRAMES.md).  Premises without coordinates
            are placed at their postcode; without either they are left out.
        places : name, aliases (list or ``;`` string), kind, postcode, easting,
            northing (or latitude, longitude).  Kind ``area`` gives area precision,
            ``street`` street precision, anything else a named site (premises).
        curated : True adds the bundled Birmingham places (only those whose
            postcode is in ``postcodes``, so another city gets none); a DataFrame
            of the same columns adds those instead; False adds none.
        """
        pc = postcodes.dropna(subset=["postcode", "easting", "northing"]).copy()
        pc["postcode"] = normalise_postcodes(pc["postcode"])
        pc = pc.dropna(subset=["postcode"]).drop_duplicates("postcode", keep="last")
        pc["sector"] = sector_of(pc["postcode"])
        pc["district"] = district_of(pc["postcode"])
        pc.index = pd.Index(postcode_key(pc["postcode"]).to_numpy(), name="key")
        keep = ["postcode", "easting", "northing", "ward_code", "sector", "district"]
        if "ward_code" not in pc:
            pc["ward_code"] = None
        pc = pc[keep]

        areas_gdf = _areas_frame(areas)
        gaz = cls(pc, pd.DataFrame(), pd.DataFrame(), areas_gdf, None)  # type: ignore[arg-type]
        # Ward of every postcode by point in polygon (falls back to the file's ward outside the boundaries).
        wards = gaz.locate(pc["easting"].to_numpy(), pc["northing"].to_numpy())
        pc["ward_code"] = wards["ward_code"].where(wards["ward_code"].notna(), pc["ward_code"]).to_numpy()
        pc["lsoa_code"] = wards["lsoa_code"].to_numpy()
        pc["latitude"], pc["longitude"] = to_wgs84(pc["easting"].to_numpy(), pc["northing"].to_numpy())
        gaz.sectors = _grouped_points(pc, "sector")
        gaz.districts = _grouped_points(pc, "district")

        entities = [
            _area_entities(areas_gdf),
            _premises_entities(premises, gaz),
            _place_entities(places, gaz, "place"),
        ]
        if curated is True:
            if CURATED_PLACES.exists():
                entities.append(_place_entities(pd.read_csv(CURATED_PLACES, dtype=str), gaz, "curated"))
        elif isinstance(curated, pd.DataFrame):
            entities.append(_place_entities(curated, gaz, "curated"))
        found = [e for e in entities if e is not None and len(e)]
        ent = pd.concat(found, ignore_index=True) if found else _empty_entities()
        # Streets seen in premises addresses, unless a place of that name is already known.
        streets = _street_entities(premises, gaz)
        if streets is not None and len(ent):
            known = set(normalise_text(ent["name"]))
            streets = streets[~streets["name"].isin(known)]
        found = [e for e in (ent, streets) if e is not None and len(e)]
        ent = pd.concat(found, ignore_index=True) if found else _empty_entities()
        ward_names = areas_gdf.loc[areas_gdf["level"] == "ward"].set_index("area_code")["area_name"]
        ent["context"] = (
            ent["context"].fillna("") + " " + ent["district"].fillna("") + " "
            + ent["ward_code"].map(ward_names).fillna("")
        )
        gaz.names = NameIndex.build(ent)
        return gaz

    # ---------------------------------------------------------------- lookups
    def locate(self, easting: np.ndarray, northing: np.ndarray) -> pd.DataFrame:
        """Ward and LSOA code of each point (EPSG:27700 m) by point in polygon."""
        if self._area_index is None:
            self._area_index = AreaIndex(self.areas)
        return self._area_index.locate(np.asarray(easting, float), np.asarray(northing, float))

    def postcode_points(self, postcodes: pd.Series) -> pd.DataFrame:
        """easting, northing, ward_code of canonical or messy postcodes (NaN/None if unknown)."""
        keys = postcode_key(postcodes.fillna(""))
        pos = self.postcodes.index.get_indexer(keys)
        found = pos >= 0
        sub = self.postcodes.iloc[np.where(found, pos, 0)]
        return pd.DataFrame({
            "postcode": np.where(found, sub["postcode"].to_numpy(dtype=object), None),
            "easting": np.where(found, sub["easting"].to_numpy(float), np.nan),
            "northing": np.where(found, sub["northing"].to_numpy(float), np.nan),
            "ward_code": np.where(found, sub["ward_code"].to_numpy(dtype=object), None),
        }, index=postcodes.index)


# ---------------------------------------------------------------------- helpers
_ENTITY_COLUMNS = ["entity_id", "name", "kind", "subkind", "precision", "easting", "northing",
                   "postcode", "district", "ward_code", "context", "source"]


def _empty_entities() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("easting", "northing") else object)
                         for c in _ENTITY_COLUMNS})


def _areas_frame(areas: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if areas is None or len(areas) == 0:
        return gpd.GeoDataFrame({"area_code": [], "area_name": [], "level": []},
                                geometry=gpd.GeoSeries([], crs=27700), crs=27700)
    gdf = areas
    if gdf.crs is None:
        raise ValueError("areas has no CRS; expected EPSG:27700")
    if gdf.crs.to_epsg() != 27700:
        gdf = gdf.to_crs(27700)
    gdf = gdf[["area_code", "area_name", "level", "geometry"]].copy()
    gdf["level"] = gdf["level"].astype(str).str.lower()
    return gdf.reset_index(drop=True)


def _grouped_points(pc: pd.DataFrame, by: str) -> pd.DataFrame:
    """A representative unit per sector/district: the unit nearest the mean of the
    units lying in the group's most common ward (so the point is in that ward)."""
    g = pc.assign(ward=pc["ward_code"].fillna(""))
    counts = g.groupby([by, "ward"]).size().rename("n").reset_index()
    modal = counts.sort_values([by, "n"], ascending=[True, False]).drop_duplicates(by).set_index(by)["ward"]
    g = g[g["ward"].to_numpy() == modal.reindex(g[by]).to_numpy()]
    mean = g.groupby(by)[["easting", "northing"]].transform("mean")
    g = g.assign(d=(g["easting"] - mean["easting"]) ** 2 + (g["northing"] - mean["northing"]) ** 2)
    rep = g.sort_values("d").drop_duplicates(by).set_index(by)
    units = pc.groupby(by).size()
    out = rep[["easting", "northing", "ward_code"]].assign(units=units.reindex(rep.index).to_numpy())
    return out


def _area_entities(areas: gpd.GeoDataFrame) -> pd.DataFrame | None:
    wards = areas.loc[areas["level"] == "ward"]
    if wards.empty:
        return None
    geom = wards.geometry
    cen = geom.centroid
    inside = cen.within(geom)
    pt = cen.where(inside, geom.representative_point())
    base = pd.DataFrame({
        "entity_id": "area:" + wards["area_code"].astype(str),
        "name": wards["area_name"].astype(str),
        "kind": "area", "subkind": "ward", "precision": "area",
        "easting": pt.x.to_numpy(), "northing": pt.y.to_numpy(),
        "postcode": None, "district": None, "ward_code": wards["area_code"].to_numpy(),
        "context": "", "source": "boundaries",
    })
    # "Moseley and Kings Heath" is also called "Moseley" and "Kings Heath".
    parts = base.assign(name=base["name"].str.split(r"\s+(?:and|&)\s+", regex=True)).explode("name")
    parts = parts[parts["name"].str.len() > 0]
    return pd.concat([base, parts], ignore_index=True).drop_duplicates(["entity_id", "name"])


def _with_points(frame: pd.DataFrame, gaz: Gazetteer) -> pd.DataFrame:
    """Fill easting/northing from latitude/longitude or the postcode; add postcode,
    district, ward_code (point in polygon)."""
    f = frame.copy()
    for c in ("easting", "northing", "latitude", "longitude", "postcode"):
        if c not in f:
            f[c] = np.nan if c != "postcode" else None
    e = pd.to_numeric(f["easting"], errors="coerce").to_numpy(float, copy=True)
    n = pd.to_numeric(f["northing"], errors="coerce").to_numpy(float, copy=True)
    lat = pd.to_numeric(f["latitude"], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(f["longitude"], errors="coerce").to_numpy(float)
    need = ~np.isfinite(e) & np.isfinite(lat) & np.isfinite(lon)
    if need.any():
        e2, n2 = to_bng(lat[need], lon[need])
        e[need], n[need] = e2, n2
    pcp = gaz.postcode_points(f["postcode"].astype("string"))
    need = ~np.isfinite(e)
    e = np.where(need, pcp["easting"].to_numpy(float), e)
    n = np.where(need, pcp["northing"].to_numpy(float), n)
    f["easting"], f["northing"] = e, n
    f["placed_by"] = np.where(need, "postcode", "coordinates")
    f["postcode"] = pcp["postcode"].where(pcp["postcode"].notna(), normalise_postcodes(f["postcode"].astype("string")))
    f["district"] = district_of(f["postcode"].astype("string")).astype(object)
    f = f[np.isfinite(f["easting"]) & np.isfinite(f["northing"])]
    f["ward_code"] = gaz.locate(f["easting"].to_numpy(), f["northing"].to_numpy())["ward_code"].to_numpy()
    return f


def _premises_entities(premises: pd.DataFrame | None, gaz: Gazetteer) -> pd.DataFrame | None:
    if premises is None or len(premises) == 0:
        return None
    p = _with_points(premises.dropna(subset=["name"]), gaz)
    if p.empty:
        return None
    pid = p["premises_id"].astype(str)
    return pd.DataFrame({
        "entity_id": "premises:" + pid,
        "name": p["name"].astype(str),
        "kind": "premises",
        "subkind": p.get("premises_type", pd.Series(None, index=p.index)).astype(object),
        "precision": "premises",
        "easting": p["easting"], "northing": p["northing"],
        "postcode": p["postcode"], "district": p["district"], "ward_code": p["ward_code"],
        "context": p.get("address", pd.Series("", index=p.index)).fillna("").astype(str),
        "source": "premises",
    }).drop_duplicates(["entity_id", "name"])


def _split_aliases(v) -> list[str]:
    if isinstance(v, (list, tuple, np.ndarray)):
        return [str(a).strip() for a in v if str(a).strip()]
    if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v):
        return []
    return [a.strip() for a in str(v).split(";") if a.strip()]


def _place_entities(places: pd.DataFrame | None, gaz: Gazetteer, source: str) -> pd.DataFrame | None:
    if places is None or len(places) == 0:
        return None
    p = _with_points(places.dropna(subset=["name"]).reset_index(drop=True), gaz)
    if p.empty:
        return None
    kind = p.get("kind", pd.Series("other", index=p.index)).fillna("other").astype(str).str.lower()
    precision = kind.map({"area": "area", "street": "street"}).fillna("premises")
    slug = normalise_text(p["name"]).str.replace(" ", "_")
    ent = pd.DataFrame({
        "entity_id": "place:" + slug,
        "name": p["name"].astype(str),
        "kind": np.where(kind == "area", "area", np.where(kind == "street", "street", "place")),
        "subkind": kind, "precision": precision,
        "easting": p["easting"], "northing": p["northing"],
        "postcode": p["postcode"], "district": p["district"], "ward_code": p["ward_code"],
        "context": "", "source": p.get("source", pd.Series(source, index=p.index)).fillna(source),
        "aliases": p.get("aliases", pd.Series([None] * len(p), index=p.index)).map(_split_aliases),
    })
    al = ent.explode("aliases").dropna(subset=["aliases"]).assign(name=lambda d: d["aliases"])
    out = pd.concat([ent, al], ignore_index=True).drop(columns="aliases")
    return out.drop_duplicates(["entity_id", "name"])


def _street_entities(premises: pd.DataFrame | None, gaz: Gazetteer) -> pd.DataFrame | None:
    """Streets named in premises addresses, one per (street, postcode district),
    placed at the mean of the premises points on it."""
    if premises is None or len(premises) == 0 or "address" not in premises:
        return None
    p = _with_points(premises, gaz)
    p = p.assign(street=street_names(p["address"].fillna("")))
    p = p.dropna(subset=["street", "district"])
    if p.empty:
        return None
    g = p.groupby(["street", "district"]).agg(
        easting=("easting", "mean"), northing=("northing", "mean")).reset_index()
    g["ward_code"] = gaz.locate(g["easting"].to_numpy(), g["northing"].to_numpy())["ward_code"].to_numpy()
    return pd.DataFrame({
        "entity_id": "street:" + g["street"].str.replace(" ", "_") + "@" + g["district"],
        "name": g["street"], "kind": "street", "subkind": "street", "precision": "street",
        "easting": g["easting"], "northing": g["northing"], "postcode": None,
        "district": g["district"], "ward_code": g["ward_code"], "context": "",
        "source": "premises addresses",
    })


def gazetteer_from_store(store) -> Gazetteer:
    """The gazetteer of what a store holds (``geo.storage.store.Store``): its postcodes, areas,
    premises and places frames, plus the curated places of the bundled city."""
    gaz = Gazetteer.build(store.frame("postcodes"), store.frame("areas"),
                          store.frame("premises"), store.frame("places"), curated=True)
    register = store.table("addresses")
    if len(register):
        from geo.places.addresses import AddressIndex
        gaz.addresses = AddressIndex(register)
    return gaz
