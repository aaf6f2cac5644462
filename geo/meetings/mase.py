"""MASE (Multi-Agency Sexual Exploitation) meeting areas and the list of children each area's
meeting reviews.

Birmingham holds one MASE per area (DOMAIN.md: South; East; North West & Central). An area is a
set of wards (reference data, ``ward_code, mase_area``: ``wayfinder reference --mase-areas FILE``;
an illustrative Birmingham split is bundled in data/reference). A child belongs to the area of the
ward of their placement or home (best view of the person, ``geo.meetings.person_view``), else of the ward
where their latest episode was reported last seen or found.

Pure functions: frames in, frames out.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo.meetings.scorecards import ABSENT, AWAY, MISSING, _as_of, _utc, _view, episode_states, in_period

AT_RISK = ("at_risk", "significant", "serious")
RISK_ORDER = {"serious": 0, "significant": 1, "at_risk": 2}


class MaseAreaError(ValueError):
    """A MASE area file that cannot be read."""


def read_mase_areas(path: str | Path) -> pd.DataFrame:
    """``ward_code, mase_area`` (optional ``ward_name``) from a CSV; headers matched
    case-insensitively; one area per ward."""
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise MaseAreaError(f"{path}: cannot read ({exc})") from exc
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in ("ward_code", "mase_area") if c not in df.columns]
    if missing:
        raise MaseAreaError(f"{path}: no column {', '.join(missing)} (need ward_code, mase_area)")
    df = df.assign(ward_code=df["ward_code"].str.strip(), mase_area=df["mase_area"].str.strip())
    df = df[(df["ward_code"] != "") & (df["mase_area"] != "")]
    if df.empty:
        raise MaseAreaError(f"{path}: no ward_code with a mase_area")
    dup = df[df["ward_code"].duplicated(keep=False)]
    if len(dup) and dup.groupby("ward_code")["mase_area"].nunique().gt(1).any():
        raise MaseAreaError(f"{path}: ward {dup['ward_code'].iloc[0]} is in more than one MASE area")
    cols = ["ward_code", "mase_area"] + (["ward_name"] if "ward_name" in df.columns else [])
    return df.drop_duplicates("ward_code")[cols].reset_index(drop=True)


def child_wards(episodes: pd.DataFrame, view: pd.DataFrame) -> pd.Series:
    """The ward of each person: placement or home ward (best view), else the last-seen or found
    ward of their latest episode with one."""
    ward = view["placement_ward"] if "placement_ward" in view else pd.Series(None, index=view.index, dtype=object)
    ward = ward.astype(object).where(ward.notna() & (ward.astype(str) != ""), None)
    if len(episodes):
        e = episodes.sort_values("reported_at")
        w = e.get("last_seen_ward", pd.Series(None, index=e.index)).fillna(
            e.get("found_ward", pd.Series(None, index=e.index)))
        latest = pd.Series(w.to_numpy(), index=e["person_id"].to_numpy()).dropna()
        latest = latest[~latest.index.duplicated(keep="last")]
        ward = ward.fillna(latest.reindex(ward.index))
    return ward


def mase_lists(episodes: pd.DataFrame, children: pd.DataFrame, areas: pd.DataFrame,
               start=None, end=None, as_of=None, view: pd.DataFrame | None = None,
               area: str | None = None) -> pd.DataFrame:
    """Children at CSE risk (at risk, significant, serious: best view) by MASE area, with their
    episodes in [start, end) and whether they are missing as of T: mase_area, person_id,
    cse_risk, care_status, ward_code, missing_episodes, absent_away_episodes, last_reported,
    missing_now. Most serious risk first, then most missing episodes. ``area`` keeps one area
    (matched case-insensitively); children whose ward is in no area are listed under
    ``"no MASE area"``."""
    cols = ["mase_area", "person_id", "cse_risk", "care_status", "ward_code", "missing_episodes",
            "absent_away_episodes", "last_reported", "missing_now"]
    view = _view(children, view)
    if view.empty or "cse_risk" not in view:
        return pd.DataFrame(columns=cols)
    t = _as_of(as_of, end)
    risk = view["cse_risk"]
    kids = view[risk.isin(AT_RISK)]
    ward = child_wards(episodes, view).reindex(kids.index)
    amap = dict(zip(areas["ward_code"], areas["mase_area"])) if areas is not None and len(areas) else {}
    ep = in_period(episodes, _utc(start), _utc(end))
    ep = ep[ep["person_id"].isin(kids.index)]
    g = ep.groupby("person_id")
    now = episodes[episode_states(episodes, t)["missing_now"]]
    out = pd.DataFrame({
        "mase_area": ward.map(lambda w: amap.get(w, "no MASE area") if isinstance(w, str) else "no MASE area"),
        "person_id": kids.index, "cse_risk": kids["cse_risk"],
        "care_status": kids["care_status"] if "care_status" in kids else None,
        "ward_code": ward,
        "missing_episodes": g["category"].agg(lambda c: int((c == MISSING).sum())).reindex(kids.index).fillna(0).astype(int),
        "absent_away_episodes": g["category"].agg(lambda c: int(c.isin([ABSENT, AWAY]).sum())).reindex(kids.index)
        .fillna(0).astype(int),
        "last_reported": g["reported_at"].max().reindex(kids.index),
        "missing_now": kids.index.isin(now["person_id"]),
    }, index=kids.index.rename(None))
    if area is not None:
        out = out[out["mase_area"].str.lower() == area.strip().lower()]
    out = out.assign(_r=out["cse_risk"].map(RISK_ORDER)).sort_values(
        ["mase_area", "_r", "missing_episodes", "person_id"], ascending=[True, True, False, True])
    return out[cols].reset_index(drop=True)
