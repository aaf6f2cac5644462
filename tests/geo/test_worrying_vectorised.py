"""``geo.meetings.scorecards.worrying_cases`` is vectorised (issue 15: the per-child loop cost the first MOG
pack ~44 s at city scale). Its answer must be exactly the loop's: the loop is kept here as the
oracle and both are run on random episodes, interviews and person views, at several as-of times,
with every reason reachable (open episodes over and under 72 h, persistent, increasing, CSE risk,
residential, early-warning ages, high police risk, late interviews, several settings, children
without an id)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.meetings.scorecards import (MISSING, PERSISTENT, RHI_HOURS, STRATEGY_HOURS, _as_of, _view,  # noqa: F401
                            episode_states, worrying_cases)


def reference_worrying_cases(episodes: pd.DataFrame, children: pd.DataFrame,
                   return_interviews: pd.DataFrame, now=None, n: int = 6,
                   window_days: int = 90, view: pd.DataFrame | None = None) -> list[dict]:
    """The per-child loop this module replaced (main before issue 15), kept as the oracle."""
    now = _as_of(now, None)
    win = pd.Timedelta(days=window_days)
    view = _view(children, view)
    held = return_interviews.dropna(subset=["held_at"])[["episode_key", "held_at"]]
    known = episodes[episodes["reported_at"] <= now]
    st = episode_states(known, now)
    out = []
    for pid, g in known.groupby("person_id"):
        reasons, score = [], 0
        gm = g[g["category"] == MISSING]
        recent_all = g[g["reported_at"] > now - win]
        recent = gm[gm["reported_at"] > now - win]
        before = gm[(gm["reported_at"] <= now - win) & (gm["reported_at"] > now - 2 * win)]
        open_ = gm[st.loc[gm.index, "missing_now"].to_numpy()]
        if len(open_):
            hours = (now - open_["reported_at"].min()).total_seconds() / 3600
            score += 4 + (2 if hours > STRATEGY_HOURS else 0)
            reasons.append(f"missing now ({hours:.0f} h)")
        if len(recent):
            score += min(len(recent), 6)
            reasons.append(f"{len(recent)} missing episodes in the last {window_days} days")
        other = recent_all[recent_all["category"] != MISSING]
        if len(other):
            score += 1
            reasons.append(f"{len(other)} absent or away episodes in the last {window_days} days")
        if len(gm) > PERSISTENT:
            score += 2
            reasons.append(f"persistent: {len(gm)} missing episodes in all")
        if len(recent) > len(before) and len(recent) >= 2:
            score += 2
            reasons.append(f"increasing: {len(before)} -> {len(recent)} missing episodes")
        c = view.loc[pid] if pid in view.index else None
        if c is not None:
            risk = c.get("cse_risk")
            if risk == "serious":
                score += 3
                reasons.append("CSE risk serious")
            elif risk == "significant":
                score += 2
                reasons.append("CSE risk significant")
            if c.get("placement_type") == "residential":
                score += 1
                reasons.append("lives in residential care")
            dob = c.get("dob")
            if c.get("sex") == "female" and dob is not None and not pd.isna(dob):
                age = (now.tz_localize(None) - pd.Timestamp(dob)).days / 365.25
                if 14 <= age < 18:
                    score += 1
                    reasons.append("early-warning profile: female aged 14-17")
        if "police_risk" in recent_all and (recent_all["police_risk"] == "high").any():
            score += 2
            reasons.append("high police risk")
        ret = recent[recent["returned_at"].notna() & (recent["returned_at"] <= now)]
        if len(ret):
            h = ret[["episode_key", "returned_at"]].merge(held, on="episode_key", how="left")
            ok = (h["held_at"] - h["returned_at"]) <= pd.Timedelta(hours=RHI_HOURS)
            missed = int(ret["episode_key"].nunique() - h.loc[ok, "episode_key"].nunique())
            if missed:
                score += 1
                reasons.append(f"{missed} returns without an interview within 72 h")
        if "missing_from" in g and g["missing_from"].dropna().nunique() > 1:
            score += 1
            reasons.append("missing from more than one setting")
        if score:
            out.append({"person_id": pid, "score": int(score), "reasons": reasons,
                        "episodes": int(len(gm)), "last_reported": g["reported_at"].max()})
    out.sort(key=lambda r: (-r["score"], -r["last_reported"].value))
    for r in out:
        r["last_reported"] = r["last_reported"].isoformat()
    return out[:n]



def _data(seed: int, n_children: int = 120, n_episodes: int = 900):
    rng = np.random.default_rng(seed)
    pids = np.array([f"P{i:04d}" for i in range(n_children)], dtype=object)
    t0 = pd.Timestamp("2017-01-01", tz="UTC")
    rep = t0 + pd.to_timedelta(rng.integers(0, 365 * 24, n_episodes), unit="h")
    ret = rep + pd.to_timedelta(rng.exponential(30, n_episodes).round(2), unit="h")
    ret = pd.Series(ret).where(rng.random(n_episodes) > 0.12)                 # some never returned
    person = pd.Series(rng.choice(pids, n_episodes), dtype=object)
    person[rng.random(n_episodes) < 0.02] = None                             # no child id
    ep = pd.DataFrame({
        "episode_key": [f"E{i:05d}" for i in range(n_episodes)], "person_id": person,
        "reported_at": rep, "returned_at": ret,
        "category": rng.choice([MISSING, "absent", "away_without_authorisation"], n_episodes, p=[.7, .2, .1]),
        "police_risk": rng.choice(["high", "medium", "low", None], n_episodes),
        "missing_from": rng.choice(["home", "placement", "school", None], n_episodes)})
    held = ep["returned_at"] + pd.to_timedelta(rng.integers(-5, 120, n_episodes), unit="h")
    rhi = pd.DataFrame({"episode_key": ep["episode_key"], "held_at": held.where(rng.random(n_episodes) < .7)})
    rhi = pd.concat([rhi, rhi.sample(frac=.1, random_state=seed)], ignore_index=True)   # repeats
    ch = pd.DataFrame({"person_id": pids, "child_key": [f"cf/{p}" for p in pids]})
    view = pd.DataFrame({
        "cse_risk": rng.choice(["serious", "significant", "low", None], n_children),
        "placement_type": rng.choice(["residential", "foster", None], n_children),
        "sex": rng.choice(["female", "male"], n_children),
        "dob": pd.Series(pd.Timestamp("2000-06-01") + pd.to_timedelta(rng.integers(0, 4000, n_children), unit="D"))
        .where(rng.random(n_children) > .1).to_numpy()}, index=pd.Index(pids, name="person_id"))
    return ep, ch, rhi, view.iloc[: n_children - 5]                           # some children not in the view


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("as_of", ["2017-03-15T10:30:00Z", "2017-12-31T23:00:00Z"])
def test_vectorised_equals_the_loop(seed, as_of):
    ep, ch, rhi, view = _data(seed)
    words = set()
    for n, window in ((6, 90), (10**6, 30), (10**6, 365)):
        want = reference_worrying_cases(ep, ch, rhi, now=as_of, n=n, window_days=window, view=view)
        got = worrying_cases(ep, ch, rhi, now=as_of, n=n, window_days=window, view=view)
        assert len(want) > 0 and got == want, (seed, as_of, n, window)
        words |= {r.split(" (")[0].split(":")[0].lstrip("0123456789 ") for row in got for r in row["reasons"]}
    assert {"missing now", "persistent", "increasing", "CSE risk serious", "CSE risk significant",
            "lives in residential care", "early-warning profile", "high police risk",
            "returns without an interview within 72 h", "missing from more than one setting",
            "absent or away episodes in the last 365 days"} <= words, words     # every reason exercised


def test_vectorised_without_optional_columns_and_empty():
    ep, ch, rhi, view = _data(4)
    ep = ep.drop(columns=["police_risk", "missing_from"])
    for v in (view, view[["sex"]]):
        assert worrying_cases(ep, ch, rhi, now="2017-06-01", n=50, view=v) == \
            reference_worrying_cases(ep, ch, rhi, now="2017-06-01", n=50, view=v)
    assert worrying_cases(ep.iloc[:0], ch, rhi, now="2017-06-01", view=view) == []
