"""Premises of concern: evidence, an exposure-adjusted count test, and a plain-English explanation.

Frames in (docs/FRAMES.md): ``premises``, ``place_events`` (found-at and RHI places),
``geocodes`` (text -> ``match_id`` such as ``premises:ID``), ``links``, ``intelligence``,
``children`` (child record -> person_id and placement point) and ``postcodes`` (residential
postcode centroids, the exposure). Coordinates EPSG:27700 metres; times UTC.

Evidence per premises, by precision
-----------------------------------
* **named** (direct evidence): a found-at place or return-interview place the geocoder matched to
  the premises itself (``match_id`` ``premises:ID``), and ``links`` with a ``premises:ID`` end and
  a child at the other. Counted as distinct children (``named_children``).
* **near** (weaker evidence): located points (postcode, address or street precision) within
  ``radius_m`` of the premises that no named gazetteer entity explains and that are not the
  child's own placement (a child found back at home says nothing about the takeaway next door).
  These are usually postcode centroids: the place was recorded *near* the premises, not *at* it.
  A child's home is its placement points and the places it was last seen (``geo.places.located``).
  Counted as distinct children (``near_children``).
* **intel**: intelligence logs about the premises, weighted by the 3x5x2 grading (source
  1/2/3 -> 1.0/0.6/0.3, assessment A..E -> 1.0/0.8/0.5/0.3/0.0; missing grades count as 0.6
  and 0.5). Used in the score and the explanation, not in the test.

Score (for ranking within the significant and the other premises)::

    score = (children + 0.25 * episodes + 0.5 * recent_children + 0.5 * mentions
             + 3 * intel_weight) * (1 + 0.5 * [linked in links] + 0.5 * [named in intelligence])

Significance test (the model and its assumptions)
-------------------------------------------------
Each evidence kind is a count with an exposure offset, modelled as negative binomial (NB2:
mean ``theta * E``, variance ``mu + alpha * mu^2``; Cameron & Trivedi 2013, *Regression
Analysis of Count Data*, ch. 3), fitted by maximum likelihood over every premises in the
register with coordinates:

* near: ``E_near = n_pc(r) * lambda``: the residential postcodes within ``radius_m`` of the
  premises (at least 0.5) times the local rate ``lambda`` of background points per postcode,
  measured in the ring from ``radius_m`` to ``density_radius_m`` around the premises (the
  premises' own surroundings do not set its expectation);
* named: ``E_named = n_catch * lambda``: the residential postcodes for which this premises is
  the nearest premises within ``landmark_m`` (counted in full for each of several premises
  sharing one point; at least 0.5) times the same rate: a child found near a premises is sometimes recorded by its
  name, so the background naming rate follows the premises' catchment.

The counts tested are independent *sightings*: distinct children, where children recorded at
or near the premises within 24 hours of one another count once (a co-missing group found
together is one sighting; ``near_sightings`` / ``named_sightings`` beside the child counts).

Robust fit: the fit is repeated without the premises whose upper-tail p-value is below
``outlier_p`` until that set stops changing (iterative outlier exclusion), so planted or real
venues do not inflate ``theta`` or the dispersion ``alpha``. The one-sided p-value per kind is
``P(X >= observed)``; the premises' p-value is the Bonferroni minimum of its two
(``min(1, 2 * min(p_near, p_named))``), and Benjamini-Hochberg q-values are taken over **every
premises in the register** (premises with fewer than ``min_children`` distinct children are not
tested: p = 1, still counted by BH). Assumptions: given the exposure, counts of different
premises are independent (neighbouring premises share near points: named evidence is what
separates next-door premises); the background rate is smooth over ``density_radius_m``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree

from dataclasses import dataclass
from typing import Callable

from geo.stats.hotspots import DEFAULT_KINDS, filter_events
from geo.places.located import COARSE_PRECISION, home_points, located_mask, placement_points  # noqa: F401 - COARSE_PRECISION re-exported
from geo.stats.permutation import bh_qvalues

__all__ = ["premises_of_concern", "grading_weight", "explain", "explanations_for", "fit_negative_binomial", "NBFit",
           "VENUE_COLUMNS", "EXPLAIN_COLUMNS"]

VENUE_COLUMNS = [
    "rank", "premises_id", "name", "premises_type", "score", "children", "episodes",
    "mentions", "intel", "p_value", "q_value", "explanation",
]

SOURCE_WEIGHT = {"1": 1.0, "2": 0.6, "3": 0.3}
INTEL_WEIGHT = {"A": 1.0, "B": 0.8, "C": 0.5, "D": 0.3, "E": 0.0}


def grading_weight(source_eval, intel_eval) -> np.ndarray:
    """3x5x2 reliability weight: source (1/2/3 -> 1/.6/.3) x assessment (A..E -> 1/.8/.5/.3/0)."""
    s = pd.Series(source_eval).astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    i = pd.Series(intel_eval).astype("string").str.strip().str.upper()
    return (s.map(SOURCE_WEIGHT).fillna(0.6).to_numpy(float)
            * i.map(INTEL_WEIGHT).fillna(0.5).to_numpy(float))


def _premises_refs(values: pd.Series) -> pd.Series:
    """``premises:ID`` -> ``ID`` (others -> NaN)."""
    s = values.astype("string")
    return s.str.extract(r"^\s*premises:(.+?)\s*$", expand=False)


def _empty_frame(cols):
    return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})





#: evidence kinds of the test, in the order of the columns ``p_near`` / ``p_named``
KINDS = ("near", "named")
#: columns :func:`explain` reads (kept in the result so an edge can re-render for its role)
EXPLAIN_COLUMNS = ["children", "near_children", "named_children", "near_sightings", "named_sightings",
                   "recent_children", "rhi_mentions",
                   "link_mentions", "event_mentions", "intel", "intel_grades", "expected_near",
                   "expected_named", "tested", "q_value", "evidence", "radius_m", "compared_with"]


# ---------------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class NBFit:
    """Negative binomial with exposure offset: mean ``theta * E``, variance ``mu + alpha mu^2``."""

    theta: float
    alpha: float
    kept: np.ndarray       # premises used in the final fit (not excluded as outliers)
    iterations: int

    def sf(self, y: np.ndarray, exposure: np.ndarray) -> np.ndarray:
        """One-sided p-value ``P(X >= y)`` for each count ``y`` at its exposure."""
        y = np.asarray(y, float)
        mu = np.maximum(self.theta * np.asarray(exposure, float), 1e-12)
        if self.alpha <= 1e-8:
            return np.where(y > 0, stats.poisson.sf(y - 1, mu), 1.0)
        r = 1.0 / self.alpha
        return np.where(y > 0, stats.nbinom.sf(y - 1, r, r / (r + mu)), 1.0)


def _nb_mle(y: np.ndarray, e: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood ``(theta, alpha)`` of NB2 with mean ``theta * e``."""
    from scipy.optimize import minimize
    from scipy.special import gammaln

    if y.sum() == 0 or e.sum() <= 0:
        return 0.0, 0.0
    th0 = y.sum() / e.sum()

    def nll(par):
        th, a = np.exp(par)
        mu = th * e
        r = 1.0 / a
        # log NB2 pmf; stable for small alpha (r large)
        ll = (gammaln(y + r) - gammaln(r) - gammaln(y + 1) + r * np.log(r / (r + mu))
              + y * np.log(mu / (r + mu)))
        return -ll.sum()

    res = minimize(nll, [np.log(th0), np.log(0.1)], method="L-BFGS-B",
                   bounds=[(np.log(th0) - 10, np.log(th0) + 10), (np.log(1e-9), np.log(1e3))])
    th, a = np.exp(res.x)
    return float(th), float(a if a > 1e-8 else 0.0)


def fit_negative_binomial(y, exposure, outlier_p: float = 1e-3, max_iter: int = 50) -> NBFit:
    """Robust NB2 fit of counts ``y`` with exposures ``exposure`` (both arrays, one per unit).

    Iterative outlier exclusion without masking: start from the units a Poisson fit does not
    call outlying (upper-tail p >= ``outlier_p``), fit the negative binomial on them, then keep
    every unit whose upper-tail p-value under the current fit is at least ``outlier_p`` and
    refit, until that set stops changing. Starting from the Poisson core matters: a plain ML fit
    on all units lets a handful of extreme ones inflate the dispersion until none of them looks
    extreme (masking). Units with zero exposure are left out of the fit.
    """
    y = np.asarray(y, float)
    e = np.asarray(exposure, float)
    pos = e > 0
    th = y[pos].sum() / e[pos].sum() if pos.any() and e[pos].sum() > 0 else 0.0
    kept = pos & (NBFit(th, 0.0, pos, 0).sf(y, e) >= outlier_p)
    fit = NBFit(th, 0.0, kept, 0)
    seen = []
    for it in range(1, max_iter + 1):
        th, a = _nb_mle(y[kept], e[kept])
        fit = NBFit(th, a, kept.copy(), it)
        new = pos & (fit.sf(y, e) >= outlier_p)
        if np.array_equal(new, kept) or any(np.array_equal(new, k) for k in seen):
            break  # converged (or cycling between two sets: stop at the current fit)
        seen.append(kept)
        kept = new
    return fit


# ---------------------------------------------------------------------------------- evidence
def _resolver(pr: pd.DataFrame) -> Callable[[pd.Series], pd.Series]:
    """premises_id or premises_key -> premises_id (object dtype; NaN when unknown).

    Plain object dtype on purpose: store frames carry pandas' Arrow-backed strings, whose
    ``isin`` fails on an all-missing column."""
    pid_set = set(pr["premises_id"])
    key_to_id = dict(zip(pr["premises_key"].astype(str), pr["premises_id"])) if "premises_key" in pr else {}

    def resolve(ids: pd.Series) -> pd.Series:
        ids = pd.Series(ids, copy=False).astype(object)
        ids = ids.where(ids.notna(), None)
        mapped = ids
        if key_to_id:
            mapped = ids.map(key_to_id)
            mapped = mapped.where(mapped.notna(), ids)
        return mapped.where(mapped.isin(pid_set).to_numpy(), np.nan).astype(object)
    return resolve


def _prepare_events(place_events, kinds, start, end, now):
    """Events of the period with person, episode and time; the reference time ``now``."""
    ev = filter_events(place_events, kinds, start, end).reset_index(drop=True)
    ev = ev.assign(person_id=ev["person_id"].astype(str) if "person_id" in ev else ev.index.astype(str))
    if "episode_key" not in ev:
        ev["episode_key"] = ev.get("event_key", pd.Series(ev.index.astype(str)))
    if "event_key" not in ev:
        ev["event_key"] = ev.index.astype(str)
    at = pd.to_datetime(ev["at"], utc=True, errors="coerce") if "at" in ev else pd.Series(pd.NaT, index=ev.index)
    if now is None:
        now = at.max() if at.notna().any() else pd.Timestamp.now(tz="UTC")
    now = pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    return ev, at, now


def _matches(ev: pd.DataFrame, geocodes) -> pd.Series:
    """What the geocoder matched each event to: its own match_id, else the geocodes table by text."""
    match = pd.Series(None, index=ev.index, dtype=object)
    if "match_id" in ev:
        match = ev["match_id"].astype(object).where(ev["match_id"].notna(), None)
    if geocodes is not None and len(geocodes) and "text" in ev and "match_id" in geocodes:
        gmap = geocodes.dropna(subset=["match_id"]).drop_duplicates("text").set_index("text")["match_id"].astype(object)
        match = match.where(match.notna(), ev["text"].astype(object).map(gmap))
    return match


def _child_map(children) -> dict:
    """Child record id / key -> person_id."""
    out = {}
    if children is not None and len(children):
        cid = children["child_id"].astype(str) if "child_id" in children else children["child_key"].astype(str)
        out = dict(zip(cid, children["person_id"].astype(str)))
        if "child_key" in children:
            out.update(zip(children["child_key"].astype(str), children["person_id"].astype(str)))
    return out


def _near_rows(pr, ev, at, located, radius_m) -> pd.DataFrame:
    """Evidence rows for background points within ``radius_m`` of each premises."""
    has_xy = pr[["easting", "northing"]].notna().all(axis=1).to_numpy()
    if not (has_xy.any() and located.any()):
        return None
    exy = ev[["easting", "northing"]].to_numpy(float)
    p_pos, e_pos = np.flatnonzero(has_xy), np.flatnonzero(located)
    pairs = cKDTree(pr.loc[has_xy, ["easting", "northing"]].to_numpy(float)).sparse_distance_matrix(
        cKDTree(exy[located]), radius_m, output_type="ndarray")
    pi, ej = p_pos[pairs["i"]], e_pos[pairs["j"]]
    # take the matched rows first, then convert (store frames hold Arrow strings)
    return pd.DataFrame({
        "premises_id": pr["premises_id"].to_numpy()[pi], "person": ev["person_id"].iloc[ej].to_numpy(),
        "episode": ev["episode_key"].iloc[ej].astype(str).to_numpy(), "at": at.iloc[ej].to_numpy(),
        "via": "near", "record": "event:" + ev["event_key"].iloc[ej].astype(str).to_numpy(),
    }).drop_duplicates(["premises_id", "record"])


def _named_rows(ev, at, match, resolve) -> pd.DataFrame | None:
    """Evidence rows for events matched to a premises by name (found-at events and RHI places)."""
    if not match.notna().any():
        return None
    gid = resolve(_premises_refs(match))
    m = gid.notna().to_numpy()
    if not m.any():
        return None
    rhi = ev.loc[m, "kind"].to_numpy() == "rhi_place"
    return pd.DataFrame({
        "premises_id": gid[m].to_numpy(), "person": ev.loc[m, "person_id"].to_numpy(),
        "episode": ev.loc[m, "episode_key"].astype(str).to_numpy(), "at": at[m].to_numpy(),
        "via": np.where(rhi, "rhi", "named_event"),
        "record": np.where(rhi, "rhi:" + ev.loc[m, "episode_key"].astype(str).to_numpy(),
                           "event:" + ev.loc[m, "event_key"].astype(str).to_numpy()),
    })


def _link_rows(links, resolve, child_person: dict) -> list[pd.DataFrame]:
    """Evidence rows for reported relationships with a ``premises:ID`` end."""
    rows = []
    if links is None or not len(links):
        return rows
    lk = links.reset_index(drop=True)
    obs = pd.to_datetime(lk["observed_at"], utc=True, errors="coerce") if "observed_at" in lk \
        else pd.Series(pd.NaT, index=lk.index)
    key = lk["link_key"].astype(str) if "link_key" in lk else lk.index.to_series().astype(str)
    for end_, other in (("to_ref", "from_ref"), ("from_ref", "to_ref")):
        gid = resolve(_premises_refs(lk[end_]))
        m = gid.notna().to_numpy()
        if not m.any():
            continue
        o = lk.loc[m, other].astype("string")
        kind_ = o.str.extract(r"^\s*(child|person):", expand=False)
        oid = o.str.replace(r"^\s*(child|person):", "", regex=True).str.strip()
        person = oid.map(lambda v: child_person.get(v, v)).where(kind_.notna())
        rows.append(pd.DataFrame({
            "premises_id": gid[m].to_numpy(), "person": person.to_numpy(dtype=object),
            "episode": None, "at": obs[m].to_numpy(), "via": "link", "record": ("link:" + key[m]).to_numpy(),
        }))
    return rows


def _intel_rows(intelligence, resolve) -> pd.DataFrame:
    """One row per (premises, intelligence log) with its grading weight."""
    empty = _empty_frame(["premises_id", "intel_key", "weight", "grade", "at"])
    if intelligence is None or not len(intelligence):
        return empty
    it = intelligence.reset_index(drop=True)
    key = it.get("intel_key", it.index.to_series()).astype(str)
    parts = []
    if "premises_id" in it:
        parts.append(pd.DataFrame({"i": it.index, "premises_id": resolve(it["premises_id"])}))
    if "subjects" in it:
        sub = it["subjects"].explode()
        parts.append(pd.DataFrame({"i": sub.index, "premises_id": resolve(_premises_refs(sub)).to_numpy()}))
    if not parts:
        return empty
    ip = pd.concat(parts).dropna().drop_duplicates()
    if not len(ip):
        return empty
    w = grading_weight(it.get("source_eval"), it.get("intel_eval"))
    grade = (it.get("source_eval", pd.Series(index=it.index)).astype("string").str.replace(r"\.0$", "", regex=True).fillna("?")
             + it.get("intel_eval", pd.Series(index=it.index)).astype("string").fillna("?"))
    ii = ip["i"].to_numpy(int)
    return pd.DataFrame({
        "premises_id": ip["premises_id"].to_numpy(), "intel_key": key.to_numpy()[ii], "weight": w[ii],
        "grade": grade.to_numpy()[ii],
        "at": pd.to_datetime(it["recorded_at"], utc=True, errors="coerce").to_numpy()[ii] if "recorded_at" in it else pd.NaT,
    })


def _sightings(rows: pd.DataFrame, together: pd.Timedelta) -> pd.Series:
    """Independent sightings per premises: distinct children, where children recorded at (or
    near) the same premises within ``together`` of one another count once (a co-missing group
    found together is one sighting, not four). Connected components of the graph joining each
    child to the occasions it was recorded on; an occasion is a run of records at the premises
    with gaps of at most ``together``; records without a time are occasions of their own."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    r = rows.dropna(subset=["person"])
    if r.empty:
        return pd.Series(dtype=int)
    r = pd.DataFrame({"p": r["premises_id"].astype(str).to_numpy(), "c": r["person"].astype(str).to_numpy(),
                      "t": pd.to_datetime(r["at"], utc=True, errors="coerce").to_numpy()}).sort_values(["p", "t"])
    t = pd.Series(r["t"].to_numpy())
    new = (r["p"].to_numpy() != np.r_[[None], r["p"].to_numpy()[:-1]]) | t.isna().to_numpy() \
        | (t.diff() > together).to_numpy()
    occ = np.cumsum(new) - 1
    child, _ = pd.factorize(r["p"] + "\x00" + r["c"])
    n_child = int(child.max()) + 1
    g = coo_matrix((np.ones(len(r)), (child, n_child + occ)), shape=(n_child + int(occ.max()) + 1,) * 2)
    _, comp = connected_components(g, directed=False)
    return pd.Series(comp[child]).groupby(r["p"].to_numpy()).nunique()


def _aggregate(pr: pd.DataFrame, ev_rows: pd.DataFrame, intel_rows: pd.DataFrame, recent_from,
               together: pd.Timedelta = pd.Timedelta(hours=24)) -> pd.DataFrame:
    """Counts per premises (distinct children, episodes, mentions, intelligence) and the score."""
    out = pr[["premises_id"]].copy()
    for c in ("name", "premises_type"):
        out[c] = pr[c] if c in pr else None
    pid = out["premises_id"]

    def per(rows, col, how="nunique"):
        if rows.empty:
            return pd.Series(0, index=out.index)
        return pid.map(getattr(rows.groupby("premises_id")[col], how)()).fillna(0).astype(int)
    with_person = ev_rows.dropna(subset=["person"])
    near = ev_rows[ev_rows["via"] == "near"]
    named = ev_rows[ev_rows["via"] != "near"]
    out["children"] = per(with_person, "person")
    out["near_children"] = per(near.dropna(subset=["person"]), "person")
    out["named_children"] = per(named.dropna(subset=["person"]), "person")
    out["near_sightings"] = pid.map(_sightings(near, together)).fillna(0).astype(int)
    out["named_sightings"] = pid.map(_sightings(named, together)).fillna(0).astype(int)
    out["episodes"] = per(ev_rows.dropna(subset=["episode"]), "episode")
    rec_at = pd.to_datetime(with_person["at"], utc=True, errors="coerce")
    out["recent_children"] = per(with_person[(rec_at >= recent_from).to_numpy()], "person")
    out["rhi_mentions"] = per(named[named["via"] == "rhi"], "record")
    out["link_mentions"] = per(named[named["via"] == "link"], "record")
    out["event_mentions"] = per(named[named["via"] == "named_event"], "record")
    out["mentions"] = out["rhi_mentions"] + out["link_mentions"] + out["event_mentions"]
    ig = intel_rows.drop_duplicates(["premises_id", "intel_key"]).groupby("premises_id")
    out["intel"] = pid.map(ig.size()).fillna(0).astype(int)
    out["intel_weight"] = pid.map(ig["weight"].sum()).fillna(0.0).astype(float)
    grades = pid.map(ig["grade"].agg(lambda s: ", ".join(sorted(s)))).astype(object)
    out["intel_grades"] = grades.where(grades.notna(), "")
    corroboration = 1.0 + 0.5 * (out["link_mentions"] > 0) + 0.5 * (out["intel"] > 0)
    out["score"] = ((out["children"] + 0.25 * out["episodes"] + 0.5 * out["recent_children"]
                     + 0.5 * out["mentions"] + 3.0 * out["intel_weight"]) * corroboration).round(3)
    return out


# ---------------------------------------------------------------------------------- exposure
def _exposure(pr: pd.DataFrame, points: np.ndarray, postcodes, radius_m: float, density_radius_m: float,
              landmark_m: float) -> pd.DataFrame:
    """Background exposure per premises: postcodes within ``radius_m`` (``n_postcodes``), postcodes
    it is the nearest premises to within ``landmark_m`` (``n_catchment``), and the local rate of
    background points per postcode in the ring ``radius_m``..``density_radius_m`` (``rate``).

    ``points``: background points (distinct child x location), metres. Without a postcode table
    the exposure is by area instead (square metres; the rate per square metre).
    """
    n = len(pr)
    out = pd.DataFrame({"n_postcodes": np.full(n, np.nan), "n_catchment": np.full(n, np.nan),
                        "rate": np.full(n, np.nan)})
    has_xy = pr[["easting", "northing"]].notna().all(axis=1).to_numpy()
    if not has_xy.any():
        return out
    pxy = pr.loc[has_xy, ["easting", "northing"]].to_numpy(float)
    if len(points):
        pt_tree = cKDTree(points)
        k_r = pt_tree.query_ball_point(pxy, radius_m, return_length=True)
        k_big = pt_tree.query_ball_point(pxy, density_radius_m, return_length=True)
    else:
        k_r = k_big = np.zeros(len(pxy))
    pcxy = None
    if postcodes is not None and len(postcodes) and {"easting", "northing"} <= set(postcodes):
        pcxy = postcodes[["easting", "northing"]].dropna().to_numpy(float)
    if pcxy is None or not len(pcxy):
        # no postcode table: exposure by area (points per square metre in the ring; the disc's
        # area; the catchment is the landmark disc shared with the premises inside it)
        ring = np.pi * (density_radius_m ** 2 - radius_m ** 2)
        n_r = np.full(len(pxy), np.pi * radius_m ** 2)
        rate = (k_big - k_r) / ring
        others = cKDTree(pxy).query_ball_point(pxy, landmark_m, return_length=True)
        catch = np.pi * landmark_m ** 2 / np.maximum(others, 1)
        out.loc[has_xy, "n_postcodes"] = n_r
        out.loc[has_xy, "n_catchment"] = catch
        out.loc[has_xy, "rate"] = rate
        out.attrs["unit"] = "square metre"
        return out
    pc_tree = cKDTree(pcxy)
    n_r = pc_tree.query_ball_point(pxy, radius_m, return_length=True)
    n_big = pc_tree.query_ball_point(pxy, density_radius_m, return_length=True)
    ring_pc = np.maximum(n_big - n_r, 1)
    rate = (k_big - k_r) / ring_pc
    # catchment: each postcode counts for its nearest premises within landmark_m, and in full for
    # every premises equally near (within 1 m: premises sharing a point): which of them a
    # recorder would name is unknown, so none of them gets less than the whole catchment
    # (splitting it would under-expect the one that happens to be named; conservative)
    kq = int(min(8, len(pxy)))
    d, j = cKDTree(pxy).query(pcxy, k=kq, distance_upper_bound=landmark_m)
    d, j = d.reshape(len(pcxy), kq), j.reshape(len(pcxy), kq)
    tie = np.isfinite(d) & (d <= d[:, :1] + 1.0)
    catch = np.bincount(j[tie], minlength=len(pxy) + 1)[: len(pxy)].astype(float)
    out.loc[has_xy, "n_postcodes"] = n_r
    out.loc[has_xy, "n_catchment"] = catch
    out.loc[has_xy, "rate"] = rate
    return out


# ---------------------------------------------------------------------------------- the test
def _significance(out: pd.DataFrame, exposure: pd.DataFrame, min_children: int, outlier_p: float,
                  alpha: float) -> tuple[pd.DataFrame, dict]:
    """Expected counts, p-values and BH q-values over every premises (see the module docstring)."""
    rate = exposure["rate"].to_numpy(float)
    ok = np.isfinite(rate)
    typical = float(np.nanmedian(rate)) if ok.any() else 0.0
    rate = np.where(ok, rate, typical)
    floor = 0.0 if exposure.attrs.get("unit") == "square metre" else 0.5  # postcodes: at least half of one
    n_pc = exposure["n_postcodes"].to_numpy(float)
    n_catch = exposure["n_catchment"].to_numpy(float)
    e = {"near": np.maximum(np.where(np.isfinite(n_pc), n_pc, np.nanmedian(n_pc) if ok.any() else 1.0), floor) * rate,
         "named": np.maximum(np.where(np.isfinite(n_catch), n_catch, np.nanmedian(n_catch) if ok.any() else 1.0),
                             floor) * rate}
    if not ok.any():  # no coordinates anywhere: the register as one exchangeable group
        e = {k: np.ones(len(out)) for k in e}
    y = {"near": out["near_sightings"].to_numpy(float), "named": out["named_sightings"].to_numpy(float)}
    fits, pk = {}, {}
    for k in KINDS:
        fits[k] = fit_negative_binomial(y[k], e[k], outlier_p=outlier_p)
        out[f"expected_{k}"] = (fits[k].theta * e[k]).round(3)
        pk[k] = fits[k].sf(y[k], e[k])
    tested = out["children"].to_numpy() >= min_children
    p = np.minimum(1.0, 2.0 * np.minimum(pk["near"], pk["named"]))
    p = np.where(tested, p, 1.0)
    out["p_near"] = np.where(tested, pk["near"], 1.0)
    out["p_named"] = np.where(tested, pk["named"], 1.0)
    out["p_value"] = p
    out["q_value"] = bh_qvalues(p)
    out["tested"] = tested
    out["significant"] = out["q_value"] < alpha
    out["evidence"] = np.select(
        [~tested, out["p_named"] <= out["p_near"]], ["none", "named"], "near")
    out["compared_with"] = len(out)
    info = {k: {"theta": fits[k].theta, "alpha": fits[k].alpha, "excluded": int((~fits[k].kept & (e[k] > 0)).sum()),
                "iterations": fits[k].iterations} for k in KINDS}
    return out, info


# ---------------------------------------------------------------------------------- explanation
def _say_count(v) -> str:
    """A count as the role sees it: ``"<5"`` reads "fewer than 5"."""
    s = str(v)
    return "fewer than " + s[1:] if s.startswith("<") else s


def _children(v, count) -> str:
    c = count(int(v))
    if str(c) == "0":
        return "no child"
    return f"{_say_count(c)} {'child' if str(c) == '1' else 'different children'}"


def _together(children, sightings, count) -> str:
    """", found together: 2 independent sightings" when children were recorded together."""
    if int(sightings) >= int(children):
        return ""
    n = _say_count(count(int(sightings)))
    return f", some found together: {n} independent {'sighting' if n == '1' else 'sightings'}"


def _num(x: float) -> str:
    """An expected count in words-friendly form: 1.2, 0.35, 0.004."""
    x = float(x)
    return f"{x:.1f}" if x >= 0.95 else f"{x:.2g}"


def _q(q: float) -> str:
    return "q < 0.001" if q < 0.001 else f"q = {q:.3f}" if q < 0.1 else f"q = {q:.2f}"


def _times(v, count, one, many) -> str:
    c = count(int(v))
    return f"{_say_count(c)} {one if str(c) == '1' else many}"


def explain(frame: pd.DataFrame, count: Callable = int, recent_days: int = 182, alpha: float = 0.05) -> pd.Series:
    """Plain-English explanation of each row of a :func:`premises_of_concern` result.

    ``count`` renders every count as the reader's role may see it (``geo.disclosure.small_count``
    for minimised views: 1-4 read "fewer than 5"), so the text never shows a number the table
    beside it suppresses. States what was observed and expected for each kind of evidence, how
    precise that evidence is, what the premises was compared with, and the verdict.
    """
    months = round(recent_days / 30.4)
    texts = []
    for r in frame[EXPLAIN_COLUMNS].itertuples(index=False):
        parts = []
        radius = f"{float(r.radius_m):g}"
        if r.named_children > 0 or r.tested:
            parts.append(f"{_children(r.named_children, count)} recorded at the premises by name (direct "
                         f"evidence: a found-at place, return interview or relationship matched to it)"
                         f"{_together(r.named_children, r.named_sightings, count)}, "
                         f"{_num(r.expected_named)} expected from the background")
        if r.near_children > 0 or r.tested:
            parts.append(f"{_children(r.near_children, count)} found within {radius} m (weaker evidence: "
                         f"postcode or address points near the premises, not at it)"
                         f"{_together(r.near_children, r.near_sightings, count)}, {_num(r.expected_near)} "
                         f"expected from the rate of such points around it")
        if r.rhi_mentions > 0:
            parts.append("named in " + _times(r.rhi_mentions, count, "return interview", "return interviews"))
        if r.event_mentions > 0:
            parts.append("given as the found-at place in " + _times(r.event_mentions, count, "episode", "episodes"))
        if r.link_mentions > 0:
            parts.append("linked in " + _times(r.link_mentions, count, "reported relationship", "reported relationships"))
        if r.intel > 0:
            parts.append(_times(r.intel, count, "intelligence log", "intelligence logs") + f" graded {r.intel_grades}")
        if r.children > 0 and r.recent_children > 0:
            parts.append(f"{_say_count(count(int(r.recent_children)))} of the {_say_count(count(int(r.children)))} "
                         f"children in the last {months} months")
        text = "; ".join(parts)
        n = f"{int(r.compared_with):,}"
        if not r.tested:
            verdict = ("Too few different children to test." if r.children > 0 else "No evidence in the period.")
        elif r.q_value < alpha:
            basis = ("chiefly the children recorded at the premises by name" if r.evidence == "named" else
                     "on the children found near it only: weaker evidence about this premises than about the spot")
            verdict = (f"More than the background explains, {basis} ({_q(r.q_value)}, false discovery rate "
                       f"controlled over all {n} premises in the register).")
        else:
            verdict = (f"Within what the background explains ({_q(r.q_value)} over all {n} premises in the "
                       f"register).")
        texts.append((text[0].upper() + text[1:] + ". " if text else "") + verdict)
    return pd.Series(texts, index=frame.index, dtype=object)


def explanations_for(frame: pd.DataFrame, count: Callable) -> pd.Series:
    """The explanations of a stored result as a reader with count formatter ``count`` may see them:
    re-rendered by :func:`explain` (results from before the evidence columns were stored are
    withheld rather than shown with counts the table suppresses)."""
    if frame is None or not len(frame):
        return pd.Series(dtype=object)
    if set(EXPLAIN_COLUMNS) <= set(frame.columns):
        return explain(frame, count=count)
    return pd.Series("Explanation withheld for this view (re-run wayfinder analyse).", index=frame.index, dtype=object)


# ---------------------------------------------------------------------------------- the analysis
def premises_of_concern(
    premises: pd.DataFrame,
    place_events: pd.DataFrame,
    *,
    geocodes: pd.DataFrame | None = None,
    return_interviews: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    intelligence: pd.DataFrame | None = None,
    children: pd.DataFrame | None = None,
    postcodes: pd.DataFrame | None = None,
    radius_m: float = 50.0,
    recent_days: int = 182,
    now=None,
    start=None,
    end=None,
    kinds=DEFAULT_KINDS,
    density_radius_m: float = 1000.0,
    landmark_m: float = 150.0,
    min_children: int = 3,
    outlier_p: float = 1e-3,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Rank premises by evidence of concern with an exposure-adjusted negative binomial test.

    See the module docstring for the evidence, score and model. ``now`` is the reference time
    for recency (default: the latest event time, else today UTC). ``return_interviews`` is
    accepted for symmetry (RHI places arrive as ``place_events`` of kind ``rhi_place``).

    Returns a DataFrame with :data:`VENUE_COLUMNS` plus the evidence counts, ``expected_near``,
    ``expected_named``, ``p_near``, ``p_named``, ``evidence`` (which kind decided: named, near
    or none), ``tested``, ``significant`` and the exposure columns, one row per premises, best
    first (``rank`` 1); ``attrs["fit"]`` holds the fitted model per evidence kind.
    """
    pr = _premises_table(premises)
    if not len(pr):
        return _empty_frame(VENUE_COLUMNS)
    resolve = _resolver(pr)
    ev, at, now = _prepare_events(place_events, kinds, start, end, now)
    match = _matches(ev, geocodes)
    located = located_mask(ev, match, home_points(children, place_events), home_m=radius_m,
                           placements=placement_points(children))
    ev_rows = _evidence_rows(pr, ev, at, match, located, resolve, links, children, radius_m)
    out = _aggregate(pr, ev_rows, _intel_rows(intelligence, resolve), now - pd.Timedelta(days=recent_days))

    pts = ev.loc[located, ["person_id", "easting", "northing"]].drop_duplicates()
    exposure = _exposure(pr, pts[["easting", "northing"]].to_numpy(float), postcodes, radius_m,
                         density_radius_m, landmark_m)
    out, fit = _significance(out, exposure, min_children, outlier_p, alpha)
    out = _ranked(out, exposure, radius_m, recent_days, alpha)
    out.attrs["fit"] = fit
    return out


def _premises_table(premises: pd.DataFrame) -> pd.DataFrame:
    """The register with string ids and numeric coordinates (NaN where missing)."""
    pr = premises.reset_index(drop=True).copy()
    if not len(pr):
        return pr
    pr["premises_id"] = pr["premises_id"].astype(str)
    for c in ("easting", "northing"):
        pr[c] = pd.to_numeric(pr[c], errors="coerce") if c in pr else np.nan
    return pr


def _evidence_rows(pr, ev, at, match, located, resolve, links, children, radius_m) -> pd.DataFrame:
    """Every piece of evidence against a premises, one row each (premises_id, person, episode,
    at, via, record): located points near it, texts matched to it, and recorded links."""
    rows = [r for r in (_near_rows(pr, ev, at, located, radius_m), _named_rows(ev, at, match, resolve)) if r is not None]
    rows += _link_rows(links, resolve, _child_map(children))
    cols = ["premises_id", "person", "episode", "at", "via", "record"]
    return pd.concat(rows, ignore_index=True) if rows else _empty_frame(cols)


def _ranked(out: pd.DataFrame, exposure: pd.DataFrame, radius_m: float, recent_days: int, alpha: float) -> pd.DataFrame:
    """The tested table with its exposure columns and explanation, best first (``rank`` 1),
    :data:`VENUE_COLUMNS` then the rest."""
    for c in exposure:
        out[c] = exposure[c].to_numpy()
    out["radius_m"] = float(radius_m)
    out["explanation"] = explain(out, recent_days=recent_days, alpha=alpha).to_numpy()
    out = out.sort_values(["significant", "score", "children", "premises_id"], ascending=[False, False, False, True],
                          kind="stable").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    extra = [c for c in out.columns if c not in VENUE_COLUMNS]
    return out[VENUE_COLUMNS + extra]
