"""The role-by-route matrix, enforced on every route by one dependency (``dependencies.authorize``).

Every route of the app is named (FastAPI ``name``) and must appear in :data:`ROUTES`, either as
public (no token) or with the roles allowed and the audit action it records. A route missing from
the matrix is refused to everyone (fail closed); ``tests/api/routes/test_matrix.py`` enumerates
every route for every role.

Collections add a second dimension (:data:`COLLECTION_ROLES`): which roles may see which layer.
Placement (children's home) locations are for analysts only. ``admin`` administers users and reads
the audit trail; it sees no case data.

Meeting packs (:data:`PACK_CONTENTS`) hold the data of several routes at once, so a pack kind is
allowed only to the roles allowed *every* route whose data it contains (least privilege: a
mog_member, refused ``/network/ego``, gets no MASE pack with a child's ego network; a cog_member,
refused ``/children/worrying``, gets no MOG pack with the most worrying cases). A pack kind not
named here is refused to everyone until it is. Person-level layers (:data:`PERSON_LEVEL_COLLECTIONS`)
need a stated ``purpose`` on items, features, TileJSON and tiles, for analysts too.
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
    #: a route whose path parameter ``param`` selects what is disclosed (pack kinds): the roles
    #: allowed per value; a value not in ``variants`` is refused to everyone
    param: str | None = None
    variants: dict | None = None

    def allows(self, role: str | None, value: str | None = None) -> bool:
        """Whether ``role`` may use the route (and, for a route with variants, this variant)."""
        if self.public:
            return True
        if role not in self.roles:
            return False
        if self.param is not None:
            return role in (self.variants or {}).get(value or "", frozenset())
        return True


PUBLIC = Rule(frozenset(), public=True)

ROUTES: dict[str, Rule] = {
    # public: the token endpoint, the API description, liveness, and the OGC landing page
    # (links, or the web page) and conformance classes, which hold no data and which OGC
    # clients read before they send credentials
    "login": Rule(frozenset(), action="login", public=True),
    "openapi": PUBLIC, "swagger_ui_html": PUBLIC, "swagger_ui_redirect": PUBLIC,
    "redoc_html": PUBLIC, "health": PUBLIC, "landing": PUBLIC, "conformance": PUBLIC,
    # any signed-in user
    "whoami": Rule(_ALL), "token_refresh": Rule(_ALL, action="login"),
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
    # "pack": added below from PACK_CONTENTS (roles per pack kind)
}

#: the routes whose data each meeting pack kind contains (maps/packs.py): the MOG pack has the
#: scorecard, trends, ward hot spots and the six most worrying cases; the COG pack premises of
#: concern, bridging adults, co-missing groups, ego networks of adults; the MASE pack one child's
#: profile, places and ego network. A new kind is denied until it is named here.
PACK_CONTENTS: dict[str, tuple[str, ...]] = {
    "mog": ("scorecard_mog", "area_trends", "area_hotspots", "worrying_cases"),
    "cog": ("premises_of_concern", "network_bridging", "network_ego", "co_missing_groups",
            "area_hotspots", "scorecard_cse", "cse_victims_at_risk"),
    "mase": ("person_profile", "network_ego", "premises_of_concern"),
    # premises of concern and their review records, no person reference (maps.cse_packs)
    "licensing": ("premises_of_concern", "licensing_reviews"),
}


def _pack_roles(kind: str) -> frozenset[str]:
    allowed = set(ROLES)
    for route in PACK_CONTENTS.get(kind, ()):
        allowed &= ROUTES[route].roles
    return frozenset(allowed) if kind in PACK_CONTENTS else frozenset()


PACK_ROLES: dict[str, frozenset[str]] = {k: _pack_roles(k) for k in PACK_CONTENTS}
ROUTES["pack"] = Rule(frozenset().union(*PACK_ROLES.values()), action="disclosure",
                      person_level=True, param="kind", variants=PACK_ROLES)

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


#: layers of person-level data (a child's places, who goes missing with whom, children's homes):
#: items, features, TileJSON and tiles of these need a ``purpose`` whatever the role
PERSON_LEVEL_COLLECTIONS = frozenset({"found_at", "co_missing_lines", "placements"})


#: routes that serve a collection's features (metadata alone, ``collection``, is not personal data)
LAYER_DATA_ROUTES = frozenset({"items", "item", "tilejson", "tile"})


def needs_purpose(route_name: str | None, path_params) -> bool:
    """True for the feature routes of a person-level layer (a purpose is then required)."""
    return (route_name in LAYER_DATA_ROUTES
            and (path_params or {}).get("collection_id") in PERSON_LEVEL_COLLECTIONS)


def pack_allowed(kind: str, role: str) -> bool:
    """Whether ``role`` may receive a pack of ``kind`` (the API route and the CLI alike)."""
    return role in PACK_ROLES.get(kind, frozenset())


def raw_ids_allowed(role: str | None) -> bool:
    """Only analysts may name a child by person id or care-system record key (others use the
    pseudonym): otherwise a lookup would map care ids to pseudonyms and reveal which ids exist."""
    return role == ANALYST


def rule_for(route_name: str | None) -> Rule | None:
    return ROUTES.get(route_name or "")


def allowed(route_name: str, role: str, value: str | None = None) -> bool:
    rule = rule_for(route_name)
    return bool(rule and rule.allows(role, value))


def collection_allowed(collection_id: str, role: str) -> bool:
    return role in COLLECTION_ROLES.get(collection_id, frozenset())
