"""A child or person profile: episodes timeline, places, associates, RHI history."""
from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Request

from api.service.dependencies import PURPOSE, ctx_of, service
from api.service.errors import NotFound
from api.minimise import PERSONAL_KEYS
from api.service.model import ERRORS

router = APIRouter(tags=["children"])
PersonRef = Annotated[str, Path(description="person_id (analysts) or pseudonym such as C-3F2A9B10C4",
                                examples=["C-3F2A9B10C4"], max_length=200)]


def resolve_person(wf, ctx, ref: str) -> str:
    """A person_id from a pseudonym (any role) or a person_id / record key (analysts only)."""
    ids = wf.layers.cached("person_ids", lambda: _person_ids(wf))
    if ref.startswith(("C-", "A-")):
        table = wf.layers.cached("pseudonyms", lambda: {
            wf.minimiser.pseudonym(p, k): p for p, k in ids.items()})
        if ref in table:
            return table[ref]
    elif ctx.analyst and ref in ids:
        return ref
    raise NotFound(f"no child or person {ref!r}" + ("" if ctx.analyst else ": use the pseudonym"))


def _person_ids(wf) -> dict:
    out = {}
    for name, kind in (("persons", "person"), ("children", "child")):
        f = wf.layers.frame(name)
        if f is not None and len(f):
            out.update({p: kind for p in f["person_id"].dropna().unique()})
    return out


def _iso(v):
    return None if v is None or pd.isna(v) else pd.Timestamp(v).isoformat()


@router.get("/profiles/{person_ref:path}", name="person_profile", summary="Child or person profile",
            responses={**{k: ERRORS[k] for k in (400, 401, 403, 429)}, 404: {"description": "Unknown person"}})
def profile(request: Request, person_ref: PersonRef, purpose: Annotated[str, PURPOSE]) -> dict:
    wf, ctx = service(request), ctx_of(request)
    pid = resolve_person(wf, ctx, person_ref)
    m = wf.minimiser
    full = ctx.analyst
    ch = wf.layers.frame("children")
    ep = wf.layers.frame("episodes")
    rhi = wf.layers.frame("return_interviews")
    ev = wf.layers.frame("place_events")
    links = wf.layers.frame("links")
    recs = ch[ch["person_id"] == pid] if ch is not None else pd.DataFrame()
    kind = "child" if len(recs) else "person"
    out: dict = {"person_id": pid} if full else {"pseudonym": m.pseudonym(pid, kind)}
    out["kind"] = kind
    if len(recs):
        # the best view of the child from all linked records (geo.meetings.person_view), not the first one
        from geo.meetings.person_view import person_view
        pv = wf.layers.cached("person_view", lambda: person_view(ch))
        r = pv.loc[pid].to_dict()
        keep = ["sex", "care_status", "placement_type", "responsible_authority", "placement_authority",
                "cse_risk"]
        if full:
            keep += ["given_name", "family_name", "school", "placement_postcode", "establishment"]
            out["records"] = sorted(recs["child_key"].tolist())
            out["dob"] = _iso(r.get("dob"))
            out["provenance"] = {k: r.get(f"{k}_source") for k in keep + ["dob"]
                                 if isinstance(r.get(f"{k}_source"), str)}
            out["conflicts"] = {k: r.get(f"{k}_values") for k in keep + ["dob"]
                                if bool(r.get(f"{k}_conflict")) and isinstance(r.get(f"{k}_values"), dict)}
        elif pd.notna(r.get("dob")):
            out["age_band"] = "under 14" if (pd.Timestamp.now() - pd.Timestamp(r["dob"])).days / 365.25 < 14 else "14-17+"
        out["details"] = {k: (None if pd.isna(r.get(k)) else r.get(k)) for k in keep if k in r}
    eps = ep[ep["person_id"] == pid].sort_values("reported_at") if ep is not None else pd.DataFrame()
    timeline = []
    for e in eps.to_dict("records"):
        item = {"reported_at": _iso(e["reported_at"]), "returned_at": _iso(e["returned_at"]),
                "category": e["category"], "police_risk": e.get("police_risk"),
                "missing_from": e.get("missing_from"), "found_ward": e.get("found_ward")}
        if full:
            item.update(episode_key=e["episode_key"], found_text=e.get("found_text"),
                        last_seen_text=e.get("last_seen_text"), found_e=e.get("found_e"),
                        found_n=e.get("found_n"))
        timeline.append({k: (None if not isinstance(v, (list, dict)) and pd.isna(v) else v) for k, v in item.items()})
    out["episodes"] = timeline
    places = []
    if ev is not None and len(ev):
        pe = ev[ev["person_id"] == pid]
        grp = pe.groupby(["ward_code"] if not full else ["text", "ward_code"], dropna=False)
        for key, g in grp:
            item = {"ward_code": key if not full else key[1], "times": int(len(g)),
                    "kinds": sorted(g["kind"].unique().tolist()), "last": _iso(g["at"].max())}
            if full:
                item.update(text=key[0], easting=float(g["easting"].iloc[0]), northing=float(g["northing"].iloc[0]))
            places.append(item)
    out["places"] = places
    hist = []
    if rhi is not None and len(rhi):
        for r in rhi[rhi["person_id"] == pid].sort_values("offered_at").to_dict("records"):
            item = {"offered_at": _iso(r.get("offered_at")), "held_at": _iso(r.get("held_at")),
                    "outcome": r.get("outcome"), "issues": list(r.get("issues") or []),
                    "push_factors": list(r.get("push_factors") or []),
                    "pull_factors": list(r.get("pull_factors") or [])}
            if full:
                item.update(rhi_key=r["rhi_key"], places=list(r.get("places") or []),
                            associates=list(r.get("associates") or []))
            hist.append(item)
    out["return_interviews"] = hist
    assoc = []
    if links is not None and len(links) and len(recs):
        refs = {f"child:{c}" for c in recs["child_id"]} | {f"person:{c}" for c in recs["child_id"]}
        lk = links[links["from_ref"].isin(refs) | links["to_ref"].isin(refs)]
        for l in lk.to_dict("records"):
            other = l["to_ref"] if l["from_ref"] in refs else l["from_ref"]
            item = {"relation": l["relation"], "grading": l.get("grading"),
                    "observed_at": _iso(l.get("observed_at"))}
            if full:
                item["ref"] = other
            else:
                kind_o = other.split(":", 1)[0]
                item["ref_kind"] = kind_o
                if kind_o in ("child", "person"):
                    item["pseudonym"] = m.pseudonym(f"{l['source']}/{other.split(':', 1)[-1]}",
                                                    "child" if kind_o == "child" else "person")
                elif kind_o == "premises":
                    item["ref"] = other
            assoc.append(item)
    out["associates"] = assoc
    ctx.result_count = len(timeline)
    ctx.what = f"profile {m.pseudonym(pid, kind)}"
    if not full:
        assert not (set(out) & PERSONAL_KEYS)
    return out
