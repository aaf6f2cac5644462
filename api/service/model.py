"""Response models (for the OpenAPI description and its examples)."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Error(BaseModel):
    code: int = Field(examples=[400])
    description: str = Field(examples=["invalid request: limit: Input should be less than or equal to 10000"])


ERRORS = {
    400: {"model": Error, "description": "Bad parameters (the message names them)"},
    401: {"model": Error, "description": "No or invalid bearer token"},
    403: {"model": Error, "description": "The role may not use this route or layer (logged)"},
    429: {"model": Error, "description": "Rate limit exceeded (Retry-After header)"},
}


class Token(BaseModel):
    access_token: str = Field(examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."])
    token_type: str = Field("bearer", examples=["bearer"])
    expires_in: int = Field(examples=[900], description="seconds")
    role: str = Field(examples=["analyst"])


class Me(BaseModel):
    name: str = Field(examples=["a.analyst"])
    role: str = Field(examples=["analyst"])
    view: str = Field(examples=["full"], description="minimisation view: full, case, licensing, none")
    routes: list[str] = Field(description="route names this role may use")
    collections: list[str]


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class Landing(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]


class Collection(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(examples=["found_at"])
    title: str
    description: str
    itemType: str = "feature"
    crs: list[str] = ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    extent: dict[str, Any] | None = None
    links: list[Link]


class Collections(BaseModel):
    collections: list[Collection]
    links: list[Link]


FEATURE_COLLECTION_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [{"type": "Feature", "id": 1,
                  "geometry": {"type": "Point", "coordinates": [-1.8975, 52.4805]},
                  "properties": {"at": "2017-03-04", "precision": "postcode",
                                 "ward_code": "E05001195", "lsoa_code": "E01033620",
                                 "child": "C-3F2A9B10C4"}}],
    "numberMatched": 1, "numberReturned": 1, "timeStamp": "2017-04-01T09:00:00Z",
    "links": [{"href": "/collections/found_at/items?limit=100&offset=0", "rel": "self",
               "type": "application/geo+json"}],
}

TILEJSON_EXAMPLE = {
    "tilejson": "3.0.0", "name": "found_at",
    "tiles": ["http://127.0.0.1:8000/collections/found_at/tiles/WebMercatorQuad/{z}/{x}/{y}"],
    "minzoom": 0, "maxzoom": 22, "bounds": [-2.03, 52.38, -1.72, 52.61],
    "vector_layers": [{"id": "found_at", "fields": {"at": "String"}}],
}


class AuditRow(BaseModel):
    id: int
    at: str
    user_name: str | None
    role: str | None
    action: str
    route: str | None
    what: str | None
    purpose: str | None
    result_count: int | None
    status: int | None
    hash: str


class AuditVerify(BaseModel):
    ok: bool = Field(examples=[True])
    entries: int = Field(examples=[1204])
    message: str = Field(examples=["audit trail intact: 1204 entries"])
    first_bad_id: int | None = None


def example(value) -> dict:
    """A 200 response with a JSON example, for ``responses=``."""
    return {200: {"content": {"application/json": {"example": value}}}}


MOG_EXAMPLE = {"period": {"from": "2017-03-01T00:00:00+00:00", "to": "2017-04-01T00:00:00+00:00",
                          "as_of": "2017-04-01T00:00:00+00:00"},
               "missing_episodes": 249, "absent_episodes": 91, "away_episodes": 31,
               "missing_children": 206, "repeat_missing_children": 33, "persistent_missing_children": 2,
               "first_time_missing_children": 47, "missing_episodes_looked_after": 90,
               "returned_missing_episodes": 240, "rhi_offered_pct": 100.0, "rhi_held_within_72h_pct": 11.67,
               "rhi_engaged_pct": 25.42, "missing_over_48h_looked_after": 4, "missing_now": 17,
               "stale_open_episodes": 18, "rhi_offered_episodes": 240, "rhi_held_within_72h_episodes": 28,
               "rhi_engaged_episodes": 61, "repeat_missing_pct": 16.02, "absent_children": 84,
               "away_children": 29, "missing_over_72h": 4, "missing_episodes_rag_red": 77,
               "missing_now_looked_after": 9,
               "missing_episodes_by_placement_type": {"residential": 56, "parent": 85, "foster": 12},
               "bases": {"rhi_offered_pct": "returned_missing_episodes",
                         "rhi_held_within_72h_pct": "returned_missing_episodes",
                         "rhi_engaged_pct": "rhi_offered_episodes", "repeat_missing_pct": "missing_children"}}
CSE_EXAMPLE = {"cohort": 273, "by_risk": {"at_risk": 128, "significant": 79, "serious": 66},
               "by_risk_pct": {"at_risk": 46.89, "significant": 28.94, "serious": 24.18},
               "female_pct": 85.0, "in_care": 98, "cse_episodes": 310, "missing_episodes_of_cohort": 522,
               "repeat_missing": {"subjects": 273, "repeat": 97, "rate_pct": 35.53},
               "cse_cohort": 271, "cse_cohort_low": 119, "cse_cohort_medium": 85, "cse_cohort_high": 67,
               "cse_new_referrals": 277, "cse_average_days_open": 340.7, "cse_risk_reduced": 211,
               "cse_risk_increased": 117, "cse_crimes": 136, "cse_non_crimes": 788,
               "cse_repeat_victims": 180, "cse_repeat_suspects": 11, "cse_missing_overlap_pct": 90.04,
               "victims": 506, "repeat_victim_rate_pct": 35.57, "suspects": 93,
               "repeat_suspect_rate_pct": 11.83, "identity": "stored"}
WORRYING_EXAMPLE = [{"child": "C-3F2A9B10C4", "score": 14, "episodes": 11,
                     "last_reported": "2017-03-28T22:10:00+00:00",
                     "reasons": ["missing now (30 h)", "5 episodes in the last 90 days",
                                 "persistent: 11 episodes in all", "CSE risk serious",
                                 "lives in residential care"]}]
MISSING_NOW_EXAMPLE = [{"child": "C-3F2A9B10C4", "category": "missing",
                        "reported_at": "2017-03-28T22:10:00+00:00", "hours_missing": 51.5,
                        "police_risk": "high", "care_status": "cic", "placement_type": "residential",
                        "cse_risk": "serious",
                        "actions": ["looked-after child missing over 48 h: notify the director of children's services",
                                    "high police risk"]}]
HOTSPOTS_EXAMPLE = [{"area_code": "E05001195", "area_name": "Ladywood", "episodes": 96, "children": 41,
                     "gi_z": 4.1, "gi_p": 0.001, "gi_q": 0.02, "gi_bin": 3, "lisa_type": "HH"}]
PREMISES_EXAMPLE = [{"rank": 1, "premises_id": "PR000123", "name": "Example Takeaway",
                     "premises_type": "takeaway", "score": 9.1, "children": 7, "episodes": 12,
                     "mentions": 3, "intel": "<5", "p_value": 0.001, "q_value": 0.01,
                     "explanation": "7 different children recorded at the premises by name (direct evidence: a "
                                    "found-at place, return interview or relationship matched to it), 0.2 "
                                    "expected from the background; named in 3 return interviews. More than the "
                                    "background explains, chiefly the children recorded at the premises by name "
                                    "(q = 0.010, false discovery rate controlled over all 1,338 premises in the "
                                    "register)."}]
