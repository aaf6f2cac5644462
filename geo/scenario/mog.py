"""What the MOG needs from a generated drop, beyond the eight original files (issue 14).

``geo.scenario.generator.generate`` calls :class:`MogPlan` twice: :meth:`MogPlan.collect` once per chunk of
true children (before the files are formatted), and :meth:`MogPlan.finish` once at the end, which
adds to the written drop and returns the truth it planted:

- **Placements** (``children.csv`` ``placement_authority``): DOMAIN.md, "Birmingham ... places 41%
  of its own looked-after children out of area": of the city's own children in care,
  :data:`PLACED_OUT_SHARE` are placed with a host authority (their placement postcode, which would
  be in the host's area, is left empty); children placed in the city by other authorities
  (``responsible_authority`` not Birmingham) have ``placement_authority`` Birmingham. Social care
  records always carry it, police records often.
- **Establishments** (``children.csv`` ``establishment``): the invented name of each children's
  home (residential placements; several children per home, as generated), restricted data.
- **Stale open episodes**: :data:`STALE_SHARE` of absent and away episodes that are followed by a
  later episode of the same child lose their return time (a marker not cleared, DOMAIN.md "What
  goes wrong today"); absent and away episodes carry no return interview, so interview timing
  stays as generated. ``truth["stale_open_episodes"]`` lists every open episode (planted or
  generated) that the child's later episode makes stale.
- **Children missing education** (``education.csv``): CME and related register entries, most
  often for children who went missing from education.

Truth keys: ``placed_out`` ({true child id: host authority}), ``placed_in`` ({true child id:
responsible authority}), ``placed_out_share`` (of the city's own children in care),
``establishments`` ({name: [true child ids]}), ``stale_open_episodes`` (episode record keys),
``cme_children`` (true child ids with an education.csv record).

The sample scale is left as it is (the committed sample drop is byte-for-byte the generator's);
the other scales get all of the above. Random draws use their own stream, so every other output
of a seed is unchanged apart from the cells named here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geo.model import CONTRACT

HOME = "Birmingham"
PLACED_OUT_SHARE = 0.41
STALE_SHARE = 0.04
#: host authorities of out-of-area placements, nearest first (weights: most stay in the region)
HOSTS = np.array(["Sandwell", "Solihull", "Walsall", "Dudley", "Wolverhampton", "Worcestershire",
                  "Staffordshire", "Warwickshire", "Shropshire", "Coventry", "Telford and Wrekin",
                  "Herefordshire", "Derbyshire", "Lancashire", "Kent"])
HOST_P = np.array([14, 12, 10, 10, 8, 9, 9, 7, 5, 4, 4, 3, 2, 2, 1], float)
HOST_P = HOST_P / HOST_P.sum()
BIRDS = np.array(["Kestrel", "Heron", "Linnet", "Plover", "Curlew", "Wren", "Siskin", "Merlin",
                  "Dunlin", "Avocet", "Bittern", "Godwit", "Redstart", "Whimbrel", "Ouzel",
                  "Twite", "Shrike", "Petrel", "Tern", "Lapwing"])
EDU_STATUS = np.array(["cme", "cnes", "removed_unlocated", "elective_home_education", "other"])
EDU_P = np.array([.70, .10, .08, .07, .05])


def establishment_name(i: int) -> str:
    """The invented name of generated children's home ``i`` (no real home is named)."""
    return f"{BIRDS[i % len(BIRDS)]} House (synthetic home {i + 1:03d})"


class MogPlan:
    """Collects what the generator knows per chunk; adds placements, homes, stale records and CME
    records to the written drop at the end."""

    def __init__(self, seed: int, scale: str, null: bool):
        self.on = scale != "sample"
        self.rng = np.random.default_rng([seed, 14, int(null)])
        self.kids, self.recs, self.eps = [], [], []

    def collect(self, k: pd.DataFrame, recs: pd.DataFrame, e: pd.DataFrame) -> None:
        """One chunk: true children ``k``, child records ``recs``, episodes ``e`` (unformatted)."""
        if not self.on:
            return
        kids = k[["tid", "care", "placement", "resp", "home_id", "pc_i", "school"]].copy()
        kids.attrs = {}   # the chunk's arrays (siblings) differ in shape; pandas compares attrs on concat
        self.kids.append(kids)
        self.recs.append(recs[["key", "tid", "source", "child_id"]].copy())
        tid = k.tid.to_numpy()[e.ci.to_numpy()]
        self.eps.append(pd.DataFrame({"key": e.key.to_numpy(), "tid": tid, "category": e.category.to_numpy(),
                                      "reported": pd.to_datetime(e.reported_at).to_numpy(),
                                      "returned": pd.to_datetime(e.returned_at).to_numpy(),
                                      "missing_from": e.missing_from.to_numpy()}))

    # ------------------------------------------------------------------ the end
    def finish(self, out: Path, rows: dict, bad_rows: list[dict]) -> dict:
        """Rewrite children.csv and episodes.csv with the new cells, write education.csv; update
        ``rows`` (the writer's counts); return the truth keys."""
        if not self.on or not self.kids:
            return {}
        rng = self.rng
        k = pd.concat(self.kids, ignore_index=True)
        recs = pd.concat(self.recs, ignore_index=True)
        eps = pd.concat(self.eps, ignore_index=True)
        truth: dict = {}

        # placements: the city's own children in care, 41 % placed with a host authority
        cic = k.care.to_numpy() == "cic"
        own = cic & (k.resp.to_numpy() == HOME)
        already = own & (k.pc_i.to_numpy() < 0)            # generated outside the city
        want = int(round(PLACED_OUT_SHARE * own.sum())) - int(already.sum())
        cand = np.flatnonzero(own & ~already & (k.home_id.to_numpy() < 0))
        extra = rng.permutation(cand)[: max(want, 0)]
        out_mask = already.copy()
        out_mask[extra] = True
        host = np.where(out_mask, HOSTS[rng.choice(len(HOSTS), len(k), p=HOST_P)], "")
        place_auth = np.where(out_mask, host, np.where(cic, HOME, ""))
        placed_in = cic & (k.resp.to_numpy() != HOME)
        truth["placed_out"] = dict(zip(k.tid[out_mask], host[out_mask]))
        truth["placed_in"] = dict(zip(k.tid[placed_in], k.resp[placed_in]))
        truth["placed_out_share"] = round(float(out_mask.sum() / max(own.sum(), 1)), 4)
        # establishments: one invented name per generated home; homes of children placed out are
        # the host's (named after it)
        res = k.placement.to_numpy() == "residential"
        hid = k.home_id.to_numpy()
        est = np.full(len(k), "", dtype=object)
        in_home = res & (hid >= 0)
        est[in_home] = [establishment_name(int(h)) for h in hid[in_home]]
        away = res & out_mask
        est[away] = [f"{BIRDS[i % len(BIRDS)]} Court, {h} (synthetic)" for i, h in
                     zip(rng.integers(0, len(BIRDS), away.sum()), host[away])]
        truth["establishments"] = {n: sorted(g) for n, g in
                                   pd.Series(k.tid[est != ""].to_numpy()).groupby(est[est != ""]).agg(list).items()}
        blank_pc = set(k.tid[extra])
        self._rewrite_children(out, recs, k.assign(place_auth=place_auth, est=est), blank_pc, bad_rows)

        # stale open episodes: absent / away episodes followed by a later one lose their return
        eps = eps.sort_values(["tid", "reported"], kind="stable")
        last = eps.groupby("tid")["reported"].transform("max")
        later = eps["reported"] < last
        pick = later & eps["category"].isin(["absent", "away_without_authorisation"]) & eps["returned"].notna()
        chosen = eps.index[pick.to_numpy()][rng.random(int(pick.sum())) < STALE_SHARE]
        eps.loc[chosen, "returned"] = pd.NaT
        self._rewrite_episodes(out, set(eps.loc[chosen, "key"]), bad_rows)
        bad_ep = self._bad_keys(out, "episodes.csv", "episode_id", bad_rows)
        stale = eps[eps["returned"].isna() & later & ~eps["key"].isin(bad_ep)]
        truth["stale_open_episodes"] = sorted(stale["key"])
        truth["stale_planted"] = sorted(eps.loc[chosen, "key"])

        # children missing education
        edu_kids = set(eps.loc[eps["missing_from"] == "education", "tid"])
        p = np.where(k.tid.isin(edu_kids), .5, .02)
        sel = np.flatnonzero(rng.random(len(k)) < p)
        first_edu = eps[eps["missing_from"] == "education"].groupby("tid")["reported"].min()
        start = pd.Series(pd.NaT, index=sel, dtype="datetime64[ns]")
        year0 = eps["reported"].min().normalize()
        for j, t in zip(sel, k.tid.to_numpy()[sel]):
            f = first_edu.get(t)
            start[j] = (f.normalize() - pd.Timedelta(days=int(rng.integers(0, 30)))) if f is not None \
                else year0 + pd.Timedelta(days=int(rng.integers(0, 365)))
        dur = rng.integers(5, 150, len(sel))
        closed = rng.random(len(sel)) < .65
        end = start + pd.to_timedelta(np.where(closed, dur, 0), unit="D")
        by_src = recs.set_index(["tid", "source"])["child_id"]
        tids = k.tid.to_numpy()[sel]
        ed = [by_src.get((t, "education")) for t in tids]
        pol = [by_src.get((t, "police")) for t in tids]
        edu = pd.DataFrame({
            "record_id": [f"CME{i + 1:06d}" for i in range(len(sel))],
            "child_id": [a if isinstance(a, str) else b for a, b in zip(ed, pol)],
            "status": EDU_STATUS[rng.choice(len(EDU_STATUS), len(sel), p=EDU_P)],
            "start_date": start.dt.strftime("%Y-%m-%d").to_numpy(),
            "end_date": np.where(closed, end.dt.strftime("%Y-%m-%d"), ""),
            "school": k.school.to_numpy()[sel], "source": "education"})
        edu.to_csv(out / "education.csv", index=False, lineterminator="\n")
        rows["education.csv"] = len(edu)
        truth["cme_children"] = sorted(tids.tolist())
        truth["cme_records"] = int(len(edu))
        return truth

    # ------------------------------------------------------------------ rewriting files
    @staticmethod
    def _bad_lines(name: str, bad_rows: list[dict]) -> set[int]:
        return {b["line"] for b in bad_rows if b["file"] == name}

    def _bad_keys(self, out: Path, name: str, id_col: str, bad_rows: list[dict]) -> set[str]:
        df = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        lines = np.array(sorted(self._bad_lines(name, bad_rows)), dtype=int) - 2
        lines = lines[(lines >= 0) & (lines < len(df))]
        sub = df.iloc[lines]
        return set(sub["source"] + "/" + sub[id_col])

    def _rewrite_children(self, out: Path, recs: pd.DataFrame, k: pd.DataFrame, blank_pc: set,
                          bad_rows: list[dict]) -> None:
        path = out / "children.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        key = df["source"] + "/" + df["child_id"]
        tid = key.map(dict(zip(recs.key, recs.tid)))
        info = k.set_index("tid")
        pa = tid.map(info["place_auth"]).fillna("")
        est = tid.map(info["est"]).fillna("")
        u = self.rng.random((len(df), 2))
        social = df["source"] == "carefirst"
        police = df["source"] == "police"
        keep_pa = social | (police & (u[:, 0] < .6))
        keep_est = (social & (u[:, 1] < .95)) | (police & (u[:, 1] < .3))
        df["placement_authority"] = pa.where(keep_pa, "")
        df["establishment"] = est.where(keep_est, "")
        df.loc[tid.isin(blank_pc).to_numpy(), "placement_postcode"] = ""
        df.to_csv(path, index=False, lineterminator="\n")

    @staticmethod
    def _rewrite_episodes(out: Path, keys: set, bad_rows: list[dict]) -> None:
        path = out / "episodes.csv"
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        key = df["source"] + "/" + df["episode_id"]
        df.loc[key.isin(keys).to_numpy(), "returned_at"] = ""
        df.to_csv(path, index=False, lineterminator="\n")
