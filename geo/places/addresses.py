"""The address register: house addresses to the door (precision ``address``).

DATA_CONTRACT.md, reference data: "Addresses: optional CSV of uprn, address, postcode and
coordinates". A council loads its LLPG or AddressBase (UPRN, address, postcode, easting/northing);
the open equivalent for coordinates is OS Open UPRN (OGL), joined to addresses by UPRN.

`read_addresses(path)` reads such a CSV (header names case-insensitive: uprn, address, postcode,
and easting/northing or latitude/longitude; an address without a postcode in its own column may
carry it at the end of the address). `AddressIndex` matches location texts that are house
addresses: the house number and street of the text, at the text's unit postcode, against the
register; the street must agree (rapidfuzz ratio of normalised street names >= STREET_MATCH),
a flat number picks that flat's UPRN when the register lists flats. geo.places.geocode uses it between
premises and postcodes; without a register nothing changes.

>>> parse_addresses(pd.Series(["Flat 3, 12a Albert Rd, Aston, B6 4PS"])).iloc[0].tolist()
['3', '12a', 'albert road', 'B64PS']
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from geo.places.postcodes import UNIT_PATTERN, normalise_postcodes, postcode_key

ADDRESS_COLUMNS = ["uprn", "address", "postcode", "easting", "northing"]
STREET_MATCH = 85              # least rapidfuzz ratio between the text's and the register's street
ABBREVIATIONS = {"rd": "road", "st": "street", "ave": "avenue", "av": "avenue", "ln": "lane",
                 "dr": "drive", "cl": "close", "cres": "crescent", "gr": "grove", "gdns": "gardens",
                 "pl": "place", "sq": "square", "ter": "terrace", "terr": "terrace", "ct": "court",
                 "pde": "parade", "wy": "way", "hl": "hill"}
_HOUSE = re.compile(r"^\s*(?:(?:flat|apartment|apt|unit|room)\s*(?P<flat>\d+[a-z]?)\s*,?\s*)?"
                    r"(?P<number>\d+[a-z]?)(?:\s*-\s*\d+[a-z]?)?\s*,?\s+(?P<street>[a-z][^,]*)",
                    re.I)


class AddressError(ValueError):
    """The address file cannot be read."""


def _street(text: str) -> str:
    words = re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split()
    return " ".join(ABBREVIATIONS.get(w, w) for w in words)


def parse_addresses(texts: pd.Series) -> pd.DataFrame:
    """flat, number, street (normalised) and postcode key of each text (None where absent)."""
    s = texts.astype("string").fillna("")
    m = s.str.extract(_HOUSE)
    pc = s.str.upper().str.extract(UNIT_PATTERN)
    key = (pc[0] + pc[1]).where(pc[0].notna(), None)
    street = m["street"].fillna("")
    # a postcode written in the street part (no comma before it) is not the street
    street = street.str.replace(UNIT_PATTERN.pattern, "", regex=True, flags=re.I)
    return pd.DataFrame({
        "flat": m["flat"].str.lower().astype(object).where(m["flat"].notna(), None),
        "number": m["number"].str.lower().astype(object).where(m["number"].notna(), None),
        "street": street.map(_street).astype(object).where(m["street"].notna(), None),
        "postcode_key": key.astype(object).where(key.notna(), None),
    }, index=texts.index)


def read_addresses(path: str | Path) -> pd.DataFrame:
    """An address register CSV as the addresses frame: uprn, address, postcode (canonical),
    easting, northing (EPSG:27700 m). Rows without a UPRN, an address or coordinates are
    dropped; a one-line AddressError when the file has no usable columns."""
    from geo.places.gazetteer import to_bng
    path = Path(path)
    if not path.is_file():
        raise AddressError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise AddressError(f"{path.name}: not a UTF-8 CSV ({' '.join(str(exc).split())})") \
            from None
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in ("uprn", "address") if c not in df.columns]
    if missing:
        raise AddressError(f"{path.name}: no {' or '.join(missing)} column (expected uprn, "
                           "address, postcode, easting/northing or latitude/longitude)")
    num = lambda c: pd.to_numeric(df[c], errors="coerce") if c in df else \
        pd.Series(np.nan, index=df.index)  # noqa: E731
    e, n = num("easting"), num("northing")
    lat, lon = num("latitude"), num("longitude")
    ll = e.isna() & lat.notna() & lon.notna()
    if ll.any():
        ee, nn = to_bng(lat[ll].to_numpy(), lon[ll].to_numpy())
        e[ll], n[ll] = ee, nn
    if e.notna().sum() == 0:
        raise AddressError(f"{path.name}: no coordinates (easting/northing or latitude/longitude)")
    postcode = df["postcode"] if "postcode" in df else pd.Series("", index=df.index)
    from_text = df["address"].str.upper().str.extract(UNIT_PATTERN)
    postcode = postcode.where(postcode.str.strip() != "", from_text[0] + " " + from_text[1])
    out = pd.DataFrame({"uprn": df["uprn"].str.strip(), "address": df["address"].str.strip(),
                        "postcode": normalise_postcodes(postcode.fillna("")),
                        "easting": e, "northing": n})
    ok = (out["uprn"] != "") & (out["address"] != "") & out["easting"].notna() & \
        out["northing"].notna()
    return out[ok].drop_duplicates("uprn", keep="last").reset_index(drop=True)


def load_addresses(store, path: str | Path) -> int:
    """Replace the store's address register with the file's rows; returns how many."""
    from geo.storage import schema
    frame = read_addresses(path)
    with store.engine.begin() as conn:
        conn.execute(schema.addresses.delete())
        store.insert_frame(conn, schema.addresses, frame)
    return len(frame)


class AddressIndex:
    """The register keyed by (postcode, house number), for matching house-address texts."""

    def __init__(self, addresses: pd.DataFrame):
        a = addresses.dropna(subset=["easting", "northing"]).reset_index(drop=True)
        parsed = parse_addresses(a["address"])
        key = postcode_key(a["postcode"].fillna("")).astype(object)
        parsed["postcode_key"] = key.where(key != "", parsed["postcode_key"])
        self.table = pd.concat([a[["uprn", "easting", "northing"]], parsed], axis=1) \
            .dropna(subset=["number", "postcode_key", "street"])
        self.table["lookup"] = self.table["postcode_key"] + "|" + self.table["number"]

    def __len__(self) -> int:
        return len(self.table)

    def match(self, texts: pd.Series) -> pd.DataFrame:
        """For each text: ok, easting, northing, uprn, confidence (flat matched 0.98, building
        0.95; a street that agrees only fuzzily takes 0.05 off)."""
        from rapidfuzz import fuzz
        n = len(texts)
        out = pd.DataFrame({"ok": np.zeros(n, bool), "easting": np.full(n, np.nan),
                            "northing": np.full(n, np.nan), "uprn": np.full(n, None, object),
                            "confidence": np.zeros(n)}, index=texts.index)
        if not len(self.table) or not n:
            return out
        q = parse_addresses(texts).dropna(subset=["number", "street", "postcode_key"])
        if q.empty:
            return out
        q = q.assign(lookup=q["postcode_key"] + "|" + q["number"], row=q.index)
        cand = q.merge(self.table, on="lookup", suffixes=("", "_reg"))
        if cand.empty:
            return out
        cand["street_score"] = [fuzz.ratio(a, b) for a, b in zip(cand["street"],
                                                                   cand["street_reg"])]
        cand = cand[cand["street_score"] >= STREET_MATCH]
        same_flat = (cand["flat"].fillna("") == cand["flat_reg"].fillna(""))
        cand = cand.assign(rank=same_flat * 2 + cand["flat_reg"].isna() * 1,
                           conf=np.where(same_flat, 0.98, 0.95)
                           - np.where(cand["street_score"] < 100, 0.05, 0.0))
        best = cand.sort_values(["row", "rank", "street_score"], ascending=[True, False, False]) \
            .drop_duplicates("row")
        out.loc[best["row"], "ok"] = True
        out.loc[best["row"], "easting"] = best["easting"].to_numpy()
        out.loc[best["row"], "northing"] = best["northing"].to_numpy()
        out.loc[best["row"], "uprn"] = best["uprn"].astype(str).to_numpy()
        out.loc[best["row"], "confidence"] = best["conf"].to_numpy()
        return out
