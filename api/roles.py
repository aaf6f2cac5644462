"""The role-by-route matrix, enforced on every route by one dependency (``dependencies.authorize``).

Every route of the app is named (FastAPI ``name``) and must appear in :data:`ROUTES`, either as
public (no token) or with the roles allowed and the audit action it records. A route missing from
the matrix is refused to everyone (fail closed); ``tests/api/routes/test_matrix.py`` enumerates
every route for every role.

Collections add a second dimension (:data:`COLLECTION_ROLES`): which roles may see which layer.
Placement (children's home) locations are for analysts only. ``admin`` administers users and reads
the audit trail; it sees no case data.
"""
from __future__ import annotations

from dataclasses import dataclass

ROLES: tuple[str, ...] = ("analyst", "mog_member", "cog_member", "mase_member",
                          "licensing_officer", "admin")
ANALYST = "analyst"

_DATA = frozenset({"analyst", "mog_member", "cog_member", "mase_member", "licensing_officer"})
_CASE = frozenset({"analyst", "mog_member", "cog_member", "mase_member"})
_ALL = frozenset(ROLES)


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    action: str = "consultation"
    #: person-level: the request must state a ``purpose``
    person_level: bool = False
    public: bool = False


PUBLIC = Rule(frozenset(), public=True)

ROUTES: dict[str, Rule] = {
    # public: the token endpoint, the API description, liveness, and the OGC landing page
    # (links, or the web page) and conformance classes, which hold no data and which OGC
    # clients read before they send credentials
    "login": Rule(frozenset(), action="login", public=True),
    "openapi": PUBLIC, "swagger_ui_html": PUBLIC, "swagger_ui_redirect": PUBLIC,
    "redoc_html": PUBLIC, "health": PUBLIC, "landing": PUBLIC, "conformance": PUBLIC,
    # any signed-in user
    "whoami": Rule(_ALL),
    # OGC API - Features and tiles (per-collection roles in COLLECTION_ROLES)
    "collections": Rule(_DATA), "collection": Rule(_DATA), "items": Rule(_DATA),
    "item": Rule(_DATA), "queryables": Rule(_DATA), "tilejson": Rule(_DATA),
    "tile": Rule(_DATA),
    # analyses
    "area_hotspots": Rule(_DATA), "area_autocorrelation": Rule(_DATA), "area_trends": Rule(_DATA),
    "premises_of_concern": Rule(_DATA), "premises_profile": Rule(_DATA),
    "co_missing_groups": Rule(_CASE, person_level=True),
    # network views (combination of records about people)
    "network_ego": Rule(frozenset({"analyst", "cog_member", "mase_member"}), person_level=True),
    "network_bridging": Rule(frozenset({"analyst", "cog_member", "mase_member"}), person_level=True),
    "network_components": Rule(frozenset({"analyst", "cog_member"}), person_level=True),
    # children
    "person_profile": Rule(_CASE, person_level=True),
    "missing_now": Rule(_CASE, person_level=True),
    "worrying_cases": Rule(frozenset({"analyst", "mog_member", "mase_member"}), person_level=True),
    "cse_victims_at_risk": Rule(frozenset({"analyst", "cog_member", "mase_member"}), person_level=True),
    # scorecards (aggregates)
    "scorecard_mog": Rule(_CASE), "scorecard_cse": Rule(_CASE),
    # licensing officers: screening, review records of premises
    "licensing_screen": Rule(frozenset({"analyst", "licensing_officer"})),
    "licensing_reviews": Rule(frozenset({"analyst", "licensing_officer", "cog_member"})),
    "licensing_review_record": Rule(frozenset({"analyst", "licensing_officer"}), action="alteration"),
    # data quality lists record keys per source: analysts only
    "data_quality": Rule(frozenset({ANALYST})),
    # administration
    "audit_list": Rule(frozenset({"admin"})), "audit_verify": Rule(frozenset({"admin"})),
    "users_list": Rule(frozenset({"admin"})),
    "erase_subject": Rule(frozenset({"admin"}), action="erasure"),
    "refresh_layers": Rule(frozenset({"analyst", "admin"}), action="alteration"),
    # the maps engineer's web page (maps.web.router): page and vendored assets hold no data;
    # meeting packs are disclosures of person-level data
    "web_page": PUBLIC, "web_static": PUBLIC, "web_base_labels": PUBLIC, "web_favicon": PUBLIC,
    # the licensing pack is for licensing officers too; which role gets which pack: maps.packs.PACK_ROLES
    "pack": Rule(_DATA, action="disclosure", person_level=True),
}

COLLECTION_ROLES: dict[str, frozenset[str]] = {
    "found_at": _DATA,
    "found_at_clusters": _DATA,
    "space_time_clusters": _DATA,
    "hotspots_ward": _DATA,
    "hotspots_lsoa": _DATA,
    "hotspots_grid": _DATA,
    "heat_grid": _DATA,
    "premises_of_concern": _DATA,
    "premises": _DATA,
    "co_missing_lines": _CASE,
    "placements": frozenset({ANALYST}),
}


def rule_for(route_name: str | None) -> Rule | None:
    return ROUTES.get(route_name or "")


def allowed(route_name: str, role: str) -> bool:
    rule = rule_for(route_name)
    return bool(rule and (rule.public or role in rule.roles))


def collection_allowed(collection_id: str, role: str) -> bool:
    return role in COLLECTION_ROLES.get(collection_id, frozenset())
