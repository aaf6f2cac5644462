"""Meeting packs: MOG, COG and MASE as standalone HTML (works offline) and PDF.

Each pack is a pure function ``(data, period, view) -> HTML string`` over the frames of
docs/FRAMES.md and the stored analysis results (``data`` is a dict: ``children``, ``episodes``,
``return_interviews``, ``place_events``, ``persons``, ``premises``, ``intelligence``, ``links``,
``areas`` and results ``area_hotspots_ward``, ``found_at_clusters``, ``premises_of_concern``,
``area_trends``, ``co_missing_groups``, ``bridging_persons``; any may be missing and the pack says
so). :func:`load_pack_data` reads them from a store; the CLI (``wayfinder pack``) calls that, a
pack function and :func:`write_pack`.

Role minimisation (:class:`View`) applies to every pack: only analysts see names, record ids,
exact child locations and children's-home locations; every other role sees stable pseudonyms
(``C-``/``A-`` + keyed HMAC of the person id, so a pack and the API name a child alike when given
the same secret), points snapped to a 250 m grid or wards, counts from 1 to 4 as ``"<5"`` and
percentages over small bases as ``"n/a (<5)"``. The rules are ``geo.disclosure``, shared with the
API (``api/minimise.py``); :class:`View` only decides which role gets them.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import json
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from geo import disclosure
from geo import results as R
from geo.stats.getis_ord import GI_BIN_LABELS, GI_TEST
from geo.stats.permutation import bh_qvalues
from geo.storage.protocol import StoreLike
from maps import assets, layers
from maps.layers import esc

PACK_KINDS = ("mog", "cog", "mase")
DEFAULT_ROLE = {"mog": "mog_member", "cog": "cog_member", "mase": "mase_member",
                "licensing": "licensing_officer"}
#: roles that may receive each pack (the meeting packs: the case roles of api/roles.py "pack")
CASE_ROLES = frozenset({"analyst", "mog_member", "cog_member", "mase_member"})
PACK_ROLES = {"mog": CASE_ROLES, "cog": CASE_ROLES, "mase": CASE_ROLES,
              "licensing": frozenset({"analyst", "licensing_officer", "cog_member"})}
RHI_HOURS = 72
CHROMIUM = "/usr/bin/chromium"
#: pseudonym key of a pack made without the install's secret (stable across such packs only)
PACK_LOCAL_KEY = "wayfinder-pack"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class PackError(RuntimeError):
    """A pack cannot be produced (unknown child, no data, no browser for the PDF)."""


# ---------------------------------------------------------------- role minimisation

@dataclass(frozen=True)
class View:
    """What a role may see in a pack.

    ``role``: analyst (full view) or any other role (minimised). ``secret``: the per-install key of
    the pseudonyms (the API's, so a pack and the API name a child alike); without one, the fixed
    pack-local key :data:`PACK_LOCAL_KEY` is used (pseudonyms then match no API output).
    ``small``: counts 1..small-1 shown as ``"<small"``. ``grid_m``: British National Grid cell
    (metres) to which non-analyst points are snapped. The View decides who gets which rule; the
    rules are ``geo.disclosure`` (shared with api/minimise.py).
    """

    role: str = "mog_member"
    secret: str | None = None
    small: int = 5
    grid_m: float = 250.0
    names: dict = field(default_factory=dict, compare=False, hash=False)
    #: the one child a MASE member asked for with a purpose (logged as a disclosure): named in
    #: that child's own pack; every other child stays a pseudonym
    subject: str | None = None

    @property
    def full(self) -> bool:
        return self.role == "analyst"

    @property
    def key(self) -> str:
        """The pseudonym key: the install's secret, else the pack-local key."""
        return self.secret or PACK_LOCAL_KEY

    def pseudonym(self, person_id: object, kind: str = "child") -> str:
        """``geo.disclosure.pseudonym`` under :attr:`key` (the API's scheme)."""
        return disclosure.pseudonym(self.key, person_id, kind) or ""

    def who(self, person_id: object, kind: str = "child") -> str:
        """How a child or adult is named: name and id for analysts, a pseudonym otherwise."""
        if person_id is None or (isinstance(person_id, float) and math.isnan(person_id)):
            return ""
        if self.full:
            name = self.names.get(str(person_id))
            return f"{name} ({person_id})" if name else str(person_id)
        if self.subject is not None and str(person_id) == str(self.subject) and kind == "child":
            name = self.names.get(str(person_id))
            return f"{name} ({self.pseudonym(person_id, kind)})" if name else self.pseudonym(person_id, kind)
        return self.pseudonym(person_id, kind)

    def count(self, n: object) -> str:
        """A count for a table cell: as is for analysts, ``geo.disclosure.small_count`` otherwise."""
        if n is None or (isinstance(n, float) and math.isnan(n)):
            return ""
        try:
            v = int(n)
        except (TypeError, ValueError):
            return str(n)
        return str(v if self.full else disclosure.small_count(v, self.small))

    def pct(self, num: float, den: float) -> str:
        """``num / den`` as a whole percentage; for non-analysts withheld (``"n/a (<5)"``) under
        ``geo.disclosure.suppress_pct`` (a base of 1-4, or a share implying a count of 1-4)."""
        return disclosure.format_pct(num, den, self.small, minimise=not self.full)

    def scorecard(self, d: dict) -> dict:
        """A ``geo.meetings.scorecards`` scorecard dict as this role may see it (``geo.disclosure.
        suppress_scorecard`` for non-analysts)."""
        return d if self.full else disclosure.suppress_scorecard(d, self.small)

    def snap(self, e, n):
        """``geo.disclosure.snap_to_grid`` to this view's ``grid_m`` cells."""
        return disclosure.snap_to_grid(e, n, self.grid_m)

    def with_names(self, children: pd.DataFrame | None, persons: pd.DataFrame | None) -> "View":
        """A copy that knows display names (used for analysts only)."""
        names: dict = {}
        for f in (persons, children):
            if f is None or f.empty or "person_id" not in f.columns:
                continue
            gn = f.get("given_name", pd.Series("", index=f.index)).fillna("").astype(str)
            fn = f.get("family_name", pd.Series("", index=f.index)).fillna("").astype(str)
            full = (gn + " " + fn).str.strip()
            names.update({str(p): n for p, n in zip(f["person_id"], full) if n})
        if not self.full:
            names = {k: v for k, v in names.items() if self.subject is not None and k == str(self.subject)}
        return View(self.role, self.secret, self.small, self.grid_m, names, self.subject)


# ---------------------------------------------------------------- period and data

@dataclass(frozen=True)
class Period:
    """A reporting period [start, end] of whole days, UTC."""

    start: pd.Timestamp
    end: pd.Timestamp  # inclusive day

    @classmethod
    def parse(cls, start: str | _dt.date, end: str | _dt.date) -> "Period":
        s = pd.Timestamp(start)
        e = pd.Timestamp(end)
        s = s.tz_localize("UTC") if s.tzinfo is None else s.tz_convert("UTC")
        e = e.tz_localize("UTC") if e.tzinfo is None else e.tz_convert("UTC")
        if e < s:
            raise PackError(f"--to {end} is before --from {start}")
        return cls(s.normalize(), e.normalize())

    @property
    def stop(self) -> pd.Timestamp:
        return self.end + pd.Timedelta(days=1)

    def contains(self, t: pd.Series) -> pd.Series:
        t = _utc(t)
        return (t >= self.start) & (t < self.stop)

    def label(self) -> str:
        return f"{self.start:%d %b %Y} to {self.end:%d %b %Y}"


FRAMES = ("children", "persons", "episodes", "return_interviews", "education", "place_events", "premises",
          "intelligence", "links", "areas")
RESULTS = tuple(r.name for r in (R.AREA_HOTSPOTS_WARD, R.AREA_HOTSPOTS_LSOA, R.FOUND_AT_CLUSTERS,
                                  R.PREMISES_OF_CONCERN, R.AREA_TRENDS, R.CO_MISSING_GROUPS,
                                  R.BRIDGING_PERSONS))


def load_pack_data(store: StoreLike, frames: Iterable[str] = FRAMES, results: Iterable[str] = RESULTS) -> dict:
    """Frames and analysis results from a store (``geo.storage.store.Store``); absent ones are left out."""
    data: dict = {}
    from geo.storage.store import StoreError

    # one call: the frames share the episodes, return interviews, geocodes and identity tables,
    # each read once (the place events are made from the episodes and interviews already read)
    data.update(store.frames(list(frames)))
    data["mase_areas"] = store.table("mase_areas")      # every migrated store has the table
    for name in results:
        try:
            data[name] = store.read_result(name)
        except StoreError:      # not analysed yet: the pack says which analysis to run
            continue
    try:                        # the period each stored analysis covered (for the headings)
        import sqlalchemy as sa

        from geo.storage import schema
        rows = store.read_sql(sa.select(schema.results.c.name, schema.results.c.params))
        data["_result_params"] = {n: json.loads(p_ or "{}") for n, p_ in zip(rows["name"], rows["params"])}
    except Exception:  # noqa: BLE001 - headings then say "its own period"
        data["_result_params"] = {}
    from maps.cse_packs import add_cse_data
    return add_cse_data(store, data)


def analysis_period(data: dict, name: str) -> str:
    """The period a stored analysis result covered, in words for a heading."""
    p = (data.get("_result_params") or {}).get(name) or {}
    a, b = p.get("from"), p.get("to")
    if a or b:
        return f"analysis period {a or 'the first episode'} to {b or 'the last episode'}"
    return "analysis period: every stored episode" if name in (data.get("_result_params") or {}) else \
        "the last analysis run's own period"


def _utc(t) -> pd.Series:
    s = pd.to_datetime(t, errors="coerce", utc=True)
    return s


def _frame(data: dict, name: str) -> pd.DataFrame:
    f = data.get(name)
    if f is None:
        return pd.DataFrame()
    if isinstance(f, list):
        return pd.DataFrame(f)
    return f


def _groups(data: dict) -> list[dict]:
    g = data.get(R.CO_MISSING_GROUPS.name)
    if g is None:
        return []
    if isinstance(g, pd.DataFrame):
        recs = g.to_dict("records")
    else:
        recs = list(g)
    out = []
    for r in recs:
        r = dict(r)
        for k in ("members", "shared_places", "shared_adults"):
            v = r.get(k)
            if isinstance(v, np.ndarray):
                r[k] = v.tolist()
            elif isinstance(v, str):
                try:
                    r[k] = json.loads(v)
                except ValueError:
                    r[k] = [x for x in v.split(";") if x]
            elif v is None:
                r[k] = []
        out.append(r)
    return out


# ---------------------------------------------------------------- figures (MOG)

def period_episodes(episodes: pd.DataFrame, period: Period) -> pd.DataFrame:
    if episodes.empty:
        return episodes
    return episodes[period.contains(episodes["reported_at"])].copy()


def rhi_timeliness(episodes: pd.DataFrame, rhis: pd.DataFrame, period: Period) -> pd.DataFrame:
    """Per month of return: returns, RHIs offered, held, held within 72 hours of the return, and
    outcomes. Episodes are the missing episodes of ``period`` returned by its end (the scorecard's
    returned_missing_episodes; an interview follows
    a missing episode: absent and away are not in the base); an RHI is matched by episode_key."""
    cols = ["month", "returns", "offered", "held", "within_72h", "engaged", "declined", "no_engagement"]
    ep = period_episodes(episodes, period)
    if "category" in ep.columns:
        ep = ep[ep["category"] == "missing"]
    if ep.empty:
        return pd.DataFrame(columns=cols)
    returned = _utc(ep["returned_at"])
    ep = ep[(returned.notna() & (returned <= contract_period(period).as_of)).to_numpy()].copy()
    ep["returned"] = _utc(ep["returned_at"])
    r = rhis if not rhis.empty else pd.DataFrame(columns=["episode_key", "offered_at", "held_at", "outcome"])
    r = r.sort_values("held_at", na_position="last").drop_duplicates("episode_key")
    m = ep.merge(r[["episode_key", "offered_at", "held_at", "outcome"]], on="episode_key", how="left")
    held = _utc(m["held_at"])
    m["is_offered"] = m["outcome"].notna() & (m["outcome"] != "not_offered")   # the contract's rule
    m["is_held"] = held.notna()
    gap = held - m["returned"]
    m["in_72h"] = held.notna() & (gap >= pd.Timedelta(0)) & (gap <= pd.Timedelta(hours=RHI_HOURS))
    m["month"] = m["returned"].dt.strftime("%Y-%m")
    out = m.groupby("month").agg(returns=("episode_key", "size"), offered=("is_offered", "sum"),
                                 held=("is_held", "sum"), within_72h=("in_72h", "sum"),
                                 engaged=("outcome", lambda s: int((s == "engaged").sum())),
                                 declined=("outcome", lambda s: int((s == "declined").sum())),
                                 no_engagement=("outcome", lambda s: int((s == "no_engagement").sum())))
    return out.reset_index()[cols]


def contract_period(period: Period):
    """The pack's days as the contract's reporting period (``geo.periods.Period``: London days,
    as of the end), so a pack's figures equal ``wayfinder scorecard mog --from --to``."""
    from geo.periods import Period as ReportingPeriod
    return ReportingPeriod.parse(period.start.date(), period.end.date())


def person_view(data: dict) -> pd.DataFrame:
    """The best view of each person (``geo.meetings.person_view``), computed once per pack data."""
    pv = data.get("_person_view")
    if pv is None:
        from geo.meetings.person_view import person_view as _pv
        ch = _frame(data, "children")
        pv = _pv(ch if len(ch) else pd.DataFrame(columns=["person_id"]))
        data["_person_view"] = pv
    return pv


def mog_card(data: dict, period: Period) -> dict:
    """``geo.meetings.scorecards.mog_scorecard`` for the pack's period, as of its end (the dict the CLI
    and the API serve)."""
    from geo.meetings import scorecards as sc

    ep_all = _frame(data, "episodes")
    rh = _frame(data, "return_interviews")
    if rh.empty:
        rh = pd.DataFrame(columns=["episode_key", "offered_at", "held_at", "outcome"])
    p = contract_period(period)
    return sc.mog_scorecard(ep_all, _frame(data, "children"), rh, p.start, p.end,
                            as_of=p.as_of, view=person_view(data))


def mog_scorecard(data: dict, period: Period, view: View | None = None) -> list[tuple[str, object, str]]:
    """MOG figures for the period as (label, value, note) rows: each row is one key of
    ``geo.meetings.scorecards.mog_scorecard`` (the contract's definitions, the dict the CLI and the API
    serve; the note says the base of each percentage). Values are raw counts (the table shows
    them through ``view.count``); the percentages are those ``view`` may see: for
    non-analysts the API's small-base suppression (``geo.disclosure.suppress_scorecard``) gives
    ``"n/a (<5)"`` over a base of 1-4 or for a share implying a count of 1-4. Without ``view``:
    unminimised (analyst) figures."""
    d = mog_card(data, period)
    shown = d if view is None else view.scorecard(d)

    def pct(key):
        v = shown.get(key)
        if v is None:
            return "n/a (no base)"
        return v if isinstance(v, str) else f"{v:.0f}%"

    as_of = pd.Timestamp(d["period"]["as_of"]).tz_convert("Europe/London")
    rows: list[tuple[str, object, str]] = [
        ("Missing episodes", d["missing_episodes"], "category missing, reported in the period"),
        ("Absent episodes (beside missing, not in it)", d["absent_episodes"],
         "intelligence only: no search, no MASH referral"),
        ("Away without authorisation episodes (beside missing)", d["away_episodes"],
         "looked-after children whose whereabouts were known"),
        ("Children missing", d["missing_children"], "children with a missing episode in the period"),
        ("Children missing more than once", d["repeat_missing_children"],
         f"repeat rate {pct('repeat_missing_pct')} of children missing"),
        ("Children persistently missing (more than 3)", d["persistent_missing_children"],
         "missing episodes in the period; triggers intensive support"),
        ("First-time missing children", d["first_time_missing_children"],
         "first missing episode on record in the period"),
        ("Missing episodes of children in care", d["missing_episodes_looked_after"],
         "care status cic (best view of each child)"),
        ("Missing episodes of children in care over 48 hours", d["missing_over_48h_looked_after"],
         "notify the director of children's services"),
        ("Missing episodes over 72 hours", d["missing_over_72h"], "strategy meeting within 5 working days"),
        ("Missing episodes rated red by the MASH", d["missing_episodes_rag_red"],
         "strategy meeting within 4 hours"),
    ]
    for pt, v in sorted(d.get("missing_episodes_by_placement_type", {}).items(), key=lambda kv: -kv[1]):
        rows.append((f"  missing episodes, placement {pt.replace('_', ' ')}", int(v), ""))
    rows += [
        ("Returned missing episodes", d["returned_missing_episodes"],
         f"returned by {as_of:%d %b %Y %H:%M}: the base of the interview figures"),
        ("RHIs offered", d["rhi_offered_episodes"], pct("rhi_offered_pct") + " of returned missing episodes"),
        ("RHIs held within 72 hours of return", d["rhi_held_within_72h_episodes"],
         pct("rhi_held_within_72h_pct") + " of returned missing episodes"),
        ("RHIs where the child engaged", d["rhi_engaged_episodes"], pct("rhi_engaged_pct") + " of RHIs offered"),
        ("Children missing now", d["missing_now"], f"as of {as_of:%d %b %Y %H:%M}; open records followed "
         "by a later episode are not counted"),
        ("Open records not cleared", d["stale_open_episodes"],
         "no return recorded though the child has a later episode (data quality)"),
    ]
    return rows


def out_of_area(data: dict, period: Period, host: str = "birmingham") -> pd.DataFrame:
    """Children placed here by other authorities who had a missing episode in the period, by
    responsible authority (best view of each child, ``geo.meetings.person_view``)."""
    cols = ["responsible_authority", "children", "episodes"]
    ep = period_episodes(_frame(data, "episodes"), period)
    pv = person_view(data)
    if ep.empty or "responsible_authority" not in pv.columns:
        return pd.DataFrame(columns=cols)
    ep = ep[ep["category"] == "missing"] if "category" in ep.columns else ep
    ra = pv["responsible_authority"].dropna().astype(str)
    ra = ra[~ra.str.strip().str.lower().str.contains(host.lower()) & (ra.str.strip() != "")]
    e = ep[ep["person_id"].isin(ra.index)].assign(responsible_authority=lambda d: d["person_id"].map(ra))
    if e.empty:
        return pd.DataFrame(columns=cols)
    out = e.groupby("responsible_authority").agg(children=("person_id", "nunique"), episodes=("episode_key", "size"))
    return out.reset_index().sort_values(["children", "episodes"], ascending=False)[cols]


def worrying_cases(data: dict, period: Period, n: int = 6) -> pd.DataFrame:
    """The ``n`` most worrying children as at the end of the period, with reasons: the points score
    of ``geo.meetings.scorecards.worrying_cases`` (the one the API serves) over a window of the period's
    length, as of the period's end. Returns person_id, score, episodes, reasons (list),
    last_reported."""
    from geo.meetings import scorecards as sc

    cols = ["person_id", "score", "episodes", "reasons", "last_reported"]
    ep = _frame(data, "episodes")
    if ep.empty:
        return pd.DataFrame(columns=cols)
    ch = _frame(data, "children")
    rh = _frame(data, "return_interviews")
    if rh.empty:
        rh = pd.DataFrame(columns=["episode_key", "held_at"])
    if ch.empty:
        ch = pd.DataFrame(columns=["person_id"])
    days = max(1, int((period.stop - period.start).days))
    rows = sc.worrying_cases(ep, ch, rh, now=contract_period(period).as_of, n=n, window_days=days,
                             view=person_view(data))
    return pd.DataFrame(rows, columns=cols)


def monthly_counts(episodes: pd.DataFrame, period: Period) -> pd.DataFrame:
    ep = period_episodes(episodes, period)
    if ep.empty:
        return pd.DataFrame(columns=["month"])
    ep = ep.assign(month=_utc(ep["reported_at"]).dt.strftime("%Y-%m"))
    t = ep.pivot_table(index="month", columns="category", values="episode_key", aggfunc="size", fill_value=0)
    return t.reset_index()


# ---------------------------------------------------------------- HTML pieces

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2327;background:#fff}
header.pack{background:#243b53;color:#fff;padding:14px 24px}
header.pack h1{margin:0;font-size:22px} header.pack p{margin:4px 0 0;opacity:.9}
main{padding:8px 24px 24px;max-width:1200px}
section{margin:18px 0;page-break-inside:avoid}
h2{font-size:18px;border-bottom:2px solid #243b53;padding-bottom:3px}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}
th,td{border:1px solid #ccd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef2f6} td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555;font-size:12px} .warn{color:#8a1c1c}
.badge{display:inline-block;border-radius:3px;padding:0 5px;font-size:12px;background:#eee;margin:1px}
.map{width:100%;height:520px;border:1px solid #99a} .net{width:100%;height:480px;border:1px solid #99a}
.marking{font-weight:bold;letter-spacing:.05em}
footer{font-size:11px;color:#555;padding:12px 24px;border-top:1px solid #ddd}
@media print{.map,.net{height:420px} section{page-break-inside:avoid} header.pack{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""


def _table(df: pd.DataFrame, columns: Sequence[tuple[str, str]], num: Iterable[str] = (),
           fmt: dict[str, Callable[[object], str]] | None = None, empty: str = "None in the period.") -> str:
    if df is None or len(df) == 0:
        return f"<p class='note'>{esc(empty)}</p>"
    fmt = fmt or {}
    num = set(num)
    head = "".join(f"<th>{esc(label)}</th>" for _, label in columns)
    body = []
    for _, r in df.iterrows():
        cells = []
        for col, _ in columns:
            v = r.get(col)
            txt = fmt[col](v) if col in fmt else esc(_plain(v))
            cells.append(f"<td class='num'>{txt}</td>" if col in num else f"<td>{txt}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _plain(v: object) -> str:
    if v is None or v is pd.NaT or (isinstance(v, (float, np.floating)) and math.isnan(v)):
        return ""
    if isinstance(v, str) and v.strip().lower() in ("nan", "nat", "none"):
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else (f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}")
    if isinstance(v, pd.Timestamp):
        return "" if pd.isna(v) else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, (list, tuple, np.ndarray)):
        return "; ".join(map(str, v))
    return str(v)


def svg_bars(labels: Sequence[str], series: dict[str, Sequence[float]], title: str = "",
             width: int = 760, height: int = 220) -> str:
    """A stacked bar chart as inline SVG (prints, needs no script)."""
    colours = ["#b2182b", "#ef8a62", "#67a9cf", "#2166ac", "#999999"]
    n = len(labels)
    if n == 0:
        return "<p class='note'>No episodes in the period.</p>"
    totals = np.zeros(n)
    for v in series.values():
        totals += np.asarray(v, dtype=float)
    top = max(float(totals.max()), 1.0)
    pad_l, pad_b, pad_t = 40, 40, 20
    bw = (width - pad_l - 10) / n
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
             f"aria-label='{esc(title)}' style='font:11px sans-serif'>"]
    scale = (height - pad_b - pad_t) / top
    base = np.zeros(n)
    for k, (name, vals) in enumerate(series.items()):
        col = colours[k % len(colours)]
        for i, v in enumerate(vals):
            h = float(v) * scale
            y = height - pad_b - base[i] * scale - h
            parts.append(f"<rect x='{pad_l + i * bw + 1:.1f}' y='{y:.1f}' width='{max(bw - 2, 1):.1f}' "
                         f"height='{h:.1f}' fill='{col}'><title>{esc(labels[i])} {esc(name)}: {int(v)}</title></rect>")
        base += np.asarray(vals, dtype=float)
    for i, lab in enumerate(labels):
        if n <= 24 or i % max(1, n // 12) == 0:
            parts.append(f"<text x='{pad_l + i * bw + bw / 2:.1f}' y='{height - pad_b + 14}' "
                         f"text-anchor='middle'>{esc(lab)}</text>")
    parts.append(f"<text x='4' y='{pad_t - 6}'>max {int(top)}</text>")
    parts.append(f"<line x1='{pad_l}' y1='{height - pad_b}' x2='{width - 10}' y2='{height - pad_b}' stroke='#333'/>")
    x = pad_l
    for k, name in enumerate(series):
        parts.append(f"<rect x='{x}' y='{height - 16}' width='10' height='10' fill='{colours[k % len(colours)]}'/>"
                     f"<text x='{x + 14}' y='{height - 7}'>{esc(name.replace('_', ' '))}</text>")
        x += 14 + 7 * len(name) + 16
    parts.append("</svg>")
    return "".join(parts)


def map_frame(m, title: str, height: int = 520) -> str:
    """A folium map embedded as an iframe ``srcdoc`` (self-contained, vendored JS inlined)."""
    doc = layers.map_html(m, mode="inline")
    return (f"<iframe class='map' title='{esc(title)}' style='height:{height}px' "
            f"srcdoc=\"{_html.escape(doc, quote=True)}\"></iframe>")


def page(title: str, subtitle: str, body: str, view: View, scripts: Sequence[str] = ()) -> str:
    marking = "OFFICIAL-SENSITIVE" + ("" if view.full else " (minimised for role: " + view.role + ")")
    made = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    js = "".join(assets.script_tag(s) for s in scripts)
    html = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><style>{_CSS}</style>{js}</head>"
            f"<body><header class='pack'><div class='marking'>{esc(marking)}</div><h1>{esc(title)}</h1>"
            f"<p>{esc(subtitle)}</p></header><main>{body}</main>"
            f"<footer>Produced by Wayfinder {made} for role {esc(view.role)}. Intelligence is shown with its "
            f"3x5x2 grading and is never presented as fact. {assets.ATTRIBUTION}</footer></body></html>")
    assets.check_offline(html)
    return html


ANALYSIS_NOTE = ("<p class='note'>Hot spots, clusters and premises of concern are the stored results of the "
                 "last <code>wayfinder analyse</code> run (its own period); counts of episodes in tables "
                 "are for the analysis period.</p>")


def _section(title: str, inner: str, sid: str = "") -> str:
    return f"<section id='{esc(sid)}'><h2>{esc(title)}</h2>{inner}</section>"


def _missing(data: dict, names: Sequence[str]) -> str:
    gone = [n for n in names if data.get(n) is None]
    if not gone:
        return ""
    return (f"<p class='note warn'>Not available: {esc(', '.join(gone))} (run <code>wayfinder analyse</code> / "
            f"<code>wayfinder network</code>).</p>")


def _case_events(events: pd.DataFrame, view: View) -> pd.DataFrame:
    """Place events a role may see: exact for analysts, snapped to the grid otherwise, no texts."""
    if events is None or events.empty:
        return pd.DataFrame()
    ev = events.dropna(subset=["easting", "northing"]).copy()
    if not view.full:
        ev["easting"], ev["northing"] = view.snap(ev["easting"], ev["northing"])
        ev["text"] = ""
    return ev


# ---------------------------------------------------------------- network view (Cytoscape)

_NODE_COLOURS = {"child": "#d6604d", "person": "#4393c3", "place": "#999999", "premises": "#f4a582",
                 "vehicle": "#762a83"}


def network_graph(data: dict, period: Period | None = None):
    """The person-place graph of the frames in ``data`` as tables
    (``network.graph.person_place_tables``, built once per data dict: several packs, one graph)."""
    from network.graph import person_place_tables

    if data.get("_graph") is not None:
        return data["_graph"]
    data["_graph"] = person_place_tables(
        children=data.get("children"), persons=data.get("persons"), episodes=data.get("episodes"),
        return_interviews=data.get("return_interviews"), place_events=data.get("place_events"),
        premises=data.get("premises"), intelligence=data.get("intelligence"), links=data.get("links"))
    return data["_graph"]


def ego_graphs(data: dict, centres: list, depth: int = 2):
    """The 2-step ego networks of ``centres`` (node ids of the graph), composed: each is
    ``network.measures.ego_network`` of the graph, computed on the networkx graph of only the
    nodes within ``depth`` steps of the centres (the same ego networks; a national graph in
    networkx is gigabytes)."""
    import networkx as nx
    from network.measures import ego_network

    T = network_graph(data)
    G = T.to_networkx(T.within(centres, depth))
    return nx.compose_all([ego_network(G, c, depth=depth) for c in centres])


def cytoscape_elements(G, view: View, max_nodes: int = 200, centre: str | None = None) -> dict:
    """Cytoscape.js elements of a (sub)graph with role minimisation: pseudonyms for children and
    adults, place labels and children's homes (restricted edges) for analysts only; intelligence
    edges marked with their grading."""
    from network.graph import edge_list
    nodes, edges = [], []
    if centre is not None and centre in G:
        order = sorted(G.nodes, key=lambda x: (x != centre, G.nodes[x].get("hops", 0), str(x)))
    else:
        order = list(G.nodes)
    keep = order[:max_nodes]
    keep_set = set(keep)

    def nid(n) -> str:  # node ids never carry a person id or record key to a minimised view
        if view.full:
            return str(n)
        kind = G.nodes[n].get("kind")
        if kind in ("child", "person"):
            return view.pseudonym(n, "child" if kind == "child" else "adult")
        return "N-" + view.pseudonym(n, "node")[2:]

    for n in keep:
        d = G.nodes[n]
        kind = d.get("kind", "place")
        if kind in ("child", "person"):
            label = view.who(n, "child" if kind == "child" else "adult")
            if view.full and d.get("label") and d.get("label") != n:
                label = f"{d.get('label')} ({n})"
        else:
            if kind == "place" and d.get("restricted") and not view.full:
                continue
            # places and vehicle registrations for analysts only (geo.disclosure, as the API)
            label = str(d.get("label") or n) if view.full else disclosure.node_label(kind, d.get("label") or n)
        nodes.append({"data": {"id": nid(n), "label": label, "kind": kind, "centre": n == centre,
                               "role": d.get("role") or ""}})
    present = {x["data"]["id"] for x in nodes}
    for i, (u, v, k, d) in enumerate(G.edges(keys=True, data=True)):
        if u not in keep_set or v not in keep_set or nid(u) not in present or nid(v) not in present:
            continue
        if d.get("restricted") and not view.full:
            continue
        rel = str(d.get("relation") or k)
        grading = ", ".join(sorted(set(map(str, edge_list(G, d, "gradings")))))
        label = rel + (f" [intelligence {grading}]" if d.get("intelligence") else "")
        edges.append({"data": {"id": f"e{i}", "source": nid(u), "target": nid(v), "label": label,
                               "relation": rel, "intelligence": bool(d.get("intelligence")),
                               "count": int(d.get("count") or 1)}})
    return {"nodes": nodes, "edges": edges}


def network_div(elements: dict, div_id: str, caption: str = "") -> str:
    """A Cytoscape.js view (cytoscape inlined once per page by :func:`page`)."""
    data = json.dumps(elements).replace("</", "<\\/")
    style = json.dumps([
        {"selector": "node", "style": {"label": "data(label)", "font-size": 9, "width": 16, "height": 16,
                                       "background-color": "#999"}},
        *[{"selector": f"node[kind = '{k}']", "style": {"background-color": c}} for k, c in _NODE_COLOURS.items()],
        {"selector": "node[?centre]", "style": {"width": 28, "height": 28, "border-width": 3, "border-color": "#000"}},
        {"selector": "edge", "style": {"width": 1.5, "line-color": "#bbb", "curve-style": "bezier",
                                       "label": "data(relation)", "font-size": 7, "color": "#666"}},
        {"selector": "edge[?intelligence]", "style": {"line-style": "dashed", "line-color": "#762a83"}},
    ])
    n = len(elements.get("nodes", []))
    legend = " ".join(f"<span class='badge' style='background:{c}'>{k}</span>" for k, c in _NODE_COLOURS.items())
    return (f"<div id='{div_id}' class='net' role='img' aria-label='network view'></div>"
            f"<p class='note'>{legend} dashed = intelligence (graded, not fact). {n} nodes. {esc(caption)}</p>"
            f"<script>(function(){{var el={data};if(!el.nodes.length){{document.getElementById('{div_id}')"
            f".textContent='No links recorded.';return;}}window['{div_id}']=cytoscape({{container:document."
            f"getElementById('{div_id}'),elements:el,style:{style},layout:{{name:'cose',animate:false,"
            f"randomize:false}}}});}})();</script>")


# ---------------------------------------------------------------- the packs

def mog_pack(data: dict, period: Period, view: View | None = None, tile_url: str | None = None) -> str:
    """Missing Operational Group pack: scorecard, trends, ward hotspot map, the six most worrying
    cases with reasons, RHI timeliness, children placed from out of area. Without ``view``, the
    minimised view of the mog_member role."""
    view = (view or View(DEFAULT_ROLE["mog"])).with_names(data.get("children"), data.get("persons"))
    episodes = _frame(data, "episodes")
    parts = []
    sc = pd.DataFrame(mog_scorecard(data, period, view), columns=["figure", "value", "note"])
    parts.append(_section(f"Scorecard ({period.label()})", _table(
        sc, [("figure", "Figure"), ("value", "Value"), ("note", "Note")], num=["value"],
        fmt={"value": view.count}), "scorecard"))
    mc = monthly_counts(episodes, period)
    series = {str(c).replace("_", " "): mc[c].tolist() for c in mc.columns if c != "month"}
    trend_html = svg_bars(mc["month"].tolist() if len(mc) else [], series, "Episodes per month")
    trends = _frame(data, R.AREA_TRENDS.name)
    if not trends.empty and "category" in trends.columns:
        names = _area_names(data)
        t = trends.drop_duplicates("area_code").copy()
        t["area"] = t["area_code"].map(lambda c: names.get(c, c))
        t["mk_q"] = bh_qvalues(pd.to_numeric(t["mk_p"], errors="coerce").fillna(1.0).to_numpy())
        rising = t[(pd.to_numeric(t["mk_tau"], errors="coerce") > 0) & (t["mk_q"] < 0.05)]
        trend_html += ("<h3>Wards with a rising monthly trend (Mann-Kendall, FDR q &lt; 0.05)</h3>"
                       + _table(rising.sort_values("mk_q"),
                                [("area", "Ward"), ("mk_tau", "tau"), ("mk_p", "p"), ("mk_q", "q (FDR)")],
                                num=["mk_tau", "mk_p", "mk_q"],
                                empty="No ward with a significant rising trend."))
        cat = t["category"].astype(str)
        emerging = t[cat.str.contains("new|consecutive|intensifying|persistent|sporadic|oscillating",
                                      case=False, na=False) & ~cat.str.startswith("cold")]
        trend_html += ("<h3>Emerging hot spots (ArcGIS space-time categories)</h3>"
                       + _table(emerging, [("area", "Ward"), ("category", "Category")],
                                empty="No emerging hot spot ward."))
    parts.append(_section(f"Trends (episodes per month: {period.label()}; ward trends: "
                          f"{analysis_period(data, R.AREA_TRENDS.name)})", trend_html, "trends"))
    hs = data.get(R.AREA_HOTSPOTS_WARD.name)
    if hs is not None and len(hs):
        m = layers.hotspot_map(hs, boundaries=_boundaries(data), count=view.count, tile_url=tile_url)
        hot = hs[pd.to_numeric(hs["gi_bin"], errors="coerce") > 0].sort_values("gi_z", ascending=False)
        hot = hot.assign(confidence=pd.to_numeric(hot["gi_bin"]).map(GI_BIN_LABELS))
        inner = map_frame(m, "Ward hotspot map") + "<h3>Hot spot wards</h3>" + _table(
            hot, [("area_name", "Ward"), ("episodes", "Episodes"), ("children", "Children"), ("gi_z", "Gi* z"),
                  ("confidence", "Gi* class (permutation q, FDR)"), ("gi_p", "permutation p"),
                  ("gi_q", "permutation q (FDR)")], num=["episodes", "children", "gi_z", "gi_p", "gi_q"],
            fmt={"episodes": view.count, "children": view.count}, empty="No hot spot ward at FDR q < 0.10.") + f"<p class='note'>{esc(GI_TEST)}.</p>"
    else:
        inner = _missing(data, [R.AREA_HOTSPOTS_WARD.name])
    parts.append(_section(f"Ward hot spots (Getis-Ord Gi*; {analysis_period(data, R.AREA_HOTSPOTS_WARD.name)})",
                          inner + ANALYSIS_NOTE, "hotspots"))
    wc = worrying_cases(data, period)
    if len(wc):
        wc = wc.assign(child=wc["person_id"].map(lambda p: view.who(p)),
                       why=wc["reasons"].map(lambda r: "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in r) + "</ul>"
                                             if isinstance(r, (list, tuple, np.ndarray)) else esc(r)))
        wc.insert(0, "rank", range(1, len(wc) + 1))
    parts.append(_section(f"The six most worrying cases (as of the end of {period.label()})", _table(
        wc, [("rank", "#"), ("child", "Child"), ("episodes", "Episodes"), ("score", "Score"), ("why", "Reasons")],
        num=["episodes", "score"], fmt={"why": lambda v: v, "episodes": view.count}) +
        "<p class='note'>Score: points for the red indicators (geo.meetings.scorecards.worrying_cases, the same "
        "ranking the API serves); reasons are listed for each child.</p>", "worrying"))
    t = rhi_timeliness(episodes, _frame(data, "return_interviews"), period)
    if len(t):
        tot = t[["returns", "offered", "held", "within_72h", "engaged", "declined", "no_engagement"]].sum()
        t = pd.concat([t, pd.DataFrame([{"month": "All", **tot.to_dict()}])], ignore_index=True)
        t["held_72h_pct"] = [view.pct(a, b) for a, b in zip(t["within_72h"], t["held"])]
        t["offered_pct"] = [view.pct(a, b) for a, b in zip(t["offered"], t["returns"])]
    cnt = {c: view.count for c in ("returns", "offered", "held", "within_72h", "engaged", "declined", "no_engagement")}
    parts.append(_section(f"Return home interviews: timeliness ({period.label()})", _table(
        t, [("month", "Month of return"), ("returns", "Returns"), ("offered", "Offered"), ("offered_pct", "% offered"),
            ("held", "Held"), ("within_72h", "Held within 72 h"), ("held_72h_pct", "% of held within 72 h"),
            ("engaged", "Engaged"), ("declined", "Declined"), ("no_engagement", "Did not engage")],
        num=list(cnt) + ["offered_pct", "held_72h_pct"], fmt=cnt), "rhi"))
    parts += mog_extra_sections(data, period, view)
    return page("MOG pack: Missing Operational Group", period.label(), "".join(parts), view)


def mog_extras(data: dict, period: Period) -> dict:
    """``geo.meetings.mog_extras.mog_extras`` for the pack's period as of its end (the CLI's and API's)."""
    from geo.meetings.mog_extras import mog_extras as _extras

    p = contract_period(period)
    rh = _frame(data, "return_interviews")
    if rh.empty:
        rh = pd.DataFrame(columns=["episode_key", "offered_at", "held_at", "outcome", "push_factors",
                                   "pull_factors", "issues"])
    return _extras(_frame(data, "episodes"), _frame(data, "children"), rh, p.start, p.end, p.as_of,
                   education=data.get("education"), view=person_view(data))


def _words(v: object) -> str:
    """A vocabulary value or ``;`` list as words (no raw field names where a person reads)."""
    return "; ".join(str(x).replace("_", " ") for x in str(v or "").split(";") if x)


def mog_extra_sections(data: dict, period: Period, view: View) -> list[str]:
    """The MOG's other tables (geo.meetings.mog_extras), each headed with its period: children's homes
    (roles that may see homes only), out of area both ways, first-time missing, more than one
    setting, RHI themes, children missing education, data quality."""
    x = mog_extras(data, period)
    label = period.label()
    out = []
    cnt = view.count
    cats = [("missing_episodes", "Missing"), ("absent_episodes", "Absent"), ("away_episodes", "Away"),
            ("children", "Children")]
    if view.full:
        homes = pd.DataFrame(x["by_establishment"])
        inner = _table(homes, [("establishment", "Children's home")] + cats, num=[c for c, _ in cats],
                       empty="No episodes of children in a named home in the period.")
    else:
        inner = ("<p class='note'>Children's homes are restricted: the per-home table is given to analysts "
                 "only (the placements rule of the API).</p>")
    out.append(_section(f"Episodes per children's home ({label})", inner, "homes"))
    o = x["out_of_area"]
    pin = pd.DataFrame(o["placed_in_list"])
    if len(pin):
        pin = pin.assign(child=pin["person_id"].map(view.who), settings=pin["settings"].map(_words),
                         first=pd.to_datetime(pin["first_reported"]).dt.strftime("%d %b"),
                         last=pd.to_datetime(pin["last_reported"]).dt.strftime("%d %b"))
    host = pd.DataFrame([{"host": k, **v} for k, v in o["placed_out_by_host"].items()])
    share = o["placed_out_pct"]
    share_txt = view.pct(o["placed_out_children"], o["looked_after_children_known_placement"])
    ooa = out_of_area(data, period)
    out.append(_section(f"Children placed from out of area, and the city's children placed elsewhere ({label})",
        "<h3>Children placed in the city by other authorities, by responsible authority</h3>"
        + _table(ooa, [("responsible_authority", "Responsible authority"), ("children", "Children"),
                       ("episodes", "Missing episodes")],
                 num=["children", "episodes"], fmt={"children": cnt, "episodes": cnt})
        + "<h3>Children placed in the city by other authorities: pattern per child</h3>"
        + _table(pin, [("child", "Child"), ("responsible_authority", "Responsible authority"),
                       ("missing_episodes", "Missing"), ("absent_episodes", "Absent"),
                       ("away_episodes", "Away"), ("first", "First"), ("last", "Last"), ("settings", "From")],
                 num=["missing_episodes", "absent_episodes", "away_episodes"],
                 fmt={c: cnt for c in ("missing_episodes", "absent_episodes", "away_episodes")},
                 empty="No child placed here by another authority had an episode in the period.")
        + "<h3>The city's own looked-after children placed elsewhere, by host authority</h3>"
        + f"<p>{esc(cnt(o['placed_out_children']))} of {esc(cnt(o['looked_after_children_known_placement']))} "
          f"looked-after children with a recorded placement authority are placed outside the city "
          f"({esc(share_txt if share is not None else 'n/a')}; the papers report 41%).</p>"
        + _table(host, [("host", "Host authority"), ("children", "Children placed there"),
                        ("children_missing", "Of whom missing in the period"),
                        ("missing_episodes", "Missing episodes")],
                 num=["children", "children_missing", "missing_episodes"],
                 fmt={c: cnt for c in ("children", "children_missing", "missing_episodes")},
                 empty="No placement authority recorded."), "out-of-area"))
    f = x["first_time"]
    ft = pd.DataFrame([
        ("Children missing for the first time", cnt(f["first_time_children"]), ""),
        ("Return interviews offered after the first episode", cnt(f["first_time_rhi_offered"]), ""),
        ("Of which the child engaged", cnt(f["first_time_rhi_engaged"]),
         view.pct(f["first_time_rhi_engaged"], f["first_time_rhi_offered"]) + " (papers: 34%)"),
        ("Went missing again by the end of the period", cnt(f["first_time_missing_again"]),
         view.pct(f["first_time_missing_again"], f["first_time_children"])
         + " (papers: 84% not missing again)"),
    ], columns=["figure", "value", "note"])
    out.append(_section(f"First-time missing children ({label})",
                        _table(ft, [("figure", "Figure"), ("value", "Value"), ("note", "Note")], num=["value"]),
                        "first-time"))
    ms = pd.DataFrame(x["multi_setting"])
    if len(ms):
        ms = ms.assign(child=ms["person_id"].map(view.who), settings=ms["settings"].map(_words),
                       last=pd.to_datetime(ms["last_reported"]).dt.strftime("%d %b %Y"),
                       sources=ms["sources"].map(_words))
    out.append(_section(f"Children missing from more than one setting ({label})", _table(
        ms, [("child", "Child"), ("settings", "Settings"), ("episodes", "Episodes"),
             ("missing_episodes", "Missing"), ("last", "Last reported"), ("sources", "Recorded by")],
        num=["episodes", "missing_episodes"], fmt={"episodes": cnt, "missing_episodes": cnt},
        empty="No child had episodes from more than one setting in the period."), "settings"))
    th = x["rhi_themes"]
    rows = []
    for col, what in (("push_factors", "Push factor"), ("pull_factors", "Pull factor"), ("issues", "Issue")):
        for k, v in th.get(col, {}).items():
            rows.append({"kind": what, "theme": k.replace("_", " "), "n": v,
                         "pct": view.pct(v, th["interviews_held"])})
    themes = pd.DataFrame(rows)
    by_month = th.get("issues_by_month", {})
    months = sorted(by_month)
    issues = sorted({i for m in by_month.values() for i in m})
    trend = svg_bars(months, {i.replace("_", " "): [by_month[m].get(i, 0) for m in months] for i in issues[:5]},
                     "Issues raised per month (return interviews held)") if months else ""
    out.append(_section(f"Return home interviews: push, pull and issues ({label})",
                        f"<p>{esc(cnt(th['interviews_held']))} interviews held after missing episodes of the period "
                        "(papers: mental health 25%, substance misuse 18%, CSE 12%, offending 6.5%).</p>"
                        + _table(themes, [("kind", "Kind"), ("theme", "Theme"), ("n", "Interviews"),
                                          ("pct", "% of interviews held")], num=["n", "pct"], fmt={"n": cnt},
                                 empty="No interview held.") + trend, "themes"))
    c = x["cme"]
    if c.get("records"):
        cm = pd.DataFrame([
            ("Children on a children-missing-education record in the period", cnt(c["cme_children_in_period"])),
            ("Of whom also missing in the period", cnt(c["cme_children_also_missing"])),
            ("CME records open at the end of the period", cnt(c["open_at_as_of"]["cme"])),
            ("Not in education, employment or training (CNES) open", cnt(c["open_at_as_of"]["cnes"])),
            ("Removed from roll, not located, open", cnt(c["open_at_as_of"]["removed_unlocated"])),
            ("Elective home education open", cnt(c["open_at_as_of"]["elective_home_education"])),
            ("Records started in the period", cnt(c["started_in_period"])),
            ("Records ended in the period", cnt(c["ended_in_period"])),
        ], columns=["figure", "value"])
        cme_html = _table(cm, [("figure", "Figure"), ("value", "Value")], num=["value"])
    else:
        cme_html = "<p class='note'>No education.csv records in the store.</p>"
    out.append(_section(f"Children missing education ({label})", cme_html, "cme"))
    out.append(_section(f"Data quality: records that do not agree (as of the end of {label})",
                        data_quality_table(data, period, view), "quality"))
    return out


def data_quality_table(data: dict, period: Period, view: View) -> str:
    """Counts per source of ``geo.meetings.data_quality`` findings as of the period's end."""
    from geo.meetings.data_quality import FINDINGS, quality_report

    rh = _frame(data, "return_interviews")
    ep = _frame(data, "episodes")
    if ep.empty:
        return "<p class='note'>No episodes.</p>"
    rep = quality_report(ep, _frame(data, "children"), rh, contract_period(period).as_of, view=person_view(data))
    labels = {"stale_open_episodes": "Open records followed by a later episode",
              "long_open_episodes": "Missing over 28 days with no later episode (check)",
              "unknown_children": "Episodes of a child with no child record",
              "rhi_after_next_episode": "Interviews held after the next episode",
              "disagreements": "Details that disagree between sources"}
    rows = [{"finding": labels[k], **{src: v[k] for src, v in rep["summary"].items()}, "all": rep["totals"][k]}
            for k in FINDINGS]
    srcs = list(rep["summary"])
    return _table(pd.DataFrame(rows), [("finding", "Finding")] + [(s_, s_.replace("_", " ")) for s_ in srcs]
                  + [("all", "All")], num=srcs + ["all"], fmt={c: view.count for c in srcs + ["all"]}) + (
        "<p class='note'>Stale open records are kept out of children missing now and the most worrying "
        "cases; analysts list them with <code>wayfinder quality</code>.</p>")


def cog_pack(data: dict, period: Period, view: View | None = None, tile_url: str | None = None) -> str:
    """CSE Operational Group pack: locations and premises of concern, adults of concern, co-missing
    groups, network view, licensing review candidates. Without ``view``: cog_member (minimised)."""
    view = (view or View(DEFAULT_ROLE["cog"])).with_names(data.get("children"), data.get("persons"))
    parts = []
    poc = concerning_premises(data, count=view.count)
    groups = _groups(data)
    ev = _frame(data, "place_events")
    if not ev.empty and "at" in ev.columns:
        ev = ev[period.contains(ev["at"])]
    m = layers.hotspot_map(data.get(R.AREA_HOTSPOTS_WARD.name), events=ev if view.full else None,
                           clusters=data.get(R.FOUND_AT_CLUSTERS.name), premises=poc if len(poc) else None,
                           groups=groups if view.full else None, boundaries=_boundaries(data),
                           exact_points=view.full, count=view.count, tile_url=tile_url,
                           register=data.get("premises"))
    clusters = _frame(data, R.FOUND_AT_CLUSTERS.name)
    inner = map_frame(m, "Hot spots, found-at clusters and premises") + _missing(
        data, [R.AREA_HOTSPOTS_WARD.name, R.FOUND_AT_CLUSTERS.name, R.PREMISES_OF_CONCERN.name])
    if len(clusters):
        inner += cluster_tables(data, clusters, poc, view)
    parts.append(_section("Locations of concern and found-at clusters", inner + ANALYSIS_NOTE, "locations"))
    pcols = [("rank", "#"), ("name", "Premises"), ("premises_type", "Type"), ("score", "Score"),
             ("children", "Children"), ("episodes", "Episodes"), ("intel", "Intelligence"), ("q_value", "q"),
             ("explanation", "Why")]
    cfmt = {"children": view.count, "episodes": view.count, "intel": view.count}
    parts.append(_section("Premises of concern", _table(poc, pcols, num=["score", "children", "episodes", "intel",
                                                                         "q_value"], fmt=cfmt,
                                                        empty="No premises with evidence in the period "
                                                              "(or analysis not run)."),
                          "premises"))
    parts.append(_section("Adults of concern", adults_table(data, view), "adults"))
    if groups:
        g = pd.DataFrame(groups)
        g["who"] = g["members"].map(lambda ms: ", ".join(view.who(x) for x in ms))
        g["size"] = g["members"].map(len)
        g["places"] = g["shared_places"].map(lambda ps: "; ".join(map(str, ps)) if view.full else
                                             f"{len(ps)} shared place(s)")
        gtab = _table(g, [("group_id", "Group"), ("size", "Members"), ("who", "Children"),
                          ("co_episodes", "Episodes together"), ("first", "First"), ("last", "Last"),
                          ("places", "Shared places")], num=["size", "co_episodes"],
                      fmt={"first": lambda v: esc(layers._day(v)), "last": lambda v: esc(layers._day(v))})
        gtab += ("<p class='note'>Groups who run away together: keep a separate record and plan for each child "
                 "(strategy meetings).</p>")
    else:
        gtab = _missing(data, [R.CO_MISSING_GROUPS.name]) or "<p class='note'>No co-missing groups.</p>"
    parts.append(_section("Co-missing groups", gtab, "groups"))
    parts.append(_section("Network view", cog_network(data, view), "network"))
    from maps.cse_packs import cse_section
    parts.append(_section("CSE scorecard", cse_section(data, period, view), "cse"))
    parts.append(_section("Licensing review candidates", licensing_candidates_table(data, view), "licensing"))
    return page("COG pack: CSE Operational Group", period.label(), "".join(parts), view,
                scripts=["vendor/cytoscape.min.js"])


def cluster_tables(data: dict, clusters, poc: pd.DataFrame, view: View) -> str:
    """Found-at clusters in two tables: locations of concern (significant after FDR, q < 0.05,
    ``geo.stats.clusters.is_location_of_concern``) and the other clusters, descriptive only."""
    from geo.stats.clusters import CONCERN_Q, SCAN_MODEL, is_location_of_concern

    cl = pd.DataFrame(clusters.drop(columns="geometry", errors="ignore"))
    pnames = dict(zip(poc.get("premises_id", []), poc.get("name", []))) if len(poc) else {}
    prem = _frame(data, "premises")
    if len(prem):
        pnames = {**dict(zip(prem["premises_id"], prem["name"])), **pnames}
    cl["near"] = cl.get("nearest_premises_id", pd.Series(index=cl.index, dtype=object)).map(
        lambda p: pnames.get(p, p) if isinstance(p, str) else "")
    cl = cl.sort_values("children", ascending=False) if "children" in cl else cl
    cols = [("cluster_id", "Cluster"), ("episodes", "Episodes"), ("children", "Children"), ("first_seen", "First"),
            ("last_seen", "Last"), ("near", "Nearest premises")]
    fmt = {"episodes": view.count, "children": view.count, "first_seen": lambda v: esc(layers._day(v)),
           "last_seen": lambda v: esc(layers._day(v))}
    sig = is_location_of_concern(cl).to_numpy()
    out = "<h3>Locations of concern</h3>" + _table(
        cl[sig], cols + [("expected", "Expected"), ("q_value", "q")], num=["episodes", "children", "expected", "q_value"],
        fmt=fmt, empty=f"No found-at cluster is significant after false discovery rate control (q &lt; {CONCERN_Q:g}).")
    out += (f"<p class='note'>A location of concern is a found-at cluster with more children than the residential "
            f"postcodes around it explain, significant after false discovery rate control (Monte Carlo scan "
            f"statistic, q &lt; {CONCERN_Q:g}); Expected is for the cluster's most unusual window. "
            f"{esc(SCAN_MODEL.format(R='999 (default)'))}</p>")
    if (~sig).any():
        out += "<h3>Other found-at clusters (descriptive, not significant)</h3>" + _table(
            cl[~sig], cols, num=["episodes", "children"], fmt=fmt)
    return out


def concerning_premises(data: dict, top: int = 30, count=None) -> pd.DataFrame:
    """premises_of_concern with any evidence (score > 0), best first, at most ``top``; with
    ``count`` (a view's count formatter) the explanations are re-rendered for that view, so
    they never show a count the table beside them suppresses."""
    poc = _frame(data, R.PREMISES_OF_CONCERN.name)
    if poc.empty:
        return poc
    score = pd.to_numeric(poc.get("score"), errors="coerce").fillna(0)
    poc = poc[score > 0]
    if "rank" in poc.columns:
        poc = poc.sort_values("rank")
    poc = poc.head(top)
    if count is not None and len(poc):
        from geo.stats.venues import explanations_for
        poc = poc.assign(explanation=explanations_for(poc, count).to_numpy())
    return poc


#: direct links that make an adult "of concern" (with a recorded role adult_of_concern, or a path
#: resting on intelligence); family and professionals linked only through shared places are not
CONCERNING_RELATIONS = ("associate", "transported_by", "intelligence", "intel", "drives_for")
_RELATION_WORDS = {"associate": "associate of", "transported_by": "transported", "seen_with": "seen with",
                   "found_with": "found with", "drives_for": "drives for", "intelligence": "in intelligence on",
                   "intel": "in intelligence on"}


def adult_basis(evidence: object) -> dict:
    """Direct relations of an adult to children from ``bridging_persons.evidence`` (``PID relation``
    items; items ``via`` a place are indirect): ``{relation: children}``."""
    out: dict = {}
    for item in str(evidence or "").split("; "):
        parts = item.split(" ", 2)
        if len(parts) < 2 or " via " in item:
            continue
        for rel in parts[1].split("+"):
            out.setdefault(rel, set()).add(parts[0])
    return {k: len(v) for k, v in out.items()}


def adults_of_concern(data: dict) -> tuple[pd.DataFrame, int]:
    """Adults with concerning evidence (a role of adult_of_concern, an associate, transported-by or
    intelligence link to a child, or paths resting on intelligence) from ``bridging_persons``,
    with the basis in words; and how many other linked adults (family, professionals, adults
    linked only through shared places) were left out."""
    bp = _frame(data, R.BRIDGING_PERSONS.name)
    persons = _frame(data, "persons")
    role = dict(zip(persons.get("person_id", []), persons.get("role", []))) if len(persons) else {}
    if bp.empty:
        return bp, 0
    bp = bp.copy()
    bp["role"] = bp["person_id"].map(lambda p_: str(role.get(p_, "") or ""))
    basis = bp.get("evidence", pd.Series("", index=bp.index)).map(adult_basis)
    intel_only = bp.get("intelligence_only", pd.Series(False, index=bp.index)).fillna(False).astype(bool)
    concern = (bp["role"] == "adult_of_concern") | intel_only | basis.map(
        lambda b: any(r in b for r in CONCERNING_RELATIONS))
    concern &= ~bp["role"].isin(["family", "professional"]) | basis.map(
        lambda b: any(r in b for r in CONCERNING_RELATIONS))

    def words(i) -> str:
        b = basis[i]
        parts = ["recorded as an adult of concern"] if bp.at[i, "role"] == "adult_of_concern" else []
        parts += [f"{_RELATION_WORDS[r]} {n} {'child' if n == 1 else 'children'}"
                  for r, n in sorted(b.items(), key=lambda kv: -kv[1]) if r in _RELATION_WORDS]
        if intel_only[i]:
            parts.append("intelligence only (graded, not fact)")
        return "; ".join(parts)
    bp["basis"] = [words(i) for i in bp.index]
    shown = bp[concern.to_numpy()]
    return shown, int((~concern).sum())


def adults_table(data: dict, view: View) -> str:
    shown, left_out = adults_of_concern(data)
    persons = _frame(data, "persons")
    if len(shown):
        shown = shown.assign(who=shown["person_id"].map(lambda p: view.who(p, "adult")),
                             role_words=shown["role"].str.replace("_", " "))
        cols = [("rank", "#"), ("who", "Adult"), ("role_words", "Recorded role"),
                ("children", "Children linked"), ("score", "Score"), ("basis", "Basis")]
        return _table(shown, cols, num=["children", "score"], fmt={"children": view.count}) + (
            "<p class='note'>Adults with concerning evidence: a recorded role of adult of concern, or an "
            "associate, transported-by or intelligence link to a child (network.measures.bridging_persons). "
            f"{esc(view.count(left_out))} other adults linked to several children (family members, professionals, "
            "adults sharing only a place such as a postcode) are not listed here.</p>")
    if len(persons) and "role" in persons.columns:
        aoc = persons[persons["role"] == "adult_of_concern"].drop_duplicates("person_id")
        aoc = aoc.assign(who=aoc["person_id"].map(lambda p: view.who(p, "adult")),
                         basis="recorded as an adult of concern")
        return _missing(data, [R.BRIDGING_PERSONS.name]) + _table(
            aoc, [("who", "Adult of concern (recorded)"), ("basis", "Basis")])
    return _missing(data, [R.BRIDGING_PERSONS.name])


def licensing_candidates(data: dict, q_max: float = 0.05, count=None) -> pd.DataFrame:
    """Premises of concern significant after FDR (q <= q_max) whose licence is active: candidates for
    a licensing review (Licensing Act 2003 / Gambling Act 2005), best first."""
    poc = concerning_premises(data, top=10_000, count=count)
    if poc.empty:
        return poc
    q = pd.to_numeric(poc.get("q_value"), errors="coerce")
    c = poc[q <= q_max].copy()
    prem = _frame(data, "premises")
    if len(prem) and "premises_id" in prem.columns:
        info = prem.drop_duplicates("premises_id").set_index("premises_id")
        for col in ("licence_type", "status", "address", "postcode"):
            if col in info.columns:
                c[col] = c["premises_id"].map(info[col])
        if "status" in c.columns:
            c = c[c["status"].fillna("active").isin(["active", "", None]) | c["status"].isna()]
    return c


def licensing_candidates_table(data: dict, view: View) -> str:
    from maps.cse_packs import review_state
    c = licensing_candidates(data, count=view.count)
    if len(c):
        c = c.assign(review=review_state(c["premises_id"], data, month_only=not view.full))
    cols = [("rank", "#"), ("premises_id", "Licence"), ("name", "Premises"), ("premises_type", "Type"),
            ("licence_type", "Licence type"), ("postcode", "Postcode"), ("children", "Children"),
            ("q_value", "q"), ("explanation", "Evidence"), ("review", "Latest review")]
    return _table(c, cols, num=["children", "q_value"], fmt={"children": view.count},
                  empty="No premises significant after false discovery rate control.") + (
        "<p class='note'>Candidates are premises of concern with q &le; 0.05 and an active licence; a review "
        "needs the licensing officer's own evidence.</p>")


def cog_network(data: dict, view: View, top: int = 5, max_nodes: int = 150) -> str:
    try:
        G = network_graph(data)
    except Exception as e:  # noqa: BLE001 - the pack still prints without the network
        return f"<p class='note warn'>Network not available: {esc(e)}</p>"
    bp = _frame(data, R.BRIDGING_PERSONS.name)
    centres = [p for p in bp.get("person_id", [])[:top] if p in G.nodes] if len(bp) else []
    if not centres and "persons" in data and len(data["persons"]):
        p = data["persons"]
        centres = [x for x in p.loc[p.get("role") == "adult_of_concern", "person_id"]
                   if x in G.nodes][:top]
    if not centres:
        return "<p class='note'>No adults of concern in the network.</p>"
    el = cytoscape_elements(ego_graphs(data, centres), view, max_nodes=max_nodes)
    return network_div(el, "cog_network", f"Ego networks (2 steps) of the top {len(centres)} adults of concern.")


def resolve_child(data: dict, child: str) -> str:
    """person_id of a child given as person_id, record key (SOURCE/ID) or child_id."""
    ch = _frame(data, "children")
    if ch.empty:
        raise PackError("no children in the store")
    for col in ("person_id", "child_key", "child_id"):
        if col in ch.columns:
            hit = ch[ch[col].astype(str) == str(child)]
            if len(hit):
                return str(hit["person_id"].iloc[0])
    raise PackError(f"no child {child!r} in the store")


def mase_pack(data: dict, period: Period, child: str, view: View | None = None,
              tile_url: str | None = None) -> str:
    """MASE pack for one child: timeline, places map, ego network, RHI history. Without ``view``:
    mase_member (minimised)."""
    view = (view or View(DEFAULT_ROLE["mase"])).with_names(data.get("children"), data.get("persons"))
    pid = resolve_child(data, child)
    ch = _frame(data, "children")
    rec = ch[ch["person_id"] == pid]
    r0 = person_view(data).loc[pid]     # the best view of the child's linked records
    who = view.who(pid)
    care_words = {"cic": "in care (looked after)", "cp": "child protection plan", "cin": "child in need"}
    facts = [("Child", who), ("Sex", r0.get("sex")),
             ("Care status", care_words.get(r0.get("care_status"), _words(r0.get("care_status")))),
             ("Placement type", _words(r0.get("placement_type"))), ("CSE risk", _words(r0.get("cse_risk"))),
             ("Responsible authority", r0.get("responsible_authority")),
             ("Records linked", len(rec) if view.full else view.count(len(rec)))]
    if view.full:
        facts += [("Records", ", ".join(map(str, rec["child_key"]))), ("Date of birth", layers._day(r0.get("dob"))),
                  ("Placement postcode (restricted)", r0.get("placement_postcode"))]
    parts = [_section("The child", _table(pd.DataFrame(facts, columns=["k", "v"]), [("k", ""), ("v", "")]), "child")]
    ep = _frame(data, "episodes")
    ep = ep[ep["person_id"] == pid].sort_values("reported_at") if len(ep) else ep
    in_p = period.contains(ep["reported_at"]) if len(ep) else pd.Series(dtype=bool)
    timeline = svg_timeline(ep, period)
    if len(ep):
        e = ep.copy()
        e["hours"] = ((_utc(e["returned_at"]) - _utc(e["reported_at"])).dt.total_seconds() / 3600).round(1)
        e["in_period"] = np.where(in_p, "yes", "")
        e["where_found"] = e["found_text"] if view.full else e.get("found_ward", pd.Series("", index=e.index)).map(
            _area_names(data).get)
        cols = [("reported_at", "Reported"), ("returned_at", "Returned"), ("hours", "Hours"),
                ("category", "Category"), ("police_risk", "Police risk"), ("missing_from", "From"),
                ("where_found", "Found (ward)" if not view.full else "Found at"), ("in_period", "In period")]
        if view.full:
            cols.insert(0, ("episode_key", "Episode"))
        timeline += _table(e, cols, num=["hours"], fmt={"category": lambda v: esc(_words(v)),
                                                        "missing_from": lambda v: esc(_words(v))})
    parts.append(_section("Timeline of episodes", timeline + f"<p class='note'>{len(ep)} episodes in all, "
                          f"{int(in_p.sum()) if len(ep) else 0} in the period.</p>", "timeline"))
    evs = _frame(data, "place_events")
    evs = evs[evs["person_id"] == pid] if len(evs) else evs
    evs = _case_events(evs, view)
    m = layers.base_map(_boundaries(data), tile_url=tile_url)
    if len(evs):
        if view.full:
            layers.found_at_layer(evs, name="Places reported").add_to(m)
            for _, r in layers.with_latlon(evs).iterrows():
                import folium

                folium.CircleMarker([r["lat"], r["lon"]], radius=6, color="#b2182b", fill=True,
                                    popup=folium.Popup(layers.event_label(pd.DataFrame([r])).iloc[0], max_width=300)
                                    ).add_to(m)
        else:
            import folium

            cells = evs.groupby(["easting", "northing"]).agg(n=("kind", "size"),
                                                            kinds=("kind", lambda s: ", ".join(sorted(set(s)))))
            cells = layers.with_latlon(cells.reset_index())
            for _, r in cells.iterrows():
                folium.Circle([r["lat"], r["lon"]], radius=view.grid_m / 2, color="#b2182b", fill=True,
                              popup=f"{esc(r['kinds'])}: {esc(view.count(r['n']))} (250 m cell)").add_to(m)
    poc = concerning_premises(data, count=view.count)
    if len(poc):
        layers.premises_layer(poc, count=view.count, show=False, locate=data.get("premises")).add_to(m)
    layers.finish(m)
    note = "" if view.full else f"<p class='note'>Points snapped to {int(view.grid_m)} m cells for this role.</p>"
    parts.append(_section("Places", map_frame(m, "Places the child was reported at") + note, "places"))
    try:
        if pid not in network_graph(data).nodes:
            raise KeyError(f"no child {pid!r} in the graph")
        el = cytoscape_elements(ego_graphs(data, [pid]), view, centre=pid)
        net = network_div(el, "mase_network", "Ego network, 2 steps.")
    except Exception as e:  # noqa: BLE001
        net = f"<p class='note warn'>Network not available: {esc(e)}</p>"
    parts.append(_section("Ego network", net, "network"))
    rh = _frame(data, "return_interviews")
    rh = rh[rh["person_id"] == pid].sort_values("notified_at") if len(rh) else rh
    rcols = [("notified_at", "Notified"), ("held_at", "Held"), ("outcome", "Outcome"), ("triage", "Triage"),
             ("issues", "Issues"), ("push_factors", "Push"), ("pull_factors", "Pull")]
    if view.full:
        rcols += [("places", "Places"), ("associates", "Associates")]
    parts.append(_section("Return home interviews", _table(rh, rcols, empty="No return interviews recorded."), "rhi"))
    return page(f"MASE pack: {who}", period.label(), "".join(parts), view, scripts=["vendor/cytoscape.min.js"])


def mase_area_pack(data: dict, period: Period, area: str, view: View | None = None) -> str:
    """One MASE area's list (``geo.meetings.mase.mase_lists``): the children at CSE risk whose ward is in the
    area, with their episodes in the period and whether missing at its end. Children are
    pseudonyms for every role but analysts."""
    from geo.meetings.mase import mase_lists

    view = (view or View(DEFAULT_ROLE["mase"])).with_names(data.get("children"), data.get("persons"))
    areas = data.get("mase_areas")
    if areas is None or len(areas) == 0:
        raise PackError("no MASE areas loaded: run `wayfinder reference --mase-areas FILE`")
    names = {a.lower(): a for a in areas["mase_area"].unique()}
    if area.strip().lower() not in names:
        raise PackError(f"no MASE area {area!r}: one of {', '.join(sorted(names.values()))}")
    area = names[area.strip().lower()]
    p = contract_period(period)
    lst = mase_lists(_frame(data, "episodes"), _frame(data, "children"), areas, p.start, p.end, p.as_of,
                     view=person_view(data), area=area)
    wards = _area_names(data)
    lst = lst.assign(child=lst["person_id"].map(view.who), risk=lst["cse_risk"].map(_words),
                     care=lst["care_status"].map(lambda c: {"cic": "in care", "cp": "child protection plan",
                                                            "cin": "child in need"}.get(c, _words(c))),
                     ward=lst["ward_code"].map(lambda w: wards.get(w, "") if isinstance(w, str) else ""),
                     last=pd.to_datetime(lst["last_reported"], utc=True).dt.strftime("%d %b %Y"),
                     now=lst["missing_now"].map(lambda b: "yes" if b else ""))
    cnt = view.count
    summary = (f"<p>{esc(cnt(len(lst)))} children at CSE risk in the {esc(area)} area; "
               f"{esc(cnt(int((lst['missing_episodes'] > 0).sum())))} missing in the period; "
               f"{esc(cnt(int(lst['missing_now'].sum())))} missing at its end.</p>")
    table = _table(lst, [("child", "Child"), ("risk", "CSE risk"), ("care", "Care status"), ("ward", "Ward"),
                         ("missing_episodes", "Missing"), ("absent_away_episodes", "Absent or away"),
                         ("last", "Last episode"), ("now", "Missing now")],
                   num=["missing_episodes", "absent_away_episodes"],
                   fmt={"missing_episodes": cnt, "absent_away_episodes": cnt},
                   empty="No child at CSE risk in this area.")
    body = _section(f"Children at CSE risk in the {area} area ({period.label()})", summary + table, "area-list") + (
        "<p class='note'>Area of a child: the ward of their placement or home (best view of their records), "
        "else of their latest episode. Areas are the wards loaded with <code>wayfinder reference "
        "--mase-areas</code>.</p>")
    return page(f"MASE pack: {area} area", period.label(), body, view)


def svg_timeline(ep: pd.DataFrame, period: Period, width: int = 760, height: int = 70) -> str:
    """Episodes as bars on a time axis (length = duration, red = high risk, open = not returned)."""
    if ep is None or ep.empty:
        return "<p class='note'>No episodes recorded.</p>"
    rep = _utc(ep["reported_at"])
    ret = _utc(ep["returned_at"])
    t0 = min(rep.min(), period.start)
    t1 = max(ret.max() if ret.notna().any() else rep.max(), period.stop)
    span = (t1 - t0).total_seconds() or 1.0

    def x(t):
        return 10 + (width - 20) * (t - t0).total_seconds() / span

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' style='font:10px sans-serif'>",
             f"<rect x='{x(period.start):.1f}' y='4' width='{x(period.stop) - x(period.start):.1f}' height='36' "
             f"fill='#eef2f6'/>", f"<line x1='10' y1='30' x2='{width - 10}' y2='30' stroke='#333'/>"]
    for a, b, risk in zip(rep, ret, ep.get("police_risk", pd.Series("", index=ep.index))):
        end = b if pd.notna(b) else t1
        col = "#b2182b" if risk == "high" else "#ef8a62" if risk == "medium" else "#67a9cf"
        w = max(x(end) - x(a), 3)
        fill = col if pd.notna(b) else "none"
        parts.append(f"<rect x='{x(a):.1f}' y='18' width='{w:.1f}' height='10' fill='{fill}' stroke='{col}'>"
                     f"<title>{a:%Y-%m-%d %H:%M} {'to ' + format(b, '%Y-%m-%d %H:%M') if pd.notna(b) else 'not returned'}"
                     f"</title></rect>")
    parts.append(f"<text x='10' y='{height - 14}'>{t0:%b %Y}</text><text x='{width - 10}' y='{height - 14}' "
                 f"text-anchor='end'>{t1:%b %Y}</text><text x='{width / 2}' y='{height - 14}' text-anchor='middle'>"
                 f"shaded: the period; red high risk, orange medium, blue low; open bar: no return</text></svg>")
    return "".join(parts)


def _area_names(data: dict) -> dict:
    areas = data.get("areas")
    if areas is not None and len(areas) and "area_code" in areas.columns:
        return dict(zip(areas["area_code"], areas["area_name"]))
    try:
        b = layers.load_boundaries("ward")
        return dict(zip(b["area_code"], b["area_name"]))
    except Exception:  # noqa: BLE001
        return {}


def _boundaries(data: dict):
    areas = data.get("areas")
    if areas is not None and len(areas) and "level" in areas.columns:
        w = areas[areas["level"] == "ward"]
        if len(w):
            return w
    return None


# ---------------------------------------------------------------- building and writing

def build_pack(kind: str, data: dict, start: str, end: str, child: str | None = None,
               view: View | None = None, tile_url: str | None = None, area: str | None = None) -> str:
    """The pack ``kind`` (mog, cog, mase) for [start, end] (whole days); ``view`` defaults to the
    meeting's member role (minimised). MASE: one child (``child``) or one area's list (``area``)."""
    period = Period.parse(start, end)
    if kind == "mog":
        return mog_pack(data, period, view, tile_url)
    if kind == "cog":
        return cog_pack(data, period, view, tile_url)
    if kind == "mase":
        if not child and area:
            return mase_area_pack(data, period, area, view)
        if not child:
            raise PackError("the MASE pack needs --child ID (one child) or --area NAME (an area's list)")
        return mase_pack(data, period, child, view, tile_url)
    if kind == "licensing":
        from maps.cse_packs import licensing_pack
        return licensing_pack(data, period, view)
    raise PackError(f"unknown pack {kind!r}: one of {', '.join(PACK_KINDS)}")


def write_pack(html: str, out: str | Path, pdf: bool = False, chromium: str = CHROMIUM,
               timeout: float = 120.0) -> list[Path]:
    """Write the HTML; with ``pdf`` print it to ``out`` with suffix .pdf through headless Chromium."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    written = [out]
    if pdf:
        written.append(print_pdf(out, out.with_suffix(".pdf"), chromium=chromium, timeout=timeout))
    return written


def print_pdf(html_path: Path, pdf_path: Path, chromium: str = CHROMIUM, timeout: float = 120.0) -> Path:
    """``chromium --headless --print-to-pdf`` of a local HTML file, no network."""
    exe = chromium if Path(chromium).exists() else shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise PackError("--pdf needs Chromium (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="wf-pdf-") as profile:
        cmd = [exe, *CHROMIUM_ARGS, f"--user-data-dir={profile}", "--run-all-compositor-stages-before-draw",
               "--virtual-time-budget=8000", "--no-pdf-header-footer",
               f"--print-to-pdf={Path(pdf_path).resolve()}", Path(html_path).resolve().as_uri()]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise PackError(f"Chromium did not print the PDF within {timeout:.0f} s") from e
    if not Path(pdf_path).exists() or Path(pdf_path).stat().st_size == 0:
        raise PackError(f"Chromium wrote no PDF: {(res.stderr or '').strip().splitlines()[-1:]}")
    return Path(pdf_path)
