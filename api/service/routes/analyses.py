"""Analysis endpoints: area hotspots and trends, premises of concern and profiles, co-missing groups."""
from __future__ import annotations

from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Path, Query, Request

from api.service.dependencies import PURPOSE, ctx_of, service
from api.service.errors import NotFound
from api.jobs.layers import _json_ready
from api.service.model import ERRORS, HOTSPOTS_EXAMPLE, PREMISES_EXAMPLE, example
from geo import disclosure
from geo import results as R

router = APIRouter(tags=["analyses"])
_ERR = {k: ERRORS[k] for k in (400, 401, 403, 429)}


def _records(df, ctx, m, drop=("geometry",)) -> list[dict]:
    if df is None or len(df) == 0:
        return []
    df = pd.DataFrame(df.drop(columns=[c for c in drop if c in df]))
    if not ctx.analyst and "explanation" in df:  # premises: the text must not show suppressed counts
        from geo.stats.venues import explanations_for
        df["explanation"] = explanations_for(df, m.count).to_numpy()
    if not ctx.analyst:      # the one disclosure policy (geo.disclosure.minimise_frame)
        df = m.table(disclosure.suppress_small_rates(df, small=m.small), ctx.view)
    return _json_ready(df)


@router.get("/analyses/hotspots", name="area_hotspots", responses={**_ERR, **example(HOTSPOTS_EXAMPLE)},
            summary="Area hotspots (Gi*, local Moran) by ward, LSOA or grid")
def area_hotspots(request: Request, level: Annotated[Literal["ward", "lsoa", "grid"], Query()] = "ward") -> list[dict]:
    wf, ctx = service(request), ctx_of(request)
    out = _records(wf.layers.result(R.area_hotspots(level).name), ctx, wf.minimiser)
    ctx.result_count = len(out)
    return out


@router.get("/analyses/hotspots/global", name="area_autocorrelation", responses=_ERR,
            summary="Global Moran's I and Getis-Ord General G of each area map (value and EB rates)")
def area_autocorrelation(request: Request,
                         level: Annotated[Literal["ward", "lsoa"] | None, Query()] = None) -> list[dict]:
    """One row per area level, map and statistic: ``value``, ``expected``, ``z``, ``p_norm``,
    ``p_sim`` (permutations), the ``method`` and the ``population`` basis of the rates."""
    wf, ctx = service(request), ctx_of(request)
    df = wf.layers.result(R.AREA_AUTOCORRELATION.name)
    if df is not None and level and len(df):
        df = df[df["level"] == level]
    out = _records(df, ctx, wf.minimiser)
    ctx.result_count = len(out)
    return out


@router.get("/analyses/trends", name="area_trends", responses=_ERR,
            summary="Monthly episodes per area with Mann-Kendall trend")
def area_trends(request: Request,
                area_code: Annotated[str | None, Query(max_length=16, examples=["E05001178"])] = None) -> list[dict]:
    wf, ctx = service(request), ctx_of(request)
    df = wf.layers.result(R.AREA_TRENDS.name)
    if df is not None and area_code:
        df = df[df["area_code"] == area_code]
    out = _records(df, ctx, wf.minimiser)
    ctx.result_count = len(out)
    return out


@router.get("/analyses/premises", name="premises_of_concern", responses={**_ERR, **example(PREMISES_EXAMPLE)},
            summary="Premises of concern, best first, with explanations")
def premises_of_concern(request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict]:
    wf, ctx = service(request), ctx_of(request)
    df = wf.layers.result(R.PREMISES_OF_CONCERN.name)
    out = _records(None if df is None else df.head(limit), ctx, wf.minimiser)
    ctx.result_count = len(out)
    return out


@router.get("/analyses/premises/{premises_id:path}", name="premises_profile",
            summary="A premises (any register id, '/' included): register entry, concern ranking "
                    "and explanation, linked episodes by month, review records",
            responses={**_ERR, 404: {"description": "Unknown premises"}})
def premises_profile(request: Request,
                     premises_id: Annotated[str, Path(max_length=128, examples=["PR000"])]) -> dict:
    wf, ctx = service(request), ctx_of(request)
    prem = wf.layers.cached("premises_table", lambda: _premises(wf))
    row = prem[prem["premises_id"] == premises_id] if prem is not None else []
    if len(row) == 0:
        raise NotFound(f"no premises {premises_id!r}")
    reg = _json_ready(row.drop(columns=[c for c in ("extra",) if c in row]).head(1))[0]
    poc = wf.layers.result(R.PREMISES_OF_CONCERN.name)
    concern = None
    if poc is not None and len(poc):
        hit = poc[poc["premises_id"] == premises_id]
        if len(hit):
            concern = _records(hit.head(1), ctx, wf.minimiser)[0]
    clusters = wf.layers.result(R.FOUND_AT_CLUSTERS.name)
    near = []
    if clusters is not None and "nearest_premises_id" in clusters:
        near = _records(clusters[clusters["nearest_premises_id"] == premises_id], ctx, wf.minimiser,
                        drop=("geometry",))
        if not ctx.analyst:
            near = [{k: v for k, v in c.items() if k in ("cluster_id", "episodes", "children", "first_seen", "last_seen", "status", "q_value")} for c in near]
    ctx.result_count = 1
    return {"premises": reg, "concern": concern, "found_at_clusters": near,
            **_linked(wf, ctx, row.iloc[0], premises_id)}


def _linked(wf, ctx, prem_row, premises_id: str) -> dict:
    """Linked episodes by month (geo.meetings.screening) and the premises' review records."""
    from api.jobs.licensing import review_json
    from geo.meetings.reviews import reviews_frame
    from geo.meetings.screening import episodes_by_month, linked_events
    ev = wf.layers.frame("place_events")
    months = episodes_by_month(linked_events(prem_row, ev)) if ev is not None else []
    reviews = [review_json(r) for r in reviews_frame(wf.store, premises_id).to_dict("records")]
    if not ctx.analyst:
        months = [{**m, "episodes": wf.minimiser.count(m["episodes"]),
                   "children": wf.minimiser.count(m["children"])} for m in months]
        if ctx.view == "licensing":
            for r in reviews:
                r["decided_at"] = r["decided_at"][:7]
    return {"linked_episodes_by_month": months, "reviews": reviews}


def _premises(wf):
    from api.jobs.layers import _premises_frame
    return _premises_frame(wf.store)


@router.get("/analyses/co-missing-groups", name="co_missing_groups", responses=_ERR,
            summary="Groups of children who go missing together")
def co_missing_groups(request: Request, purpose: Annotated[str, PURPOSE]) -> list[dict]:
    wf, ctx = service(request), ctx_of(request)
    df = wf.layers.result(R.CO_MISSING_GROUPS.name)
    out = []
    if df is not None:
        for g in df.to_dict("records"):
            members = [str(x) for x in (g.get("members") if g.get("members") is not None else [])]
            item = {"group_id": str(g.get("group_id")), "size": len(members),
                    "co_episodes": g.get("co_episodes"),
                    "first": None if g.get("first") is None or pd.isna(g.get("first")) else pd.Timestamp(g["first"]).isoformat(),
                    "last": None if g.get("last") is None or pd.isna(g.get("last")) else pd.Timestamp(g["last"]).isoformat()}
            if ctx.analyst:
                item["members"] = members
                item["shared_places"] = [str(p) for p in (g.get("shared_places") if g.get("shared_places") is not None else [])]
            else:
                item["members"] = wf.minimiser.pseudonyms(members)
                item["co_episodes"] = wf.minimiser.count(item["co_episodes"])
                item["first"] = item["first"] and item["first"][:10]    # the day, not the hour
                item["last"] = item["last"] and item["last"][:10]
            out.append(item)
    ctx.result_count = len(out)
    return out
