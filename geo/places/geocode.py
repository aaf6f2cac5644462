"""Location texts -> points, with honest precision (offline, against a ``Gazetteer``).

``geocode(texts, gazetteer)`` returns the *geocodes frame* of docs/FRAMES.md:
text, easting, northing (EPSG:27700 metres), latitude, longitude (WGS84),
precision, confidence (0-1), method, match_id, ward_code, lsoa_code.

The cascade, run once per distinct text and vectorised over all of them:

1. analyst overrides (the same text, ignoring case and spacing) win;
2. premises and named places (name index blocked by distinctive tokens, typo
   tolerant, aliases; a postcode, district or area name in the text
   disambiguates same-named candidates, and a postcode far from the named
   candidate vetoes it) -> precision ``premises``;
3. with an address register loaded (geo.places.addresses), a house number and street at
   the text's unit postcode that the register holds -> ``address`` (its UPRN's
   coordinates); then
   a full unit postcode anywhere in the text (any case or spacing; a letter O/I
   for the sector digit is corrected only if that gives a known postcode) ->
   ``postcode``; with an address-looking text not in the register (or no register)
   it stays ``postcode``: there is no evidence of the door;
4. a street seen in the gazetteer (disambiguated by district or area) -> ``street``;
5. an area name (ward, neighbourhood), a postcode sector or district, or the
   sector of an unknown but well-formed postcode -> ``area`` (a point inside
   the area's most likely ward);
6. otherwise ``none`` (no coordinates, confidence 0).

Match ids are typed references: ``premises:ID``, ``place:NAME``, ``postcode:B7 4PS``,
``street:NAME@DISTRICT``, ``area:CODE``, ``sector:B7 4``, ``district:B7``, ``uprn:ID``.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from scipy import sparse

from geo.places.gazetteer import (
    STOPWORDS,
    STREET_TYPES,
    VAGUE_WORDS,
    Gazetteer,
    NameIndex,
    normalise_text,
    to_wgs84,
    tokenise,
)
from geo.places.postcodes import extract_postcodes

GEOCODE_COLUMNS = ["text", "easting", "northing", "latitude", "longitude", "precision",
                   "confidence", "method", "match_id", "ward_code", "lsoa_code"]
#: From most to least precise.
PRECISIONS = ["premises", "address", "postcode", "street", "area", "none"]

# Name acceptance: share of the name's weight found in the text, and the least
# weight of evidence (one distinctive word).
MIN_COVERAGE = 0.8
MIN_EVIDENCE = 0.9
# A rival candidate this close in score and this far away makes a name ambiguous.
AMBIGUITY_MARGIN = 0.3
AMBIGUITY_DISTANCE = 250.0
# A postcode in the text further than this from a named candidate vetoes it (m).
POSTCODE_VETO = 1000.0
# A named candidate this close to the text's postcode agrees with it (m).
NEAR_POSTCODE = 150.0
#: A house address: optional flat, then a house number at the start of the text.
HOUSE_NUMBER = r"^\s*(?:(?:flat|apartment|apt|unit|room)\s*\d+[a-z]?\s*,?\s*)?\d+[a-z]?(?:\s*-\s*\d+[a-z]?)?\s*,?\s+[a-z]"
_CHUNK = 4000


def text_key(texts: pd.Series) -> pd.Series:
    """The key under which a text's analyst override is remembered: normalised
    words (case, spacing and punctuation ignored)."""
    return normalise_text(texts)


def geocode(
    texts: Iterable[str] | pd.Series,
    gazetteer: Gazetteer,
    overrides: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Geocode location texts.

    Parameters
    ----------
    texts : the texts as written; None/NaN/empty give precision ``none``.
    gazetteer : a built ``Gazetteer``.
    overrides : analysts' corrections, geocodes-frame columns keyed by ``text``
        (matched ignoring case, spacing and punctuation); used as they are,
        with method ``override``.

    Returns
    -------
    DataFrame with one row per input text (same index when a Series is given)
    and GEOCODE_COLUMNS.  easting/northing are EPSG:27700 metres, latitude/longitude
    WGS84 degrees, NaN when precision is ``none``.
    """
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    clean = s.astype("string").str.strip().fillna("")
    distinct = pd.Series(pd.unique(clean.to_numpy(dtype=object)), dtype=object)
    # Fast path: a text that is exactly a known postcode (any case or spacing).
    keys = distinct.str.upper().str.replace(r"\s+", "", regex=True)
    pos = gazetteer.postcodes.index.get_indexer(keys.to_numpy(dtype=object))
    exact = pos >= 0
    if overrides is not None and len(overrides):
        exact &= ~text_key(distinct).isin(set(text_key(overrides["text"]))).to_numpy()
    rest = resolve_distinct(distinct[~exact].reset_index(drop=True), gazetteer, overrides)
    hit = gazetteer.postcodes.iloc[pos[exact]]
    fast = pd.DataFrame({
        "text": distinct[exact].to_numpy(dtype=object), "easting": hit["easting"].to_numpy(float),
        "northing": hit["northing"].to_numpy(float), "latitude": hit["latitude"].to_numpy(float),
        "longitude": hit["longitude"].to_numpy(float), "precision": "postcode", "confidence": 0.95,
        "method": "postcode", "match_id": ("postcode:" + hit["postcode"]).to_numpy(dtype=object),
        "ward_code": hit["ward_code"].to_numpy(dtype=object), "lsoa_code": hit["lsoa_code"].to_numpy(dtype=object),
    })
    res = pd.concat([rest, fast], ignore_index=True) if len(fast) else rest
    distinct = pd.concat([distinct[~exact], distinct[exact]], ignore_index=True)
    pos = pd.Index(distinct).get_indexer(clean.to_numpy(dtype=object))
    out = res.iloc[pos].reset_index(drop=True)
    out.index = s.index
    out["text"] = s.to_numpy(dtype=object)
    return out[GEOCODE_COLUMNS]


def resolve_distinct(texts: pd.Series, gaz: Gazetteer, overrides: pd.DataFrame | None = None) -> pd.DataFrame:
    """The cascade over distinct texts (a Series of str, RangeIndex)."""
    n = len(texts)
    res = pd.DataFrame({
        "text": texts.to_numpy(dtype=object),
        "easting": np.full(n, np.nan), "northing": np.full(n, np.nan),
        "precision": np.full(n, "none", dtype=object), "confidence": np.zeros(n),
        "method": np.full(n, "none", dtype=object), "match_id": np.full(n, None, dtype=object),
        "ward_code": np.full(n, None, dtype=object),
    })
    done = np.zeros(n, dtype=bool)

    def assign(mask: np.ndarray, e, nn, precision, conf, method, mid, ward=None) -> None:
        m = mask & ~done
        if not m.any():
            return
        idx = np.flatnonzero(m)
        pick = (lambda v: np.asarray(v)[idx] if np.ndim(v) else v)
        res.loc[idx, "easting"] = pick(e)
        res.loc[idx, "northing"] = pick(nn)
        res.loc[idx, "precision"] = pick(precision)
        res.loc[idx, "confidence"] = pick(conf)
        res.loc[idx, "method"] = pick(method)
        res.loc[idx, "match_id"] = pick(mid)
        if ward is not None:
            res.loc[idx, "ward_code"] = pick(ward)
        done[idx] = True

    # 1. overrides
    if overrides is not None and len(overrides):
        ov = overrides.assign(_k=text_key(overrides["text"])).drop_duplicates("_k", keep="last").set_index("_k")
        pos = ov.index.get_indexer(text_key(texts))
        hit = pos >= 0
        if hit.any():
            o = ov.iloc[np.where(hit, pos, 0)]
            prec = o["precision"].fillna("none").to_numpy(dtype=object)
            assign(hit, o["easting"].to_numpy(float), o["northing"].to_numpy(float), prec,
                   np.where(prec == "none", 0.0, 1.0), "override",
                   o.get("match_id", pd.Series(None, index=o.index)).to_numpy(dtype=object))

    # Postcode evidence.
    pcs = extract_postcodes(texts)
    unit = _unit_postcodes(texts, pcs, gaz)
    has_pc = unit["easting"].notna().to_numpy()

    # Words of the text with the postcode taken out.
    stripped = _strip_spans(texts, pcs["postcode_span"])
    norm = normalise_text(stripped)
    tokens = tokenise(norm)
    norm = tokens.map(" ".join)
    district_in_text = pcs["district"].where(pcs["district"].isin(gaz.districts.index))
    pc_district = unit["postcode"].astype("string").str.split(" ").str[0]
    district_ev = pc_district.where(pc_district.notna(), district_in_text.astype("string"))
    district_ev = district_ev.astype(object).where(district_ev.notna(), None)

    house = texts.astype("string").str.lower().str.contains(HOUSE_NUMBER, regex=True).fillna(False).to_numpy(bool)
    best = _best_names(norm, tokens, gaz.names, unit, district_ev, house)

    # 2. premises and named sites
    site = best.get("site")
    if site is not None:
        m = site["ok"].to_numpy()
        assign(m, site["easting"], site["northing"], "premises", site["confidence"],
               site["method"], site["entity_id"], site["ward_code"])

    # 3. house addresses in the register, then unit postcodes
    if gaz.addresses is not None and (house & has_pc).any():
        sub = np.flatnonzero(house & has_pc & ~done)
        hit = gaz.addresses.match(texts.iloc[sub])
        ok = np.zeros(n, dtype=bool)
        ok[sub] = hit["ok"].to_numpy()
        e_, n_, conf, mid = (np.full(n, np.nan), np.full(n, np.nan), np.zeros(n),
                             np.full(n, None, dtype=object))
        e_[sub], n_[sub] = hit["easting"].to_numpy(float), hit["northing"].to_numpy(float)
        conf[sub] = hit["confidence"].to_numpy(float)
        mid[sub] = ("uprn:" + hit["uprn"].astype(str)).to_numpy(dtype=object)
        assign(ok, e_, n_, "address", conf, "address", mid)
    assign(has_pc, unit["easting"], unit["northing"], "postcode",
           np.where(unit["corrected"], 0.75, 0.95),
           np.where(unit["corrected"], "postcode_corrected", "postcode"),
           ("postcode:" + unit["postcode"].astype(str)).to_numpy(dtype=object), unit["ward_code"].to_numpy(dtype=object))

    # 4. streets
    street = best.get("street")
    if street is not None:
        assign(street["ok"].to_numpy(), street["easting"], street["northing"], "street",
               street["confidence"], "street_name", street["entity_id"], street["ward_code"])

    # 5. areas: named, then sector, then district
    area = best.get("area")
    if area is not None:
        assign(area["ok"].to_numpy(), area["easting"], area["northing"], "area",
               area["confidence"], "area_name", area["entity_id"], area["ward_code"])
    sector = pcs["sector"].where(pcs["sector"].notna(), unit["unknown_sector"])
    spos = gaz.sectors.index.get_indexer(sector.fillna("").to_numpy(dtype=object))
    if len(gaz.sectors):
        sp = gaz.sectors.iloc[np.where(spos >= 0, spos, 0)]
        assign(spos >= 0, sp["easting"].to_numpy(), sp["northing"].to_numpy(), "area", 0.4,
               "postcode_sector", ("sector:" + sector.astype(str)).to_numpy(dtype=object),
               sp["ward_code"].to_numpy(dtype=object))
    dpos = gaz.districts.index.get_indexer(district_ev.fillna("").to_numpy(dtype=object))
    if len(gaz.districts):
        dp = gaz.districts.iloc[np.where(dpos >= 0, dpos, 0)]
        assign(dpos >= 0, dp["easting"].to_numpy(), dp["northing"].to_numpy(), "area", 0.3,
               "postcode_district", ("district:" + district_ev.astype(str)).to_numpy(dtype=object),
               dp["ward_code"].to_numpy(dtype=object))

    # Ward and LSOA by point in polygon for every point.
    loc = gaz.locate(res["easting"].to_numpy(), res["northing"].to_numpy())
    ward = loc["ward_code"].where(loc["ward_code"].notna(), res["ward_code"])
    res["ward_code"] = ward.where(res["easting"].notna(), None).to_numpy(dtype=object)
    res["lsoa_code"] = loc["lsoa_code"].to_numpy(dtype=object)
    lat, lon = to_wgs84(res["easting"].to_numpy(float), res["northing"].to_numpy(float))
    res["latitude"], res["longitude"] = lat, lon
    res["confidence"] = res["confidence"].astype(float).round(3)
    return res[GEOCODE_COLUMNS]


# --------------------------------------------------------------------- postcodes
_DIGITISH = str.maketrans({"O": "0", "I": "1", "L": "1", "S": "5", "Z": "2"})


def _unit_postcodes(texts: pd.Series, pcs: pd.DataFrame, gaz: Gazetteer) -> pd.DataFrame:
    """Known unit postcode of each text (exact, or with a letter for the sector digit
    corrected), its point and ward; ``unknown_sector`` for a well-formed unknown one."""
    pts = gaz.postcode_points(pcs["postcode"].astype("string"))
    corrected = np.zeros(len(texts), dtype=bool)
    missing = pts["easting"].isna().to_numpy()
    if missing.any():
        up = texts[missing].astype("string").str.upper()
        m = up.str.extract(r"(?<![A-Z0-9])([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9OILSZ][A-Z]{2})(?![A-Z0-9])")
        fixed = m[0] + " " + m[1].str[0].fillna("").map(lambda c: c.translate(_DIGITISH)) + m[1].str[1:]
        fp = gaz.postcode_points(fixed.astype("string"))
        ok = fp["easting"].notna().to_numpy()
        if ok.any():
            idx = np.flatnonzero(missing)[ok]
            pts.iloc[idx] = fp[ok].to_numpy()
            corrected[idx] = True
    unknown_sector = pcs["postcode"].astype("string").str[:-2].where(pts["easting"].isna())
    return pts.assign(corrected=corrected, unknown_sector=unknown_sector)


def _strip_spans(texts: pd.Series, spans: pd.Series) -> pd.Series:
    if spans.isna().all():
        return texts
    out = texts.copy()
    has = spans.notna().to_numpy()
    out[has] = [t[:a] + " " + t[b:] for t, (a, b) in zip(texts[has], spans[has])]
    return out


# ------------------------------------------------------------------------- names
def _map_tokens(distinct: pd.Index, idx: NameIndex) -> pd.DataFrame:
    """Distinct text tokens -> vocabulary columns with a similarity 0-1: exact, typo
    (rapidfuzz ratio over vocabulary tokens of similar length), or a run-together
    word split into two vocabulary words (``newstreet``)."""
    vocab = idx.vocab
    col = distinct.map(lambda t: vocab.get(t, -1)).to_numpy()
    rows = [pd.DataFrame({"token": distinct[col >= 0], "col": col[col >= 0], "sim": 1.0})]
    oov = distinct[(col < 0)]
    oov = oov[(oov.str.len() >= 4) & ~oov.str.isdigit() & ~oov.isin(list(VAGUE_WORDS | STOPWORDS))]
    if len(oov):
        lens = oov.str.len().to_numpy()
        for L in np.unique(lens):
            q = oov[lens == L]
            cand = np.concatenate([idx.by_length.get(int(k), np.empty(0, int)) for k in (L - 1, L, L + 1)])
            if not len(cand):
                continue
            cutoff = 75 if L <= 4 else 80
            d = process.cdist(list(q), list(idx.tokens[cand]), scorer=fuzz.ratio,
                              score_cutoff=cutoff, dtype=np.uint8, workers=1)
            qi, ci = np.nonzero(d)
            if len(qi):
                f = pd.DataFrame({"token": q[qi], "col": cand[ci], "sim": d[qi, ci] / 100.0})
                f = f.sort_values("sim", ascending=False).groupby("token").head(2)
                rows.append(f)
        found = set(pd.concat(rows)["token"]) if rows else set()
        for t in oov:
            if t in found:
                continue
            for k in range(3, len(t) - 2):
                a, b = vocab.get(t[:k]), vocab.get(t[k:])
                if a is not None and b is not None:
                    rows.append(pd.DataFrame({"token": [t, t], "col": [a, b], "sim": [1.0, 1.0]}))
                    break
    return pd.concat(rows, ignore_index=True)


def _street_words(tokens: pd.Series) -> pd.Series:
    """The word before each street-type word (``victoria`` in ``12 victoria road``)."""
    return tokens.map(lambda t: [t[i - 1] for i in range(1, len(t)) if t[i] in STREET_TYPES])


def _query_matrix(tokens: pd.Series, idx: NameIndex) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Texts x vocabulary (value = similarity), and each text's evidence weight
    (words that are not stop or vague words; unknown words weigh 0.5)."""
    n, V = len(tokens), len(idx.vocab)
    ex = tokens.explode().dropna()
    qi = ex.index.to_numpy()
    tok = ex.to_numpy(dtype=object)
    # Adjacent words written apart that a name writes together ("bull ring").
    nxt = pd.Series(tok[1:], dtype=object)
    same = qi[1:] == qi[:-1]
    joined = (pd.Series(tok[:-1], dtype=object) + nxt)[same]
    jq = qi[:-1][same]
    jin = joined.map(lambda t: t in idx.vocab).to_numpy(dtype=bool)
    all_q = np.concatenate([qi, jq[jin]])
    all_t = np.concatenate([tok, joined.to_numpy(dtype=object)[jin]])
    m = _map_tokens(pd.Index(pd.unique(all_t)), idx)
    pairs = pd.DataFrame({"q": all_q, "token": all_t}).merge(m, on="token", how="inner")
    # A word matching the same column twice counts once, at its best similarity.
    Q = _rowcol_max(pairs, n, V)
    # Evidence weight of each text.
    ev = pd.DataFrame({"q": qi, "token": tok})
    ev = ev[~ev["token"].isin(list(STOPWORDS | VAGUE_WORDS))]
    w = ev["token"].map(lambda t: idx.weight[idx.vocab[t]] if t in idx.vocab else 0.5)
    qweight = np.bincount(ev["q"].to_numpy(int), weights=w.to_numpy(float), minlength=n)
    return Q, qweight


def _rowcol_max(pairs: pd.DataFrame, n: int, V: int) -> sparse.csr_matrix:
    g = pairs.groupby(["q", "col"], sort=False)["sim"].max().reset_index()
    return sparse.csr_matrix((g["sim"].to_numpy(float), (g["q"].to_numpy(), g["col"].to_numpy())), shape=(n, V))


def _candidate_pairs(Q: sparse.csr_matrix, idx: NameIndex) -> tuple[np.ndarray, np.ndarray]:
    """(text, name row) pairs sharing at least one distinctive word."""
    Qb = Q[:, idx.blocking].astype(bool).astype(np.float32)
    Nb = idx.matrix[:, idx.blocking].astype(bool).astype(np.float32).T.tocsc()
    qs, ns = [], []
    for start in range(0, Q.shape[0], _CHUNK):
        c = (Qb[start:start + _CHUNK] @ Nb).tocoo()
        qs.append(c.row + start)
        ns.append(c.col)
    if not qs:
        return np.empty(0, int), np.empty(0, int)
    return np.concatenate(qs).astype(np.int64), np.concatenate(ns).astype(np.int64)


def _rowwise_dot(A: sparse.csr_matrix, ai: np.ndarray, B: sparse.csr_matrix, bi: np.ndarray) -> np.ndarray:
    out = np.empty(len(ai))
    step = 200_000
    for s in range(0, len(ai), step):
        out[s:s + step] = np.asarray(A[ai[s:s + step]].multiply(B[bi[s:s + step]]).sum(axis=1)).ravel()
    return out


def _best_names(norm: pd.Series, tokens: pd.Series, idx: NameIndex, unit: pd.DataFrame,
                district_ev: pd.Series, house_number: np.ndarray) -> dict[str, pd.DataFrame]:
    """Best accepted, unambiguous candidate per text for each class of name:
    ``site`` (premises, named places), ``street``, ``area``."""
    n = len(tokens)
    if idx.matrix.shape[0] == 0 or n == 0:
        return {}
    Q, qweight = _query_matrix(tokens, idx)
    Qs = _query_matrix(_street_words(tokens), idx)[0]
    qi, ni = _candidate_pairs(Q, idx)
    if not len(qi):
        return {}
    names = idx.names
    matched = _rowwise_dot(Q, qi, idx.matrix, ni)
    name_w = names["name_weight"].to_numpy()[ni]
    cover = np.divide(matched, name_w, out=np.zeros_like(matched), where=name_w > 0)
    # The text's own postcode, when a candidate is at it, lowers the bar ("maccies B5 4BU").
    pc_ent = names["postcode"].to_numpy(dtype=object)[ni]
    same_pc = _eq(pc_ent, unit["postcode"].to_numpy(dtype=object)[qi])
    addr = house_number[qi]
    ok = (((cover >= MIN_COVERAGE) & (matched >= np.minimum(MIN_EVIDENCE, name_w - 1e-9)))
          | (same_pc & ~addr & (cover >= 0.3) & (matched >= 0.5)))
    same_pc &= ~addr  # a house address at a premises' postcode is not that premises
    # Words that only name a street in the text ("12 Victoria Road") are not evidence of a
    # premises or place whose name has no street word ("The Victoria").
    street_only = _rowwise_dot(Qs, qi, idx.matrix, ni)
    prec = names["precision"].to_numpy(dtype=object)[ni]
    site_like = prec == "premises"
    has_st = names["has_street_word"].to_numpy(bool)[ni]
    ok &= ~(site_like & ~has_st & ~same_pc & (matched - street_only < MIN_EVIDENCE))
    # Street-type words ("green", "road") are never the evidence on their own, and a
    # street's type word must be written ("Acocks Green" is not "Acocks Green Road").
    Qt = sparse.csr_matrix(Q.multiply(idx.is_type[None, :].astype(float)))
    matched_type = _rowwise_dot(Qt, qi, idx.matrix, ni)
    core_w = name_w - names["type_weight"].to_numpy()[ni]
    ok &= same_pc | ((matched - matched_type >= np.minimum(MIN_EVIDENCE, core_w - 1e-9)) & (core_w > 0.3))
    ok &= ~((prec == "street") & (matched_type < names["type_weight"].to_numpy()[ni] - 0.05))
    # With a known postcode in the text, a named candidate must be at that postcode, or
    # close to it in a text that is not a house address.
    pc_known = np.isfinite(unit["easting"].to_numpy(float))[qi]
    d_pc = np.hypot(names["easting"].to_numpy(float)[ni] - unit["easting"].to_numpy(float)[qi],
                    names["northing"].to_numpy(float)[ni] - unit["northing"].to_numpy(float)[qi])
    ok &= ~pc_known | same_pc | ((d_pc <= NEAR_POSTCODE) & ~addr)
    qi, ni, matched, cover, same_pc = qi[ok], ni[ok], matched[ok], cover[ok], same_pc[ok]
    if not len(qi):
        return {}
    # Word order: a name of several words must appear as a run in the text
    # ("park in Sutton Four Oaks" is not "Sutton Park").
    qn = norm.to_numpy(dtype=object)[qi]
    nn_ = names["norm"].to_numpy(dtype=object)[ni]
    multi = names["n_tokens"].to_numpy()[ni] > 1
    check = multi & ~same_pc & (np.fromiter(map(len, nn_), int, len(nn_)) <= np.fromiter(map(len, qn), int, len(qn)))
    if check.any():
        keep = np.ones(len(qi), bool)
        keep[np.flatnonzero(check)[~np.fromiter(map(_in_order, nn_[check], qn[check]), bool, int(check.sum()))]] = False
        qi, ni, matched, cover, same_pc = qi[keep], ni[keep], matched[keep], cover[keep], same_pc[keep]
        if not len(qi):
            return {}
    Qw = sparse.csr_matrix(Q.multiply(idx.weight[None, :]))
    ctx = _rowwise_dot(Qw, qi, idx.context, ni)
    ent = names.iloc[ni]
    e = ent["easting"].to_numpy(float)
    nn = ent["northing"].to_numpy(float)
    # Postcode agreement (distance from the text's postcode) and district agreement.
    pe = unit["easting"].to_numpy(float)[qi]
    pn = unit["northing"].to_numpy(float)[qi]
    dist = np.hypot(e - pe, nn - pn)
    has_pc = np.isfinite(dist)
    dist_ev = district_ev.to_numpy(dtype=object)[qi]
    same_district = _eq(ent["district"].to_numpy(dtype=object), dist_ev)
    score = (matched * cover + 0.3 * np.minimum(ctx, 2.0) + 1.0 * same_pc
             + 0.5 * (has_pc & (dist < NEAR_POSTCODE)) + 0.3 * same_district)
    veto = has_pc & (dist > POSTCODE_VETO)
    qcover = np.minimum(1.0, (matched + ctx) / np.maximum(qweight[qi], 1e-9))
    pairs = pd.DataFrame({
        "q": qi, "entity_id": ent["entity_id"].to_numpy(dtype=object),
        "kind": ent["kind"].to_numpy(dtype=object), "precision": ent["precision"].to_numpy(dtype=object),
        "easting": e, "northing": nn, "ward_code": ent["ward_code"].to_numpy(dtype=object),
        "score": score, "matched": matched, "cover": cover, "qcover": qcover, "same_pc": same_pc,
        "near_pc": has_pc & (dist < NEAR_POSTCODE), "veto": veto,
    })
    pairs = pairs[~pairs["veto"]]
    # One row per (text, entity): its best alias.
    pairs = pairs.sort_values(["q", "score"], ascending=[True, False]).drop_duplicates(["q", "entity_id"])
    # A site named like an area it lies in, matched by no more words than the area, is the area
    # ("a friend's house in Bournville" is not the premises called "Bournville").
    area_best = pairs[pairs["precision"] == "area"].groupby("q")["matched"].max()
    site = pairs["precision"] == "premises"
    shadow = site & (pairs["q"].map(area_best).fillna(-1).to_numpy() >= pairs["matched"].to_numpy() - 0.05) & ~pairs["same_pc"]
    pairs = pairs[~shadow]
    out = {}
    for cls, prec in (("site", "premises"), ("street", "street"), ("area", "area")):
        sub = pairs[pairs["precision"] == prec]
        out[cls] = _pick(sub, n, cls)
    return out


def _in_order(name: str, text: str) -> bool:
    """The words of ``name`` found in ``text`` (exactly or by a near spelling) come in the
    same order and close together (at most one other word between neighbours)."""
    words = text.split()
    pos = []
    for w in name.split():
        if w in STOPWORDS:
            continue
        hits = [i for i, t in enumerate(words) if t == w or (len(w) >= 4 and fuzz.ratio(t, w) >= 80)]
        if hits:
            after = [i for i in hits if not pos or i > pos[-1]]
            if not after:
                return False
            pos.append(after[0])
    return all(b - a <= 2 for a, b in zip(pos, pos[1:]))


def _eq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise equality of two object arrays of str, False where either is missing."""
    return (pd.Series(a, dtype="string") == pd.Series(b, dtype="string")).fillna(False).to_numpy(bool)


def _pick(pairs: pd.DataFrame, n: int, cls: str) -> pd.DataFrame:
    """Best candidate per text; rejected as ambiguous when a rival scores within
    AMBIGUITY_MARGIN and lies more than AMBIGUITY_DISTANCE away."""
    res = pd.DataFrame({"ok": np.zeros(n, bool), "easting": np.nan, "northing": np.nan,
                        "entity_id": None, "ward_code": None, "confidence": 0.0, "method": None},
                       index=pd.RangeIndex(n))
    if pairs.empty:
        return res
    first = pairs.drop_duplicates("q")
    rivals = pairs.merge(first[["q", "entity_id", "easting", "northing", "score"]], on="q",
                         suffixes=("", "_best"))
    rivals = rivals[rivals["entity_id"] != rivals["entity_id_best"]]
    far = np.hypot(rivals["easting"] - rivals["easting_best"], rivals["northing"] - rivals["northing_best"]) > AMBIGUITY_DISTANCE
    close = rivals["score"] >= rivals["score_best"] - AMBIGUITY_MARGIN
    ambiguous = set(rivals.loc[far & close, "q"])
    first = first[~first["q"].isin(ambiguous)]
    q = first["q"].to_numpy()
    res.loc[q, "ok"] = True
    res.loc[q, "easting"] = first["easting"].to_numpy()
    res.loc[q, "northing"] = first["northing"].to_numpy()
    res.loc[q, "entity_id"] = first["entity_id"].to_numpy(dtype=object)
    res.loc[q, "ward_code"] = first["ward_code"].to_numpy(dtype=object)
    base = {"site": 0.55, "street": 0.45, "area": 0.35}[cls]
    conf = (base + 0.25 * first["cover"] + 0.1 * first["qcover"] + 0.1 * first["same_pc"]
            + 0.05 * first["near_pc"]).clip(0, 0.99)
    res.loc[q, "confidence"] = conf.to_numpy()
    kind = first["kind"].to_numpy(dtype=object)
    res.loc[q, "method"] = np.where(kind == "premises", "premises_name",
                                    np.where(kind == "place", "place_name", f"{cls}_name"))
    return res
