"""Scenario generator: a synthetic contract drop placed on real Birmingham geography, with its truth.

``generate(out_dir, seed, scale, null)`` writes the eight contract files of
``shared/DATA_CONTRACT.md`` (children, episodes, return_interviews, persons, premises, places, links,
intelligence; CSV UTF-8) and ``truth.json`` (format in ``docs/FRAMES.md``), and returns the truth.
People are fictional; places are real (Code-Point Open postcodes, ONS 2013 wards, FSA FHRS and HMRC
premises, see ``geo.scenario.reference``), except the few invented premises that carry planted venues.
Coordinates in truth are EPSG:27700 metres.

Calibration (``shared/DOMAIN.md``): ages 11-17; ~60 % female among missing children, 85 % in the
CSE cohort (at risk 47 %, significant 29 %, serious 24 %); care status mix with most in-care
episodes from residential homes (several children per home); out-of-area placements both ways;
episode counts per child negative-binomial (about half one-off, about a fifth persistent, > 3
episodes); categories missing / absent / away_without_authorisation; police risk high / medium / low;
return interviews after every returned missing episode with outcomes 27 % engaged, 28 % declined,
45 % no_engagement and 48 % of held interviews within 72 h of return; a few children still missing.

Planted structure (recorded in truth; absent with ``null=True``, which keeps volumes and marginal
distributions): venue hotspots (premises where several distinct children are repeatedly found or
taken, also named in interviews and intelligence) planted ONLY on invented premises
(``truth["fictional_premises"]``: made-up trading names at real postcodes, registered like any
other premises), so no real business ever carries planted structure; real premises appear only as
random background found-at / interview places and are never named in intelligence. Ward hotspots:
1-2 clusters, each a core ward and its queen-contiguous neighbours (real 2013 ward boundaries),
with found-at points per postcode planted at CORE_X (4.4) times the background in the core and
NEIGHBOUR_X (3.1) times in the neighbours (>= 3x and >= 2x as measured over all found-at texts), so the cluster is a hot spot for Getis-Ord Gi* (an
isolated hot ward is diluted by its cold neighbours); background found-at points are drawn
uniformly over postcodes, i.e. in proportion to postcode density; ``truth["ward_hotspots"]`` lists
every hot ward and ``truth["ward_hotspot_cores"]`` the cores. Also co-missing groups (children of one home or school reported within two hours of
each other and found together), adults of concern linked to several children, one child recorded
by several sources with spelling variants, siblings, messy location texts, and ~1 % bad rows of
every kind the contract rejects (file, 1-based physical line with the header as line 1, field,
reason).

Scales are generated in chunks of children (bounded memory, vectorised numpy/pandas); national
(>= 1M episodes, 340k true children in chunks of 50k) streams chunk by chunk to disk.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo.scenario import cse as synth_cse
from geo.scenario import names as nm
from geo.scenario.mog import MogPlan
from geo.model import CONTRACT
from geo.scenario.locations import Catalogue, addresses
from geo.scenario.nulls import NULL_MODELS, found_back_home
from geo.scenario.populations import write_populations
from geo.scenario.reference import Reference, load_reference
from geo.scenario.spacetime import plant_emerging_cluster

#: The columns the generator fills in each file it writes chunk by chunk; the files' headers are
#: the contract's declaration (geo.model.CONTRACT), so a declared column not filled here is empty.
FILES = {
    "children.csv": ["child_id", "source", "given_name", "family_name", "dob", "sex", "ethnicity", "care_status",
                     "placement_type", "placement_postcode", "responsible_authority", "cse_risk", "school",
                     "police_id", "carefirst_id", "upn"],
    "episodes.csv": ["episode_id", "child_id", "reported_at", "returned_at", "category", "police_risk",
                     "missing_from", "reported_by", "last_seen", "found_at", "found_with", "rag", "source"],
    "return_interviews.csv": ["rhi_id", "episode_id", "notified_at", "offered_at", "held_at", "outcome", "triage",
                              "priority", "push_factors", "pull_factors", "issues", "places", "associates",
                              "seraf_score", "source"],
    "persons.csv": ["person_id", "source", "given_name", "family_name", "dob", "sex", "role", "address", "police_id"],
    "premises.csv": ["premises_id", "name", "premises_type", "address", "postcode", "easting", "northing",
                     "latitude", "longitude", "licence_type", "status"],
    "places.csv": ["name", "aliases", "kind", "postcode", "easting", "northing"],
    "links.csv": ["from_ref", "to_ref", "relation", "observed_at", "source_ref", "grading"],
    "intelligence.csv": ["intel_id", "source", "recorded_at", "source_eval", "intel_eval", "handling", "subjects",
                         "location", "premises_id", "vehicle", "tags", "text"],
}


@dataclass(frozen=True)
class Scale:
    children: int          # true children
    chunk: int             # true children per chunk
    premises: int | None   # register rows kept (None = all)


SCALES = {
    "sample": Scale(40, 40, 60),
    "city": Scale(1500, 1500, None),
    "region": Scale(30000, 30000, None),
    "national": Scale(340000, 50000, None),
}

START = pd.Timestamp("2016-04-01")   # one reporting year, Europe/London local time
DAYS = 365
REFERENCE_DATE = pd.Timestamp("2016-10-01")
AUTHORITIES = np.array(["Sandwell", "Walsall", "Wolverhampton", "Dudley", "Solihull", "Coventry", "Staffordshire",
                        "Warwickshire", "Worcestershire", "Manchester", "Nottingham", "Leicestershire"])
HOUR_P = np.array([2, 1.5, 1, .7, .5, .5, .5, .8, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 8.5, 8.5, 7.5, 5.5, 3.5])
HOUR_P = HOUR_P / HOUR_P.sum()
PUSH = np.array(["conflict at placement", "family arguments", "boredom", "bullying", "rules at home",
                 "unhappy with placement", "school pressure"])
PULL = np.array(["friends", "boyfriend", "older friends", "parties", "family contact", "drugs", "money", "gifts"])
ISSUES = {"mental_health": .25, "substance_misuse": .18, "cse": .12, "offending": .065, "gang": .05,
          "domestic_violence": .06, "family_conflict": .2, "placement": .1, "bullying": .05}
INTEL_TAGS = np.array(["drugs", "gang", "missing", "other", "cse", "trafficking"])
FMT = {"police": "%d/%m/%Y %H:%M", "carefirst": "%Y-%m-%dT%H:%M:%S", "rhi_provider": "%Y-%m-%d %H:%M",
       "education": "%Y-%m-%d %H:%M"}
DOB_FMT = {"police": "%d/%m/%Y", "carefirst": "%Y-%m-%d", "rhi_provider": "%Y-%m-%d", "education": "%d/%m/%Y"}
LETTERS = np.array(list("ABCDEFGHJKLMNOPRSTUVWXYZ"))
# Ward hotspot clusters: planted found-at intensity (per postcode) relative to the background, in the
# core ward and in its queen neighbours. Planted above the stated floors (3x and 2x) because found-at
# points at curated places and planted venues (all outside the hot wards) and background sampling
# noise dilute the rate an analyst measures from all found-at texts to about 3.5-3.9x and 2.3-3x.
CORE_X = 4.4
NEIGHBOUR_X = 3.1
#: share of children with several records moved between placements (records disagree on postcode)
MOVED_SHARE = 0.08
VENUE_TYPES = ("hotel", "bnb", "takeaway", "shop", "off_licence", "taxi_operator", "leisure", "pub", "bar",
               "nightclub", "gambling")


# --------------------------------------------------------------------------------------------- helpers
def _ids(prefix: str, numbers: np.ndarray, width: int = 7) -> np.ndarray:
    return (prefix + pd.Series(numbers, dtype="int64").astype(str).str.zfill(width)).to_numpy(dtype=object)


def _fmt(ts: pd.Series | pd.DatetimeIndex, fmt: str | np.ndarray) -> np.ndarray:
    """Format date-times; ``fmt`` may be one format or one per row (grouped, vectorised)."""
    ts = pd.Series(pd.to_datetime(ts)).reset_index(drop=True)
    if isinstance(fmt, str):
        return ts.dt.strftime(fmt).fillna("").to_numpy(dtype=object)
    out = np.empty(len(ts), dtype=object)
    fmt = np.asarray(fmt)
    for f in np.unique(fmt):
        m = fmt == f
        out[m] = ts[m].dt.strftime(f).fillna("").to_numpy(dtype=object)
    return out


def _join(cols: list[np.ndarray]) -> np.ndarray:
    """';'-join per row of several string arrays, skipping empty strings."""
    out = pd.Series(cols[0], dtype=object).fillna("").astype(str).reset_index(drop=True)
    for c in cols[1:]:
        c = pd.Series(c, dtype=object).fillna("").astype(str).reset_index(drop=True)
        sep = pd.Series(np.where((out != "").to_numpy() & (c != "").to_numpy(), ";", ""))
        out = out + sep + c
    return out.to_numpy(dtype=object)


def _vocab_mess(rng: np.random.Generator, values: np.ndarray, share: float = 0.08) -> np.ndarray:
    """Some vocabulary values written as people type them: 'Away without authorisation', 'MISSING'."""
    v = pd.Series(values, dtype=object).fillna("").astype(str)
    u = rng.random(len(v))
    title = v.str.replace("_", " ").str.capitalize()
    v = v.where(~(u < share / 2), title)
    v = v.where(~((u >= share / 2) & (u < share)), v.str.upper().str.replace("_", "-"))
    return v.to_numpy(dtype=object)


def _vehicle(rng: np.random.Generator, n: int) -> np.ndarray:
    a = LETTERS[rng.integers(0, len(LETTERS), (n, 5))]
    d = rng.integers(51, 67, n).astype(str)
    return (pd.Series(a[:, 0]) + a[:, 1] + d + " " + a[:, 2] + a[:, 3] + a[:, 4]).to_numpy(dtype=object)


def _grading(rng: np.random.Generator, n: int, reliable: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    se = rng.choice(["1", "2", "3"], n, p=[.3, .55, .15] if reliable else [.15, .55, .3])
    ie = rng.choice(list("ABCDE"), n, p=[.15, .35, .35, .1, .05] if reliable else [.05, .2, .45, .2, .1])
    h = rng.choice(["P", "C"], n, p=[.8, .2])
    return se, ie, h


@dataclass
class _Ctx:
    ref: Reference
    cat: Catalogue
    seed: int
    null: bool
    venues: np.ndarray              # premises row indices (planted; invented premises only)
    hot_wards: np.ndarray           # ward row indices (planted: cores and their neighbours)
    hot_pc: np.ndarray              # postcode indices inside hot wards, ordered by ward
    hot_cdf: np.ndarray             # cumulative planted excess weight over hot_pc
    hot_share: float                # share of found-at points that are planted excess (0 when null)
    truth: dict = field(default_factory=dict)
    used_locations: list = field(default_factory=list)
    extra_locations: list = field(default_factory=list)


# --------------------------------------------------------------------------------------------- children
def _true_children(ctx: _Ctx, rng: np.random.Generator, n: int, t0: int) -> pd.DataFrame:
    ref = ctx.ref
    pcs = ref.postcodes
    k = pd.DataFrame({"tid": _ids("T", np.arange(t0, t0 + n))})
    k["cse"] = rng.choice(["none", "at_risk", "significant", "serious"], n, p=[.82, .085, .052, .043])
    cse = k.cse.to_numpy() != "none"
    k["female"] = rng.random(n) < np.where(cse, .85, .545)
    age = rng.choice(np.arange(11, 18), n, p=[.04, .07, .12, .18, .22, .21, .16])
    age = np.where(cse, np.maximum(age, rng.integers(13, 16, n)), age)
    k["dob"] = (REFERENCE_DATE - pd.to_timedelta(age * 365.25 + rng.uniform(0, 364, n), unit="D")).normalize()
    k["care"] = rng.choice(["cic", "cp", "cin", "none", "unknown"], n, p=[.35, .15, .2, .28, .02])
    cic = k.care.to_numpy() == "cic"
    pt = rng.choice(["residential", "foster", "kinship", "semi_independent", "supported_lodgings", "secure", "other"],
                    n, p=[.35, .45, .07, .08, .02, .01, .02])
    home_pt = rng.choice(["parent", "kinship"], n, p=[.93, .07])
    k["placement"] = np.where(cic, pt, np.where(k.care == "unknown", "", home_pt))
    # Out of area: children placed in Birmingham by other authorities, and Birmingham's own placed outside.
    u = rng.random(n)
    placed_in = cic & (u < .22)
    placed_out = cic & (u >= .22) & (u < .34)
    k["resp"] = np.where(placed_in, AUTHORITIES[rng.integers(0, len(AUTHORITIES), n)], "Birmingham")
    # Homes: residential children live in children's homes, several per home.
    res = (k.placement.to_numpy() == "residential") & ~placed_out
    n_homes = max(2, int(res.sum() // 4))
    home_pc = rng.integers(0, len(pcs), n_homes)
    k["home_id"] = np.where(res, rng.integers(0, n_homes, n), -1)
    pc_i = np.where(res, home_pc[np.maximum(k.home_id.to_numpy(), 0)], rng.integers(0, len(pcs), n))
    k["pc_i"] = np.where(placed_out, -1, pc_i)
    out_pc = ref.b_postcodes.iloc[rng.integers(0, len(ref.b_postcodes), n)].reset_index(drop=True)
    k["postcode"] = np.where(placed_out, out_pc.postcode, pcs.postcode.to_numpy()[pc_i])
    k["home_e"] = np.where(placed_out, out_pc.easting, pcs.easting.to_numpy()[pc_i])
    k["home_n"] = np.where(placed_out, out_pc.northing, pcs.northing.to_numpy()[pc_i])
    k["ward_code"] = np.where(placed_out, None, pcs.ward_code.to_numpy()[pc_i])
    wname = pd.Series(np.where(placed_out, "West Midlands", pcs.ward_name.to_numpy()[pc_i]))
    addr = addresses(rng, k.postcode, wname)
    # one address per home
    if n_homes:
        home_addr = addresses(rng, pcs.postcode.iloc[home_pc], pcs.ward_name.iloc[home_pc]).to_numpy()
        addr = addr.where(~res, pd.Series(home_addr[np.maximum(k.home_id.to_numpy(), 0)]))
    k["address"] = addr.to_numpy()
    k["given"] = nm.given_names(rng, k.female.to_numpy())
    k["family"] = nm.family_names(rng, n)
    k["ethnicity"] = nm.ETHNICITY[rng.choice(len(nm.ETHNICITY), n, p=nm.ETHNICITY_P)]
    k["school"] = np.where(rng.random(n) < .85, pd.Series(pcs.ward_name.to_numpy()[rng.integers(0, len(pcs), n)])
                           + rng.choice([" Academy", " School", " High School", " College"], n), "")
    # Siblings: pairs living with parents share surname, address, school; different name and dob.
    sib = np.flatnonzero((k.placement.to_numpy() == "parent") & (rng.random(n) < .06))
    sib = sib[: len(sib) // 2 * 2].reshape(-1, 2)
    a, b = sib[:, 0], sib[:, 1]
    for col in ("family", "pc_i", "postcode", "home_e", "home_n", "ward_code", "address", "resp", "ethnicity"):
        k.loc[b, col] = k.loc[a, col].to_numpy()
    same = k.given.to_numpy()[b] == k.given.to_numpy()[a]
    k.loc[b[same], "given"] = nm.given_names(rng, ~k.female.to_numpy()[b[same]])
    same_dob = (k.dob.to_numpy()[b] - k.dob.to_numpy()[a]) < np.timedelta64(300, "D")
    same_dob &= (k.dob.to_numpy()[a] - k.dob.to_numpy()[b]) < np.timedelta64(300, "D")
    k.loc[b[same_dob], "dob"] = (k.dob.iloc[a[same_dob]] - pd.Timedelta(days=500)).to_numpy()
    k.attrs["siblings"] = sib
    # Episode counts: 1 + negative binomial, rate weighted to residential and CSE risk.
    w = np.where(k.placement == "residential", 4.5, np.where(k.placement == "semi_independent", 2.0, 1.0))
    w = w * np.where(k.cse.isin(["significant", "serious"]), 2.0, 1.0)
    mean = 1.9 * w / w.mean()
    k["n_eps"] = 1 + rng.negative_binomial(0.5, 0.5 / (0.5 + mean))
    return k


def _child_records(ctx: _Ctx, rng: np.random.Generator, k: pd.DataFrame, base: int) -> pd.DataFrame:
    """One row per (source, child record), with the agency's spelling of the child."""
    n = len(k)
    care = k.care.to_numpy()
    has = {
        "police": np.ones(n, bool),
        "carefirst": np.where(care == "cic", rng.random(n) < .8, np.isin(care, ["cp", "cin"]) & (rng.random(n) < .25)),
        "rhi_provider": rng.random(n) < .1,
        "education": rng.random(n) < .05,
    }
    police_id = _ids("WMP", base + rng.permutation(n), 8)
    carefirst_id = _ids("", 3_000_000 + base + rng.permutation(n), 7)
    upn = (LETTERS[rng.integers(0, len(LETTERS), n)] + pd.Series(_ids("", 330_000_000_000 + base * 10
                                                                      + rng.permutation(n), 12))).to_numpy()
    prefix = {"police": "PC", "carefirst": "CF", "rhi_provider": "SW", "education": "ED"}
    share_p = {"police": (1.0, .25, .1), "carefirst": (.3, 1.0, .15), "rhi_provider": (.4, .2, 0), "education": (.1, .2, 1.0)}
    parts = []
    for src, m in has.items():
        i = np.flatnonzero(m)
        r = pd.DataFrame({"ci": i, "source": src, "child_id": _ids(prefix[src], base + rng.permutation(n)[: len(i)], 7)})
        given = pd.Series(k.given.to_numpy()[i], dtype="string")
        family = pd.Series(k.family.to_numpy()[i], dtype="string")
        dob = pd.Series(k.dob.to_numpy()[i])
        noisy = src != "police"
        u = rng.random((len(i), 6))
        p = .18 if noisy else .04
        nick = u[:, 0] < p
        given = given.where(~nick, nm.nickname(given))
        ty = u[:, 1] < p * .6
        family = family.where(~ty, nm.typo(rng, family))
        ty2 = u[:, 2] < p * .3
        given = given.where(~ty2, nm.typo(rng, given))
        swap = u[:, 3] < p * .3
        given, family = given.where(~swap, family), family.where(~swap, given)
        dm = u[:, 4] < p * .3
        dob = dob.where(~dm, nm.swap_day_month(dob))
        if src == "police":
            family = family.where(u[:, 5] < .5, family.str.upper())
        r["given_name"] = given.to_numpy(dtype=object)
        r["family_name"] = family.to_numpy(dtype=object)
        dob_txt = _fmt(dob, DOB_FMT[src])
        r["dob"] = np.where(rng.random(len(i)) < .04, "", dob_txt)
        r["sex"] = _vocab_mess(rng, np.where(k.female.to_numpy()[i], "female", "male"), .1)
        r["ethnicity"] = np.where(rng.random(len(i)) < .8, k.ethnicity.to_numpy()[i], "")
        r["care_status"] = _vocab_mess(rng, care[i], .05) if src in ("police", "carefirst") else \
            np.where(rng.random(len(i)) < .5, care[i], "")
        r["placement_type"] = k.placement.to_numpy()[i] if src == "carefirst" else \
            np.where(rng.random(len(i)) < .5, k.placement.to_numpy()[i], "")
        r["placement_postcode"] = np.where(rng.random(len(i)) < (.95 if src == "carefirst" else .5),
                                           k.postcode.to_numpy()[i], "")
        r["responsible_authority"] = np.where(rng.random(len(i)) < .9, k.resp.to_numpy()[i], "")
        cse = k.cse.to_numpy()[i]
        alt = pd.Series(cse).map({"none": "none", "at_risk": "low", "significant": "medium", "serious": "high"})
        r["cse_risk"] = np.where(rng.random(len(i)) < .2, alt.to_numpy(), cse)
        r["school"] = np.where(rng.random(len(i)) < (.95 if src == "education" else .4), k.school.to_numpy()[i], "")
        sp = share_p[src]
        uu = rng.random((len(i), 3))
        r["police_id"] = np.where(uu[:, 0] < sp[0], police_id[i], "")
        r["carefirst_id"] = np.where(uu[:, 1] < sp[1], carefirst_id[i], "")
        r["upn"] = np.where(uu[:, 2] < sp[2], upn[i], "")
        parts.append(r)
    rec = pd.concat(parts, ignore_index=True)
    rec["key"] = rec.source + "/" + rec.child_id
    rec["tid"] = k.tid.to_numpy()[rec.ci.to_numpy()]
    return rec


# --------------------------------------------------------------------------------------------- persons
def _persons(ctx: _Ctx, rng: np.random.Generator, k: pd.DataFrame, base: int, p0: int):
    """Adults of concern (planted: each linked to several children), background adults, peers, family."""
    n = len(k)
    pcs = ctx.ref.postcodes
    n_aoc = max(2, round(n / 250), int(ctx.truth["n_venues"]))   # every planted venue has an adult of concern
    n_bg = max(2, n // 40)
    n_peer = max(4, n // 3)
    fam = np.flatnonzero((k.placement.to_numpy() == "parent") & (rng.random(n) < .3))
    role = np.r_[np.repeat("adult_of_concern", n_aoc + n_bg), np.repeat("peer", n_peer), np.repeat("family", len(fam))]
    m = len(role)
    p = pd.DataFrame({"tid": _ids("T", 5_000_000 + p0 + np.arange(m)), "role": role})
    adult = p.role.to_numpy() != "peer"
    female = np.where(p.role == "adult_of_concern", rng.random(m) < .15, rng.random(m) < .5)
    p["given"] = nm.given_names(rng, female)
    p["family"] = np.r_[nm.family_names(rng, n_aoc + n_bg + n_peer), k.family.to_numpy()[fam]]
    age = np.where(adult, rng.integers(19, 50, m), rng.integers(13, 19, m))
    p["dob"] = (REFERENCE_DATE - pd.to_timedelta(age * 365.25 + rng.uniform(0, 364, m), unit="D")).normalize()
    p["sex"] = np.where(female, "female", "male")
    pc_i = rng.integers(0, len(pcs), m)
    addr = addresses(rng, pcs.postcode.iloc[pc_i], pcs.ward_name.iloc[pc_i]).to_numpy(dtype=object)
    addr[n_aoc + n_bg + n_peer:] = k.address.to_numpy()[fam]
    p["address"] = np.where(p.role == "peer", np.where(rng.random(m) < .2, addr, ""), addr)
    ctx.extra_locations.append(pd.DataFrame({"text": addr, "easting": pcs.easting.to_numpy()[pc_i],
                                             "northing": pcs.northing.to_numpy()[pc_i], "precision": "postcode",
                                             "ward_code": pcs.ward_code.to_numpy()[pc_i], "resolvable": True,
                                             "kind": "address"}).iloc[: n_aoc + n_bg + n_peer])
    p["street_name"] = np.where(p.role == "adult_of_concern", nm.STREET_NAMES[rng.integers(0, len(nm.STREET_NAMES), m)], "")
    p["vehicle"] = np.where((p.role == "adult_of_concern") & (rng.random(m) < .4), _vehicle(rng, m), "")
    p["police_id"] = _ids("WMP", 90_000_000 + base + np.arange(m), 8)
    p["fam_child"] = -1
    p.loc[n_aoc + n_bg + n_peer:, "fam_child"] = fam
    p.attrs["n_aoc"] = n_aoc
    p.attrs["n_bg"] = n_bg
    p.attrs["n_peer"] = n_peer
    # Records: police hold adults and peers; the RHI provider holds some adults of concern and peers
    # under street names and variants; social care holds family members.
    rec_parts = []
    for src, mask, pref in (("police", p.role.to_numpy() != "family", "PR"),
                            ("rhi_provider", np.isin(p.role.to_numpy(), ["adult_of_concern", "peer"]) & (rng.random(m) < .35), "SWP"),
                            ("carefirst", p.role.to_numpy() == "family", "CFP")):
        i = np.flatnonzero(mask)
        r = pd.DataFrame({"pi": i, "source": src, "person_id": _ids(pref, base + rng.permutation(max(m, 1))[: len(i)], 7)})
        given = pd.Series(p.given.to_numpy()[i], dtype="string")
        family = pd.Series(p.family.to_numpy()[i], dtype="string")
        if src == "rhi_provider":
            sn = pd.Series(p.street_name.to_numpy()[i], dtype="string")
            use = (rng.random(len(i)) < .5) & (sn.str.len() > 0).to_numpy()
            given = given.where(~use, sn)
            family = family.where(~(use & (rng.random(len(i)) < .6)), "")
            given = given.where(rng.random(len(i)) > .2, nm.nickname(given))
            family = family.where(rng.random(len(i)) > .15, nm.typo(rng, family))
        r["given_name"] = given.to_numpy(dtype=object)
        r["family_name"] = family.fillna("").to_numpy(dtype=object)
        r["dob"] = np.where(rng.random(len(i)) < (.7 if src == "police" else .3), _fmt(p.dob.iloc[i], DOB_FMT[src]), "")
        r["sex"] = p.sex.to_numpy()[i]
        r["role"] = _vocab_mess(rng, p.role.to_numpy()[i], .06)
        r["address"] = np.where(rng.random(len(i)) < (.8 if src != "rhi_provider" else .3), p.address.to_numpy()[i], "")
        r["police_id"] = np.where(rng.random(len(i)) < (1 if src == "police" else .15), p.police_id.to_numpy()[i], "")
        rec_parts.append(r)
    rec = pd.concat(rec_parts, ignore_index=True)
    rec["key"] = rec.source + "/" + rec.person_id
    rec["tid"] = p.tid.to_numpy()[rec.pi.to_numpy()]
    return p, rec


# --------------------------------------------------------------------------------------------- episodes
def _episode_frame(ctx: _Ctx, rng: np.random.Generator, k: pd.DataFrame, ci: np.ndarray, start: np.ndarray | None):
    """Episodes (one row each) for children ``ci``; ``start`` fixes reported_at (co-missing groups)."""
    n = len(ci)
    e = pd.DataFrame({"ci": ci})
    if start is None:
        day = rng.integers(0, DAYS, n)
        minute = rng.choice(24, n, p=HOUR_P) * 60 + rng.integers(0, 60, n)
        start = START.to_datetime64() + (day * 1440 + minute).astype("timedelta64[m]")
    e["reported_at"] = pd.to_datetime(start)
    care = k.care.to_numpy()[ci]
    cic = care == "cic"
    cat = np.where(cic, rng.choice(["missing", "absent", "away_without_authorisation"], n, p=[.55, .2, .25]),
                   rng.choice(["missing", "absent"], n, p=[.72, .28]))
    e["category"] = cat
    hours = np.exp(rng.normal(np.log(np.where(cat == "absent", 4, 10)), 1.1))
    hours = np.clip(hours, .5, 24 * 30)
    e["returned_at"] = e.reported_at + pd.to_timedelta(np.round(hours * 60), unit="m")
    still = rng.random(n) < .006
    e.loc[still, "returned_at"] = pd.NaT
    risk = np.where(cat == "missing", rng.choice(["high", "medium", "low"], n, p=[.1, .65, .25]),
                    np.where(cat == "absent", rng.choice(["low", "none"], n, p=[.7, .3]), ""))
    cse = k.cse.to_numpy()[ci]
    risk = np.where((cat == "missing") & np.isin(cse, ["significant", "serious"]) & (rng.random(n) < .4), "high", risk)
    e["police_risk"] = risk
    e["missing_from"] = np.where(cic, rng.choice(["care", "education", "other"], n, p=[.9, .06, .04]),
                                 rng.choice(["home", "education", "other"], n, p=[.85, .1, .05]))
    pl = k.placement.to_numpy()[ci]
    by_care = np.where(pl == "residential", "residential home",
                       np.where(pl == "foster", "foster carer", rng.choice(["social worker", "carer", "professional"], n)))
    by_home = rng.choice(["parent", "mother", "father", "grandparent", "carer"], n, p=[.4, .3, .15, .1, .05])
    e["reported_by"] = np.where(e.missing_from == "education", "school",
                                np.where(e.missing_from == "care", by_care, by_home))
    e["rag"] = np.where(risk == "high", "red", rng.choice(["red", "amber", "green"], n, p=[.12, .5, .38]))
    e["source"] = np.where((cat == "away_without_authorisation") & k.has_cf.to_numpy()[ci], "carefirst", "police")
    return e


def _last_seen(ctx: _Ctx, rng: np.random.Generator, k: pd.DataFrame, ci: np.ndarray) -> np.ndarray:
    """Last-seen texts: the home/placement address, the home ward, a nearby postcode, or nothing useful."""
    n = len(ci)
    pcs = ctx.ref.postcodes
    cat = ctx.cat
    u = rng.random(n)
    home = k.pc_i.to_numpy()[ci]
    out = np.full(n, "", dtype=object)
    idx = np.full(n, -2)
    m_addr = u < .4
    out[m_addr] = k.address.to_numpy()[ci[m_addr]]
    hc = np.unique(ci[m_addr])
    ctx.extra_locations.append(pd.DataFrame({"text": k.address.to_numpy()[hc], "easting": k.home_e.to_numpy()[hc],
                                             "northing": k.home_n.to_numpy()[hc], "precision": "postcode",
                                             "ward_code": k.ward_code.to_numpy()[hc], "resolvable": True,
                                             "kind": "address"}))
    inb = home >= 0
    m_area = (u >= .4) & (u < .55) & inb
    w = ctx.cat.ward_index.reindex(pcs.ward_code.to_numpy()[np.maximum(home, 0)]).to_numpy()
    idx[m_area] = cat.render(rng, "ward", w[m_area])
    m_pc = ((u >= .55) & (u < .9)) | ((u >= .4) & (u < .55) & ~inb)
    idx[m_pc] = cat.render_point(rng, rng.integers(0, len(pcs), m_pc.sum()), p_none=.05, p_empty=.02)
    m_none = (u >= .9) & (u < .96)
    idx[m_none] = cat.render(rng, "none", rng.integers(0, len(cat.variant_count("none")), m_none.sum()))
    ctx.used_locations.append(idx)
    return np.where(idx >= 0, cat.texts(idx), out)


def _episodes(ctx: _Ctx, rng: np.random.Generator, k: pd.DataFrame, recs: pd.DataFrame, persons: pd.DataFrame,
              base: int, chunk_truth: dict):
    n = len(k)
    cat = ctx.cat
    null = ctx.null
    k["has_cf"] = k.tid.isin(recs.tid[recs.source == "carefirst"])
    pol = recs[recs.source == "police"].set_index("ci")
    cfr = recs[recs.source == "carefirst"].set_index("ci")

    # --- venue children (planted; in null the same children keep volumes but no venue)
    n_v = len(ctx.venues) if not null else int(ctx.truth["n_venues"])
    cand = np.flatnonzero(k.cse.to_numpy() != "none")
    per = max(3, min(12, n // 120))
    vchild = rng.permutation(cand)[: n_v * per]
    vven = np.repeat(np.arange(n_v), per)[: len(vchild)]
    k.loc[vchild, "n_eps"] = np.maximum(k.n_eps.to_numpy()[vchild], 4)
    k["venue"] = -1
    if not null:
        k.loc[vchild, "venue"] = vven

    # --- co-missing groups: children of one home, or of one school
    res_homes = pd.Series(np.arange(n)).groupby(k.home_id.to_numpy()).agg(list)
    groups = [np.asarray(v)[:rng.integers(2, 5)] for h, v in res_homes.items() if h >= 0 and len(v) >= 2]
    n_groups = max(1, n // 60)
    groups = [groups[i] for i in rng.permutation(len(groups))[: n_groups // 2 + 1]]
    peers = rng.permutation(np.flatnonzero((k.home_id.to_numpy() < 0) & (k.venue.to_numpy() < 0)))
    sizes = rng.integers(2, 5, n_groups - len(groups) + 1)
    pos = 0
    for s in sizes:
        if pos + s <= len(peers):
            groups.append(peers[pos: pos + s])
            pos += s
    co = rng.integers(2, 6, len(groups))
    # ordinary episodes
    ci = np.repeat(np.arange(n), k.n_eps.to_numpy())
    e = _episode_frame(ctx, rng, k, ci, None)
    # group episodes: each co-episode, members reported within two hours of one another
    g_rows, g_starts, g_ret, g_id, g_occ = [], [], [], [], []
    for j, (g, c) in enumerate(zip(groups, co if groups else [])):
        day = rng.integers(0, DAYS, c)
        t0 = START.to_datetime64() + ((day * 1440) + rng.integers(17 * 60, 23 * 60, c)).astype("timedelta64[m]")
        back = t0 + rng.integers(5 * 60, 22 * 60, c).astype("timedelta64[m]")
        for o in range(c):
            g_rows.append(g)
            g_starts.append(t0[o] + rng.integers(0, 120, len(g)).astype("timedelta64[m]"))
            g_ret.append(back[o] + rng.integers(0, 45, len(g)).astype("timedelta64[m]"))
            g_id.append(np.full(len(g), j))
            g_occ.append(np.full(len(g), o))
    if g_rows:
        gci = np.concatenate(g_rows)
        gst = np.concatenate(g_starts)
        if null:
            gst = None
        ge = _episode_frame(ctx, rng, k, gci, gst)
        if not null:
            ge["category"] = np.where(ge.category == "absent", "missing", ge.category)
            ge["returned_at"] = pd.to_datetime(np.concatenate(g_ret))
        ge["group"] = np.concatenate(g_id)
        ge["occ"] = np.concatenate(g_occ)
        e["group"] = -1
        e["occ"] = -1
        e = pd.concat([e, ge], ignore_index=True)
    else:
        e["group"] = -1
        e["occ"] = -1
    e = e.sort_values("reported_at", kind="stable").reset_index(drop=True)
    ci = e.ci.to_numpy()
    m = len(e)
    e["episode_id"] = np.where(e.source == "police", _ids("E", base + rng.permutation(m), 7),
                               _ids("AWA", base + rng.permutation(m), 7))
    e["child_id"] = np.where(e.source == "police", pol.child_id.reindex(ci).to_numpy(),
                             cfr.child_id.reindex(ci).to_numpy())
    e["key"] = e.source + "/" + e.episode_id
    e["nth"] = e.groupby("ci").cumcount()

    # --- found-at: background uniform over postcodes; planted venues and hot wards
    u = rng.random(m)
    pc_pick = _pick_postcodes(ctx, rng, m)
    idx = cat.render_point(rng, pc_pick)
    place = (u >= .96) & (e.group.to_numpy() < 0)
    idx[place] = cat.render(rng, "place", rng.integers(0, len(ctx.ref.places), place.sum()))
    ven = k.venue.to_numpy()[ci]
    involved = (ven >= 0) & (rng.random(m) < .6)
    found_v = involved & (rng.random(m) < .65)
    if found_v.any():
        idx[found_v] = cat.render(rng, "premises", ctx.venues[ven[found_v]])
    e["venue_involved"] = involved
    e["venue"] = np.where(involved, ven, -1)
    # groups found together at one place
    if not null and (e.group >= 0).any():
        gk = e.group.to_numpy() * 100 + e.occ.to_numpy()
        ug, inv = np.unique(gk[e.group.to_numpy() >= 0], return_inverse=True)
        gpc = _pick_postcodes(ctx, rng, len(ug))
        # found together at a postcode, a ward or a place; never at a named real premises
        gtext = cat.render_point(rng, gpc, p_premises=0, p_none=0, p_empty=0)
        idx[e.group.to_numpy() >= 0] = gtext[inv]
    idx = plant_emerging_cluster(ctx, e, idx, base, START, DAYS)
    still = e.returned_at.isna().to_numpy()
    idx[still] = -2
    ctx.used_locations.append(idx)
    e["found_at"] = cat.texts(idx)
    found_back_home(ctx, k, e, base)  # the housemates null (geo.scenario.nulls); else a no-op
    e["last_seen"] = _last_seen(ctx, rng, k, ci)

    # --- found_with: co-missing members by id or name; peers for background
    fw = np.full(m, "", dtype=object)
    n_aoc, n_bg, n_peer = persons.attrs["n_aoc"], persons.attrs["n_bg"], persons.attrs["n_peer"]
    peer_p = persons.iloc[n_aoc + n_bg: n_aoc + n_bg + n_peer]
    bgp = rng.random(m) < .08
    pr = peer_p.iloc[rng.integers(0, len(peer_p), bgp.sum())]
    fw[bgp] = np.where(rng.random(bgp.sum()) < .5, "person:" + pd.Series(persons.attrs["police_pid"][pr.index]).astype(str),
                       pr.given.to_numpy() + " " + pr.family.to_numpy())
    truth_groups = []
    if not null and (e.group >= 0).any():
        gm = e.group.to_numpy() >= 0
        ge = e[gm]
        name = (k.given.to_numpy()[ge.ci] + " " + k.family.to_numpy()[ge.ci])
        ref = np.where(rng.random(len(ge)) < .5, "child:" + pol.child_id.reindex(ge.ci).to_numpy().astype(object), name)
        ge = ge.assign(ref=ref, gk=ge.group * 100 + ge.occ)
        lists = ge.groupby("gk").ref.agg(list)
        mine = ge.ref.to_numpy()
        allr = lists.reindex(ge.gk).to_numpy()
        fw[gm] = [";".join(r for r in a if r != me) for a, me in zip(allr, mine)]
        for j, g in enumerate(groups):
            sub = ge[ge.group == j]
            truth_groups.append({"members": sorted(k.tid.to_numpy()[g].tolist()),
                                 "episodes": [sorted(s.key.tolist()) for _, s in sub.groupby("occ")],
                                 "kind": "home" if k.home_id.to_numpy()[g[0]] >= 0 else "peer_group"})
    e["found_with"] = fw
    chunk_truth["co_missing_groups"] = truth_groups
    chunk_truth["venue_children"] = {int(v): sorted(set(k.tid.to_numpy()[vchild[vven == v]])) for v in np.unique(vven)} \
        if not null else {}
    return e


def _moved_placements(ctx: _Ctx, k: pd.DataFrame, rec: pd.DataFrame, share: float = MOVED_SHARE) -> np.ndarray:
    """Move ``share`` of the children with two or more records between placements: one of their
    records (not the first) still carries the previous placement's postcode, so records of one
    child disagree on the postcode as they do when a child moves homes between two agencies'
    updates. Returns the moved children's row indices (their true ids go to truth)."""
    rng = np.random.default_rng([ctx.seed, 12, len(k)])
    multi = rec.groupby("ci").size()
    cand = multi.index[multi.to_numpy() >= 2].to_numpy()
    moved = cand[rng.random(len(cand)) < share]
    if not len(moved):
        return moved
    later = rec[rec.ci.isin(moved) & rec.duplicated("ci")].drop_duplicates("ci")
    pcs = ctx.ref.postcodes
    old = pcs.postcode.to_numpy()[rng.integers(0, len(pcs), len(later))]
    rec.loc[later.index, "placement_postcode"] = old
    return moved


# --------------------------------------------------------------------------------------------- rhi
def _return_interviews(ctx: _Ctx, rng: np.random.Generator, k: pd.DataFrame, e: pd.DataFrame, persons: pd.DataFrame,
                       base: int, aoc_of_child: dict) -> pd.DataFrame:
    cat = ctx.cat
    pcs = ctx.ref.postcodes
    r = e[(e.category == "missing") & (e.source == "police") & e.returned_at.notna()].reset_index(drop=True)
    n = len(r)
    ci = r.ci.to_numpy()
    out = pd.DataFrame({"rhi_id": _ids("R", base + rng.permutation(n), 7), "episode_id": r.episode_id.to_numpy()})
    notified = r.returned_at + pd.to_timedelta(rng.integers(30, 24 * 60, n), unit="m")
    offered = notified + pd.to_timedelta(rng.integers(60, 48 * 60, n), unit="m")
    outcome = rng.choice(["engaged", "declined", "no_engagement"], n, p=[.27, .28, .45])
    within = rng.random(n) < .48
    held = r.returned_at + pd.to_timedelta(np.where(within, rng.integers(12 * 60, 72 * 60, n),
                                                    rng.integers(73 * 60, 14 * 24 * 60, n)), unit="m")
    held = held.where(outcome == "engaged")
    out["notified_at"] = _fmt(notified, FMT["rhi_provider"])
    out["offered_at"] = _fmt(offered, FMT["rhi_provider"])
    out["held_at"] = _fmt(held, FMT["rhi_provider"])
    out["outcome"] = _vocab_mess(rng, outcome, .1)
    cse = k.cse.to_numpy()[ci]
    red = (r.police_risk.to_numpy() == "high") | np.isin(cse, ["significant", "serious"]) | (r.nth.to_numpy() >= 2)
    triage = np.where(red, "red", rng.choice(["amber", "green"], n, p=[.6, .4]))
    out["triage"] = triage
    out["priority"] = np.where(r.nth.to_numpy() == 0, "first_time", np.where(red & (cse != "none"), "priority_red", "none"))
    eng = outcome == "engaged"
    out["push_factors"] = np.where(eng, _join([np.where(rng.random(n) < .6, PUSH[rng.integers(0, len(PUSH), n)], ""),
                                               np.where(rng.random(n) < .2, PUSH[rng.integers(0, len(PUSH), n)], "")]), "")
    out["pull_factors"] = np.where(eng, _join([np.where(rng.random(n) < .6, PULL[rng.integers(0, len(PULL), n)], ""),
                                               np.where(rng.random(n) < .2, PULL[rng.integers(0, len(PULL), n)], "")]), "")
    cols = []
    for issue, p in ISSUES.items():
        pp = np.full(n, p)
        if issue == "cse":
            pp = np.where(cse != "none", .45, .05)
        cols.append(np.where(rng.random(n) < pp, issue, ""))
    out["issues"] = np.where(eng | (rng.random(n) < .3), _join(cols), "")
    # places: where the child went / was taken
    ven = r.venue.to_numpy()
    pidx = cat.render_point(rng, rng.integers(0, len(pcs), n), p_empty=0)
    vv = ven >= 0
    if vv.any():
        pidx[vv] = cat.render(rng, "premises", ctx.venues[ven[vv]])
    pidx2 = np.where(rng.random(n) < .3, cat.render(rng, "place", rng.integers(0, len(ctx.ref.places), n)), -2)
    ctx.used_locations.extend([pidx[eng], pidx2[eng]])
    out["places"] = np.where(eng, _join([cat.texts(pidx), cat.texts(pidx2)]), "")
    # associates: adults of concern (planted) by ref, name or street name; peers; group members
    assoc = np.full(n, "", dtype=object)
    aoc_i = pd.Series(aoc_of_child).reindex(ci).to_numpy()
    has_a = pd.notna(aoc_i) & (eng | (rng.random(n) < .1)) & (rng.random(n) < .7)
    if has_a.any():
        a = aoc_i[has_a].astype(int)
        pp = persons.iloc[a]
        form = rng.integers(0, 3, has_a.sum())
        assoc[has_a] = np.where(form == 0, "person:" + pd.Series(persons.attrs["police_pid"][a]).astype(str).to_numpy(),
                                np.where(form == 1, pp.given.to_numpy() + " " + pp.family.to_numpy(),
                                         "older male known as " + pp.street_name.to_numpy()))
    fw = r.found_with.to_numpy()
    assoc = _join([assoc, np.where(eng, fw, "")])
    out["associates"] = assoc
    out["seraf_score"] = np.where(cse != "none", rng.integers(5, 35, n).astype(str), "")
    out["source"] = "rhi_provider"
    out["ci"] = ci
    out["observed"] = r.reported_at.to_numpy()
    return out


# --------------------------------------------------------------------------------------------- intel and links
def _intel_links(ctx: _Ctx, rng: np.random.Generator, k: pd.DataFrame, recs: pd.DataFrame, persons: pd.DataFrame,
                 e: pd.DataFrame, rhi: pd.DataFrame, base: int, aoc_children: dict, aoc_venue: dict):
    cat = ctx.cat
    pcs = ctx.ref.postcodes
    prem = ctx.ref.premises
    pol = recs[recs.source == "police"].set_index("ci")
    pid = persons.attrs["police_pid"]
    intel_parts, link_parts = [], []

    def intel(n, subjects, loc_idx, premises_id, vehicle, tags, text, reliable):
        se, ie, h = _grading(rng, n, reliable)
        day = rng.integers(0, DAYS, n)
        t = START.to_datetime64() + (day * 1440 + rng.integers(0, 1440, n)).astype("timedelta64[m]")
        ctx.used_locations.append(loc_idx)
        intel_parts.append(pd.DataFrame({"subjects": subjects, "location": cat.texts(loc_idx), "premises_id": premises_id,
                                         "vehicle": vehicle, "tags": tags, "text": text, "source_eval": se,
                                         "intel_eval": ie, "handling": h, "recorded": pd.to_datetime(t)}))

    # planted: each adult of concern with their children and venue (vectorised over adults)
    if not ctx.null and aoc_children:
        adults = np.array(list(aoc_children))
        kid_lists = [np.asarray(aoc_children[a]) for a in adults]
        lens = np.array([len(x) for x in kid_lists])
        flat = np.concatenate(kid_lists)
        offs = np.r_[0, np.cumsum(lens)[:-1]]
        c = np.maximum(2, lens // 2)
        a_rep = np.repeat(np.arange(len(adults)), c)
        n = len(a_rep)
        pick = lambda: flat[offs[a_rep] + (rng.random(n) * lens[a_rep]).astype(int)]
        k0, k1 = pick(), pick()
        ai = adults[a_rep]
        ap = persons.iloc[ai]
        name = ap.given.to_numpy() + " " + ap.family.to_numpy()
        adult_ref = np.where(rng.random(n) < .6, "person:" + pd.Series(pid[ai]).astype(str).to_numpy(), name)
        subjects = _join([adult_ref, "child:" + pol.child_id.reindex(k0).to_numpy().astype(object),
                          np.where(rng.random(n) < .5, "child:" + pol.child_id.reindex(k1).to_numpy().astype(object), "")])
        v = np.array([aoc_venue.get(a, -1) for a in adults])[a_rep]
        hv = v >= 0
        # intelligence names no real premises: places are postcodes, addresses, areas or the planted
        # (invented) venue
        loc = cat.render_point(rng, rng.integers(0, len(pcs), n), p_premises=0)
        prem_id = np.full(n, "", dtype=object)
        if hv.any() and len(ctx.venues):
            loc[hv] = cat.render(rng, "premises", ctx.venues[v[hv]])
            prem_id[hv] = np.where(rng.random(hv.sum()) < .6, prem.premises_id.to_numpy()[ctx.venues[v[hv]]], "")
        veh = ap.vehicle.to_numpy()
        veh = np.where((veh != "") & (rng.random(n) < .6), veh, "")
        text = ("Information indicates an adult believed to be " + pd.Series(adult_ref) +
                " has been seen with young females at " + pd.Series(cat.texts(loc)) + ".").to_numpy()
        intel(n, subjects, loc, prem_id, veh, np.full(n, "cse;missing"), text, True)
    # background intelligence
    nb = max(5, len(e) // 15)
    subj_child = rng.integers(0, len(k), nb)
    subj_p = rng.integers(0, len(persons), nb)
    subjects = np.where(rng.random(nb) < .5, "child:" + pol.child_id.reindex(subj_child).to_numpy().astype(object),
                        "person:" + pd.Series(pid[subj_p]).astype(str).to_numpy())
    loc = cat.render_point(rng, rng.integers(0, len(pcs), nb), p_premises=0)
    tags = _join([INTEL_TAGS[rng.choice(6, nb, p=[.3, .2, .25, .15, .05, .05])],
                  np.where(rng.random(nb) < .2, INTEL_TAGS[rng.integers(0, 4, nb)], "")])
    text = ("Report received concerning " + pd.Series(subjects) + " near " + pd.Series(cat.texts(loc)) + ".").to_numpy()
    intel(nb, subjects, loc, np.full(nb, ""), np.where(rng.random(nb) < .05, _vehicle(rng, nb), ""), tags, text, False)
    it = pd.concat(intel_parts, ignore_index=True)
    ni = len(it)
    it.insert(0, "intel_id", _ids("I", base + rng.permutation(ni), 7))
    it["source"] = "police"
    it["recorded_at"] = _fmt(it.recorded, FMT["police"])

    # links
    def links(frm, to, rel, obs, sref, grading):
        link_parts.append(pd.DataFrame({"from_ref": frm, "to_ref": to, "relation": rel,
                                        "observed_at": _fmt(pd.Series(obs), FMT["carefirst"]), "source_ref": sref,
                                        "grading": grading}))

    rows = [(a, c) for a, kids in aoc_children.items() for c in kids]
    if rows:
        aa, cc = np.array(rows).T
        n = len(aa)
        t = START + pd.to_timedelta(rng.integers(0, DAYS * 1440, n), unit="m")
        links("child:" + pol.child_id.reindex(cc).to_numpy().astype(object), "person:" + pd.Series(pid[aa]).astype(str).to_numpy(),
              rng.choice(["associate", "seen_with", "transported_by"], n, p=[.6, .3, .1]), t,
              "rhi:" + pd.Series(rhi.rhi_id.to_numpy()[rng.integers(0, max(len(rhi), 1), n)] if len(rhi) else "").astype(str),
              "")
        av = [(a, v) for a, v in aoc_venue.items() if v >= 0]
        if av and not ctx.null:
            a2, v2 = np.array(av).T
            t = START + pd.to_timedelta(rng.integers(0, DAYS * 1440, len(a2)), unit="m")
            g = _grading(rng, len(a2), True)
            links("person:" + pd.Series(pid[a2]).astype(str).to_numpy(), "premises:" + prem.premises_id.to_numpy()[ctx.venues[v2]],
                  np.where(prem.premises_type.to_numpy()[ctx.venues[v2]] == "taxi_operator", "drives_for", "frequents"),
                  t, "intel:" + it.intel_id.to_numpy()[:len(a2)], pd.Series(g[0]) + g[1] + " " + g[2])
        veh = persons.iloc[aa].vehicle.to_numpy()
        hv = veh != ""
        if hv.any():
            t = START + pd.to_timedelta(rng.integers(0, DAYS * 1440, hv.sum()), unit="m")
            links("child:" + pol.child_id.reindex(cc[hv]).to_numpy().astype(object), "vehicle:" + veh[hv], "transported_by", t,
                  "rhi:" + pd.Series(rhi.rhi_id.to_numpy()[rng.integers(0, max(len(rhi), 1), hv.sum())]).astype(str), "")
    # background: children and peers, family
    n_aoc, n_bg, n_peer = persons.attrs["n_aoc"], persons.attrs["n_bg"], persons.attrs["n_peer"]
    nb = len(k) // 3
    c = rng.integers(0, len(k), nb)
    peer = n_aoc + n_bg + rng.integers(0, n_peer, nb)
    t = START + pd.to_timedelta(rng.integers(0, DAYS * 1440, nb), unit="m")
    links("child:" + pol.child_id.reindex(c).to_numpy().astype(object), "person:" + pd.Series(pid[peer]).astype(str).to_numpy(),
          "associate", t, "episode:" + e.episode_id.to_numpy()[rng.integers(0, len(e), nb)], "")
    fam = np.flatnonzero(persons.fam_child.to_numpy() >= 0)
    if len(fam):
        t = START + pd.to_timedelta(rng.integers(0, DAYS * 1440, len(fam)), unit="m")
        links("person:" + pd.Series(pid[fam]).astype(str).to_numpy(),
              "child:" + pol.child_id.reindex(persons.fam_child.to_numpy()[fam]).to_numpy().astype(object), "other", t, "", "")
    # group members found together
    gm = e[e.group >= 0]
    if not ctx.null and len(gm):
        first = gm.groupby(["group", "occ"]).head(1)
        pairs = gm.merge(first[["group", "occ", "ci", "episode_id"]], on=["group", "occ"], suffixes=("", "_first"))
        pairs = pairs[pairs.ci != pairs.ci_first]
        links("child:" + pol.child_id.reindex(pairs.ci).to_numpy().astype(object),
              "child:" + pol.child_id.reindex(pairs.ci_first).to_numpy().astype(object), "found_with",
              pairs.returned_at.to_numpy(), "episode:" + pairs.episode_id_first.to_numpy(), "")
    ln = pd.concat(link_parts, ignore_index=True)
    ln["relation"] = _vocab_mess(rng, ln.relation.to_numpy(), .05)
    return it, ln


# --------------------------------------------------------------------------------------------- bad rows
BAD = {
    "children.csv": [("child_id", "", "missing required field"), ("dob", "31/02/2005", "unparseable date"),
                     ("sex", "yes", "invalid vocabulary"), ("care_status", "fostered", "invalid vocabulary"),
                     ("cse_risk", "very high", "invalid vocabulary"), ("child_id", "DUP", "duplicate id")],
    "episodes.csv": [("episode_id", "", "missing required field"), ("child_id", "", "missing required field"),
                     ("reported_at", "", "missing required field"), ("reported_at", "last Tuesday", "unparseable date"),
                     ("reported_at", "2016-13-45 25:00", "unparseable date"),
                     ("returned_at", "BEFORE", "returned_at earlier than reported_at"),
                     ("category", "runaway", "invalid vocabulary"), ("category", "", "missing required field"),
                     ("police_risk", "severe", "invalid vocabulary"), ("rag", "purple", "invalid vocabulary"),
                     ("episode_id", "DUP", "duplicate id")],
    "return_interviews.csv": [("episode_id", "UNKNOWN", "unknown episode_id"), ("outcome", "", "missing required field"),
                              ("outcome", "maybe", "invalid vocabulary"), ("held_at", "next week", "unparseable date"),
                              ("triage", "blue", "invalid vocabulary"), ("rhi_id", "DUP", "duplicate id"),
                              ("episode_id", "", "missing required field")],
    "persons.csv": [("person_id", "", "missing required field"), ("role", "villain", "invalid vocabulary"),
                    ("dob", "00/00/1980", "unparseable date"), ("person_id", "DUP", "duplicate id")],
    "links.csv": [("to_ref", "", "missing required field"), ("relation", "enemy_of", "invalid vocabulary"),
                  ("observed_at", "sometime in May", "unparseable date"), ("from_ref", "", "missing required field")],
    "intelligence.csv": [("recorded_at", "", "missing required field"), ("source_eval", "4", "invalid vocabulary"),
                         ("intel_eval", "F", "invalid vocabulary"), ("handling", "X", "invalid vocabulary"),
                         ("recorded_at", "32/01/2017 10:00", "unparseable date"), ("intel_id", "DUP", "duplicate id")],
    "premises.csv": [("premises_id", "", "missing required field"), ("name", "", "missing required field"),
                     ("premises_type", "spaceport", "invalid vocabulary"), ("status", "closed-ish", "invalid vocabulary"),
                     ("premises_id", "DUP", "duplicate id")],
    "places.csv": [("name", "", "missing required field"), ("kind", "volcano", "invalid vocabulary")],
}
ID_COL = {"children.csv": "child_id", "episodes.csv": "episode_id", "return_interviews.csv": "rhi_id",
          "persons.csv": "person_id", "intelligence.csv": "intel_id", "premises.csv": "premises_id"}


def _with_bad_rows(rng: np.random.Generator, name: str, df: pd.DataFrame, share: float, min_each: int = 1):
    """Insert corrupted copies of random rows (each kind of fault at least ``min_each`` times).

    Returns the frame in file order and the list of bad rows with 0-based row positions.
    Duplicate-id copies are placed after their original, so the later line is the duplicate.
    Copies get fresh ids (``<id>X<n>``) unless the fault is the id itself.
    """
    kinds = BAD[name]
    n_bad = max(len(kinds) * min_each, int(round(len(df) * share)))
    if len(df) == 0:
        return df, []
    kind = np.r_[np.arange(len(kinds)), rng.integers(0, len(kinds), n_bad - len(kinds))]
    src = rng.integers(0, len(df), n_bad)
    bad = df.iloc[src].copy().reset_index(drop=True)
    idc = ID_COL.get(name)
    if idc:
        bad[idc] = bad[idc].astype(str) + "X" + pd.Series(np.arange(n_bad)).astype(str)
    recs = []
    for j, (col, val, reason) in enumerate(kinds):
        m = kind == j
        if not m.any():
            continue
        if val == "DUP":
            bad.loc[m, col] = df[col].to_numpy()[src[m]]
        elif val == "BEFORE":
            bad.loc[m, col] = (pd.to_datetime(bad.loc[m, "_reported"]) - pd.Timedelta(hours=5)).dt.strftime(
                "%Y-%m-%d %H:%M").to_numpy()
        elif val == "UNKNOWN":
            bad.loc[m, col] = "E9" + pd.Series(rng.integers(10**6, 10**7, m.sum())).astype(str).to_numpy()
        else:
            bad.loc[m, col] = val
        recs.extend({"k": int(i), "field": col, "reason": reason} for i in np.flatnonzero(m))
    order_good = np.arange(len(df), dtype=float)
    dup = np.array([BAD[name][x][1] == "DUP" for x in kind])
    order_bad = np.where(dup, src + rng.uniform(.1, .9, n_bad) + rng.integers(0, 3, n_bad) * 0,
                         rng.uniform(-.5, len(df) - .5, n_bad))
    key = np.r_[order_good, order_bad]
    pos = np.empty(len(key), dtype=np.int64)
    pos[np.argsort(key, kind="stable")] = np.arange(len(key))
    out = pd.concat([df, bad], ignore_index=True)
    out = out.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    bad_pos = pos[len(df):]
    rows = [{"file": name, "row": int(bad_pos[r["k"]]), "field": r["field"], "reason": r["reason"]} for r in recs]
    return out, rows


# --------------------------------------------------------------------------------------------- writing
def header(file_name: str) -> list[str]:
    """The header of a contract file (``children.csv``) as declared in the contract."""
    return CONTRACT.header(file_name.removesuffix(".csv"))


class _Writer:
    """Appends each contract file chunk by chunk and counts physical lines (header = line 1)."""

    def __init__(self, out: Path):
        self.out = out
        self.rows = {f: 0 for f in FILES}
        for f in FILES:
            (out / f).write_text(",".join(header(f)) + "\n", encoding="utf-8")

    def write(self, name: str, df: pd.DataFrame, bad: list[dict]) -> list[dict]:
        df = df.reindex(columns=header(name))
        df = df.astype(object).where(df.notna(), "")
        df.to_csv(self.out / name, mode="a", header=False, index=False, lineterminator="\n")
        first = self.rows[name] + 2
        self.rows[name] += len(df)
        return [{"file": b["file"], "line": first + b["row"], "field": b["field"], "reason": b["reason"]} for b in bad]


# --------------------------------------------------------------------------------------------- generate
def _pick_postcodes(ctx: _Ctx, rng: np.random.Generator, n: int) -> np.ndarray:
    """Found-at postcodes with intensity 1 (background) everywhere, CORE_X in cluster cores and
    NEIGHBOUR_X in their neighbours.

    Drawn as a mixture: background points uniform over postcodes (i.e. in proportion to postcode
    density; ordinary Poisson noise per ward), plus the planted excess, a fixed share of the points
    spread over the hot wards' postcodes by stratified sampling in ward order, so every hot ward
    gets its planted excess within one point and sampling noise cannot take it below the rate.
    """
    out = rng.integers(0, len(ctx.ref.postcodes), n)
    n_h = int(round(n * ctx.hot_share))
    if n_h:
        pos = rng.permutation(n)[:n_h]
        u = (rng.permutation(n_h) + rng.random(n_h)) / n_h
        out[pos] = ctx.hot_pc[np.minimum(np.searchsorted(ctx.hot_cdf, u, side="right"), len(ctx.hot_pc) - 1)]
    return out


def _plan(ref: Reference, cat: Catalogue, rng: np.random.Generator, null: bool, scale: str):
    """Choose the planted ward clusters, then the planted venues.

    Ward clusters (1-2; one in the sample): a core ward (>= 300 postcodes, 3-7 queen neighbours) and
    all its queen neighbours; a second cluster neither overlaps nor touches the first. Venues: invented
    premises only (``premises.fictional``), of the venue types, outside the hot wards where possible,
    one per ward. Returns (venue premises rows, hot ward rows, core ward rows, n_venues).
    """
    wards = ref.wards
    codes = wards.ward_code.to_numpy()
    nbrs = dict(zip(codes, wards.neighbours))
    n_clusters = 1 if scale == "sample" else int(rng.integers(1, 3))
    n_nb = wards.neighbours.map(len).to_numpy()
    cand = np.flatnonzero((wards.n_postcodes.to_numpy() >= 300) & (n_nb >= 3) & (n_nb <= 7))
    cores, hot = [], set()
    for i in rng.permutation(cand):
        cluster = {codes[i], *nbrs[codes[i]]}
        near = hot | {w for h in hot for w in nbrs[h]}
        if cluster & near:
            continue
        cores.append(codes[i])
        hot |= cluster
        if len(cores) == n_clusters:
            break
    prem = ref.premises
    n_venues = 4 if scale == "sample" else int(rng.integers(6, 11))
    ok = np.flatnonzero(prem.fictional.to_numpy() & prem.premises_type.isin(VENUE_TYPES).to_numpy()
                        & (cat.variant_count("premises") >= 4))
    ok = rng.permutation(ok)
    in_hot = prem.ward_code.isin(hot).to_numpy()[ok]
    ok = np.r_[ok[~in_hot], ok[in_hot]]                       # hot wards only if nothing else is left
    seen, venues = set(), []
    for i in ok:
        w = prem.ward_code.iloc[i]
        if w not in seen:
            venues.append(i)
            seen.add(w)
        if len(venues) == n_venues:
            break
    if null:
        return np.array([], int), np.array([], int), np.array([], int), n_venues
    hot_rows = np.flatnonzero(np.isin(codes, sorted(hot)))
    core_rows = np.flatnonzero(np.isin(codes, cores))
    return np.array(venues, dtype=int), hot_rows, core_rows, n_venues


def generate(out_dir: str | Path, seed: int = 1, scale: str = "city", null: bool | str = False,
             populations: bool = False) -> dict:
    """Write a synthetic contract drop and ``truth.json`` into ``out_dir``; return the truth dict.

    Parameters
    ----------
    out_dir : folder to write (created if needed; contract files are overwritten).
    seed : the scenario is a deterministic function of (seed, scale, null).
    scale : "sample" (a few hundred rows), "city" (~5k episodes, ~1.5k children), "region"
        (~100k episodes), "national" (>= 1M episodes, ~520k child records; chunked).
    null : same volumes and marginal distributions, no planted structure; ``"housemates"``
        also finds children back at their own homes (:mod:`geo.scenario.nulls`).
    populations : also write a synthetic ``populations.csv`` of the wards
        (:mod:`geo.scenario.populations`, labelled synthetic).

    Truth coordinates are British National Grid (EPSG:27700) metres.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    sc = SCALES[scale]
    null_model, null = (null if isinstance(null, str) else ("plain" if null else None)), bool(null)
    if null_model is not None and null_model not in NULL_MODELS:
        raise ValueError(f"unknown null model {null_model!r}; choose one of {', '.join(NULL_MODELS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ref = load_reference()
    rng = np.random.default_rng([seed, 0])
    cat = Catalogue(ref, np.random.default_rng([seed, 1]))
    venues, hot, cores, n_venues = _plan(ref, cat, rng, null, scale)
    hot_codes = ref.wards.ward_code.to_numpy()[hot]
    core_codes = ref.wards.ward_code.to_numpy()[cores]
    pc_ward = ref.postcodes.ward_code.to_numpy()
    excess = np.where(np.isin(pc_ward, core_codes), CORE_X - 1, np.where(np.isin(pc_ward, hot_codes), NEIGHBOUR_X - 1, 0.0))
    hot_pc = np.flatnonzero(excess > 0)
    hot_pc = hot_pc[np.argsort(pc_ward[hot_pc], kind="stable")]
    hot_cdf = np.cumsum(excess[hot_pc]) / max(excess.sum(), 1e-12)
    ctx = _Ctx(ref=ref, cat=cat, seed=seed, null=null, venues=venues, hot_wards=hot, hot_pc=hot_pc, hot_cdf=hot_cdf,
               hot_share=float(excess.sum() / (excess.sum() + len(pc_ward))), truth={"n_venues": n_venues, "null_model": null_model})
    writer = _Writer(out)
    identities: dict[str, str] = {}
    siblings, groups, aoc_ids, bad_rows = [], [], [], []
    venue_children: dict[str, list] = {}
    aoc_links: dict[str, list] = {}
    moved_children: list[str] = []
    share = 0.01

    # premises and places (not chunked)
    prem = ref.premises
    keep = np.arange(len(prem))
    fictional = np.flatnonzero(prem.fictional.to_numpy())
    if sc.premises is not None:
        extra = np.flatnonzero(prem.premises_type.isin(["taxi_rank", "taxi_operator"]).to_numpy()
                               | prem.fictional.to_numpy())
        keep = np.union1d(np.union1d(venues, extra), rng.choice(len(prem), sc.premises, replace=False))
    ptab = prem.iloc[keep].copy()
    ptab["premises_type"] = _vocab_mess(rng, ptab.premises_type.to_numpy(), .05)
    ptab["easting"] = ptab.easting.map(lambda v: "" if pd.isna(v) else str(int(v)))
    ptab["northing"] = ptab.northing.map(lambda v: "" if pd.isna(v) else str(int(v)))
    pdf, pb = _with_bad_rows(rng, "premises.csv", ptab[FILES["premises.csv"]].reset_index(drop=True), share)
    bad_rows += writer.write("premises.csv", pdf, pb)
    pl = ref.places
    places = pd.DataFrame({"name": pl.name, "aliases": pl.aliases.map(";".join), "kind": pl.kind,
                           "postcode": pl.postcode, "easting": "", "northing": ""})
    places.loc[::2, "easting"] = pl.true_e.iloc[::2].astype(str)
    places.loc[::2, "northing"] = pl.true_n.iloc[::2].astype(str)
    st = ref.streets
    places = pd.concat([places, pd.DataFrame({"name": st.name, "aliases": st.aliases.map(";".join), "kind": "street",
                                              "postcode": st.postcode, "easting": "", "northing": ""})],
                       ignore_index=True)
    pldf, plb = _with_bad_rows(rng, "places.csv", places, share)
    bad_rows += writer.write("places.csv", pldf, plb)

    n_chunks = -(-sc.children // sc.chunk)
    mog = MogPlan(seed, scale, null)     # placements, homes, stale records, CME (geo.scenario.mog)
    for c in range(n_chunks):
        crng = np.random.default_rng([seed, 2, c, int(null)])
        n = min(sc.chunk, sc.children - c * sc.chunk)
        base = c * 1_000_000
        k = _true_children(ctx, crng, n, 1 + c * sc.chunk)
        recs = _child_records(ctx, crng, k, base)
        moved_children += k.tid.to_numpy()[_moved_placements(ctx, k, recs)].tolist()
        persons, precs = _persons(ctx, crng, k, base, c * sc.chunk)
        main = precs[precs.source != "rhi_provider"].drop_duplicates("pi").set_index("pi").person_id
        persons.attrs["police_pid"] = main.reindex(np.arange(len(persons))).to_numpy()
        truth_c: dict = {}
        e = _episodes(ctx, crng, k, recs, persons, base, truth_c)
        # adults of concern: planted ones linked to several children (venue children first)
        n_aoc = persons.attrs["n_aoc"]
        aoc_children: dict[int, list] = {}
        aoc_venue: dict[int, int] = {}
        if n_aoc:
            want = crng.integers(4, 13, n_aoc)
            vkids = [np.flatnonzero(k.venue.to_numpy() == v) for v in range(len(venues))]
            cse_kids = np.flatnonzero(k.cse.to_numpy() != "none")
            for a in range(n_aoc):
                if null:
                    break
                v = a % max(len(venues), 1)
                pool = np.r_[vkids[v] if len(venues) else [], crng.choice(cse_kids, min(len(cse_kids), want[a]), replace=False)]
                kids = np.unique(pool.astype(int))[: want[a]]
                aoc_children[a] = kids.tolist()
                aoc_venue[a] = v if len(venues) else -1
            if null:
                # same number of adult-child links, spread over all adults: none links many children
                n_links = int(want.sum())
                n_ad = n_aoc + persons.attrs["n_bg"]
                adults = crng.permutation(np.tile(np.arange(n_ad), -(-n_links // n_ad) + 1))[:n_links]
                kids = crng.integers(0, n, n_links)
                for a, kid in zip(adults, kids):
                    aoc_children.setdefault(int(a), []).append(int(kid))
        # background adults: one child each
        for a in range(n_aoc, n_aoc + persons.attrs["n_bg"]):
            if not null:
                aoc_children.setdefault(a, []).append(int(crng.integers(0, n)))
        aoc_of_child = {}
        for a, kids in aoc_children.items():
            for kid in kids:
                aoc_of_child.setdefault(kid, a)
        rhi = _return_interviews(ctx, crng, k, e, persons, base, aoc_of_child)
        it, ln = _intel_links(ctx, crng, k, recs, persons, e, rhi, base, aoc_children, aoc_venue)

        mog.collect(k, recs, e)
        # formatting per source
        fmt = e.source.map(FMT).to_numpy()
        e["_reported"] = e.reported_at
        e["reported_at"] = _fmt(e.reported_at, fmt)
        e["returned_at"] = _fmt(e.returned_at, fmt)
        e["category"] = _vocab_mess(crng, e.category.to_numpy(), .08)
        for name, df in (("children.csv", recs), ("episodes.csv", e), ("return_interviews.csv", rhi),
                         ("persons.csv", precs), ("intelligence.csv", it), ("links.csv", ln)):
            cols = FILES[name] + (["_reported"] if name == "episodes.csv" else [])
            ddf, b = _with_bad_rows(crng, name, df[cols].reset_index(drop=True), share)
            bad_rows += writer.write(name, ddf, b)
        identities.update(zip(recs.key, recs.tid))
        identities.update(zip(precs.key, precs.tid))
        sib = k.attrs["siblings"]
        polkey = recs[recs.source == "police"].set_index("ci").key
        siblings += [[polkey[a], polkey[b]] for a, b in sib]
        groups += truth_c["co_missing_groups"]
        for v, kids in truth_c["venue_children"].items():
            venue_children.setdefault(prem.premises_id.iloc[venues[v]], []).extend(kids)
        if not null:
            for a in range(n_aoc):
                aoc_ids.append(persons.tid.iloc[a])
                aoc_links[persons.tid.iloc[a]] = sorted(k.tid.to_numpy()[aoc_children.get(a, [])].tolist())
        del k, recs, persons, precs, e, rhi, it, ln

    if populations:
        writer.rows["populations.csv"] = write_populations(out, ref.wards, seed)
    mog_truth = mog.finish(out, writer.rows, bad_rows)
    locs = pd.concat([cat.truth(np.concatenate(ctx.used_locations))] + ctx.extra_locations, ignore_index=True)
    # child home/placement addresses are location texts too (last_seen); recorded via extra_locations
    locs = locs.drop_duplicates("text")
    locations = [{"text": t, "easting": None if pd.isna(e_) else int(e_), "northing": None if pd.isna(n_) else int(n_),
                  "precision": p_, "ward_code": None if pd.isna(w_) else str(w_), "resolvable": bool(r_), "kind": k_}
                 for t, e_, n_, p_, w_, r_, k_ in zip(locs.text, locs.easting, locs.northing, locs.precision,
                                                      locs.ward_code, locs.resolvable, locs.kind)]
    truth = {
        "seed": seed, "scale": scale, "null": null, **({"null_model": null_model} if null else {}),
        "note": "Synthetic scenario. People are fictional. Venue hotspots are planted only on invented "
                "premises (fictional_premises: made-up trading names at real postcodes, registered in "
                "premises.csv like any other). Real premises and places from open data (FSA FHRS, HMRC Eat "
                "Out to Help Out, curated landmarks) appear only as random background locations at the "
                "same rate as anywhere else, never with planted structure and never named in intelligence; "
                "nothing here implies anything about any real business.",
        "counts": dict(writer.rows),
        "identities": identities,
        "siblings": siblings,
        "moved_children": moved_children,
        "venue_hotspots": [] if null else prem.premises_id.to_numpy()[venues].tolist(),
        "venue_children": venue_children,
        "fictional_premises": prem.premises_id.to_numpy()[fictional].tolist(),
        "ward_hotspots": hot_codes.tolist(),
        "ward_hotspot_cores": core_codes.tolist(),
        "ward_hotspot_clusters": [{"core": c, "wards": sorted({c, *ref.wards.set_index("ward_code").neighbours[c]})}
                                  for c in core_codes],
        "ward_hotspot_rates": {"core": CORE_X, "neighbour": NEIGHBOUR_X,
                               "basis": "found-at points per postcode relative to the background (non-hot) wards"},
        "co_missing_groups": groups,
        **({"space_time_clusters": ctx.truth["space_time_clusters"]} if "space_time_clusters" in ctx.truth else {}),
        "adults_of_concern": aoc_ids,
        "adult_links": aoc_links,
        "locations": locations,
        "bad_rows": bad_rows,
        **mog_truth,
    }
    truth.update(synth_cse.write(out, ref, truth, seed, null, START, DAYS))   # CSE assessments, crimes
    for name in ("cse_assessments.csv", "crimes.csv"):   # rows written, as for every other file
        truth["counts"][name] = len(pd.read_csv(out / name, dtype=str, usecols=[0]))
    with open(out / "truth.json", "w", encoding="utf-8") as fh:
        json.dump(truth, fh, ensure_ascii=False, allow_nan=False, separators=(",", ":") if scale in ("region", "national") else None,
                  indent=None if scale in ("region", "national") else 1)
    return truth
