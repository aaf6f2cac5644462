"""The domain model of a drop: files, columns, vocabularies (shared/DATA_CONTRACT.md).

One declarative table per contract file says what each column holds; `geo.ingest` validates every
file against it, vectorised. Nothing here touches the database.

>>> normalise_vocab(pd.Series(["Away-Without Authorisation", " MISSING "]), "category").tolist()
['away_without_authorisation', 'missing']
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

#: Controlled vocabularies. Values are matched case-insensitively, with spaces, hyphens and
#: underscores equivalent; SYNONYMS maps accepted alternatives onto these values.
VOCAB: dict[str, tuple[str, ...]] = {
    "sex": ("female", "male", "other", "unknown"),
    "care_status": ("cic", "cp", "cin", "none", "unknown"),
    "placement_type": ("residential", "foster", "kinship", "parent", "semi_independent",
                       "supported_lodgings", "secure", "other", "none"),
    "cse_risk": ("none", "at_risk", "significant", "serious"),
    "category": ("missing", "absent", "away_without_authorisation"),
    "police_risk": ("high", "medium", "low", "none"),
    "missing_from": ("home", "care", "education", "other"),
    "rag": ("red", "amber", "green"),
    "outcome": ("engaged", "declined", "no_engagement", "not_offered"),
    "triage": ("red", "amber", "green"),
    "priority": ("priority_red", "first_time", "none"),
    "role": ("adult_of_concern", "peer", "family", "professional", "unknown"),
    "premises_type": ("pub", "bar", "nightclub", "restaurant", "takeaway", "cafe", "hotel", "bnb",
                      "serviced_apartment", "shop", "off_licence", "shopping_centre", "leisure",
                      "gambling", "taxi_rank", "taxi_operator", "park", "other"),
    "licence_type": ("premises_licence", "club_premises_certificate", "gambling",
                     "private_hire_operator", "hackney_carriage", "other"),
    "status": ("active", "suspended", "revoked", "surrendered", "expired"),
    "kind": ("park", "station", "shopping_centre", "school", "street", "area", "other"),
    "relation": ("associate", "seen_with", "found_with", "frequents", "resides_at", "works_at",
                 "drives_for", "transported_by", "other"),
    "source_eval": ("1", "2", "3"),
    "intel_eval": ("a", "b", "c", "d", "e"),
    "handling": ("p", "c"),
    "tool": ("seraf", "screening", "other"),
    "risk_level": ("none", "low", "medium", "high"),
    "crime_kind": ("crime", "non_crime"),
    "yes_no": ("yes", "no"),
    "education_status": ("cme", "cnes", "removed_unlocated", "elective_home_education", "other"),
    "population_sex": ("female", "male", "all"),
}

SYNONYMS: dict[str, dict[str, str]] = {
    "cse_risk": {"low": "at_risk", "medium": "significant", "high": "serious"},
    "sex": {"f": "female", "m": "male", "girl": "female", "boy": "male"},
    "outcome": {"did_not_engage": "no_engagement", "not_engaged": "no_engagement",
                "no_engage": "no_engagement"},
    "care_status": {"lac": "cic", "looked_after": "cic", "in_care": "cic"},
    "placement_type": {"childrens_home": "residential", "children's_home": "residential",
                       "with_parents": "parent", "parents": "parent"},
    "premises_type": {"b&b": "bnb", "bed_and_breakfast": "bnb"},
    "crime_kind": {"noncrime": "non_crime", "non_crime_incident": "non_crime",
                   "incident": "non_crime"},
    "yes_no": {"y": "yes", "n": "no", "true": "yes", "false": "no", "1": "yes", "0": "no"},
    "education_status": {"ehe": "elective_home_education",
                         "children_missing_education": "cme",
                         "child_missing_education": "cme",
                         "not_in_education": "cnes"},
    "population_sex": {"persons": "all", "f": "female", "m": "male"},
    "risk_level": {"standard": "low"},
}

#: Categories of premises for reports.
LOCATION_PRECISIONS = ("premises", "address", "postcode", "street", "area", "none")
REF_KINDS = ("child", "person", "premises", "place", "vehicle")


@dataclass(frozen=True)
class Column:
    """One column of a contract file.

    kind: id | text | date | datetime | vocab | int | float | list | ref | refs | location | postcode
    """

    name: str
    kind: str = "text"
    required: bool = False
    vocab: str | None = None


@dataclass(frozen=True)
class FileSpec:
    """A contract file: its table, natural key and columns."""

    name: str
    table: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    unique_within: str = "source"   # ids are unique within (source, file)
    locations: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name, kind="text", required=False, vocab=None):
    return Column(name, kind, required, vocab if vocab or kind != "vocab" else name)


CHILDREN = FileSpec("children", "children", ("child_id",), (
    _c("child_id", "id", True), _c("source"), _c("given_name"), _c("family_name"), _c("dob", "date"),
    _c("sex", "vocab"), _c("ethnicity"), _c("care_status", "vocab"), _c("placement_type", "vocab"),
    _c("placement_postcode", "location"), _c("responsible_authority"), _c("cse_risk", "vocab"),
    _c("school"), _c("police_id"), _c("carefirst_id"), _c("upn"),
    _c("placement_authority"), _c("establishment"),
), locations=("placement_postcode",))

EPISODES = FileSpec("episodes", "episodes", ("episode_id",), (
    _c("episode_id", "id", True), _c("child_id", "id", True), _c("reported_at", "datetime", True),
    _c("returned_at", "datetime"), _c("category", "vocab", True), _c("police_risk", "vocab"),
    _c("missing_from", "vocab"), _c("reported_by"), _c("last_seen", "location"),
    _c("found_at", "location"), _c("found_with", "refs"), _c("rag", "vocab"), _c("source"),
), locations=("last_seen", "found_at"))

RETURN_INTERVIEWS = FileSpec("return_interviews", "return_interviews", ("rhi_id",), (
    _c("rhi_id", "id", True), _c("episode_id", "id", True), _c("notified_at", "datetime"),
    _c("offered_at", "datetime"), _c("held_at", "datetime"), _c("outcome", "vocab", True),
    _c("triage", "vocab"), _c("priority", "vocab"), _c("push_factors", "list"),
    _c("pull_factors", "list"), _c("issues", "list"), _c("places", "list"),
    _c("associates", "refs"), _c("seraf_score", "int"), _c("source"),
), locations=("places",))

PERSONS = FileSpec("persons", "persons", ("person_id",), (
    _c("person_id", "id", True), _c("given_name"), _c("family_name"), _c("dob", "date"),
    _c("sex", "vocab"), _c("role", "vocab"), _c("address", "location"), _c("police_id"),
    _c("source"),
), locations=("address",))

PREMISES = FileSpec("premises", "premises", ("premises_id",), (
    _c("premises_id", "id", True), _c("name", "text", True), _c("premises_type", "vocab", True),
    _c("address"), _c("postcode"), _c("easting", "float"), _c("northing", "float"),
    _c("latitude", "float"), _c("longitude", "float"), _c("licence_type", "vocab"),
    _c("status", "vocab"), _c("source"),
))

PLACES = FileSpec("places", "places", ("name",), (
    _c("name", "text", True), _c("aliases", "list"), _c("kind", "vocab"), _c("postcode"),
    _c("easting", "float"), _c("northing", "float"), _c("latitude", "float"),
    _c("longitude", "float"), _c("source"),
))

LINKS = FileSpec("links", "links", ("link_id",), (
    _c("from_ref", "ref", True), _c("to_ref", "ref", True), _c("relation", "vocab", True),
    _c("observed_at", "datetime"), _c("source_ref"), _c("grading"), _c("source"),
))

INTELLIGENCE = FileSpec("intelligence", "intelligence", ("intel_id",), (
    _c("intel_id", "id", True), _c("recorded_at", "datetime", True),
    _c("source_eval", "vocab"), _c("intel_eval", "vocab"), _c("handling", "vocab"),
    _c("subjects", "refs"), _c("location", "location"), _c("premises_id"), _c("vehicle"),
    _c("tags", "list"), _c("text"), _c("source"),
), locations=("location",))

CSE_ASSESSMENTS = FileSpec("cse_assessments", "cse_assessments", ("assessment_id",), (
    _c("assessment_id", "id", True), _c("child_id", "id", True),
    _c("assessed_at", "datetime", True), _c("tool", "vocab"), _c("score", "int"),
    _c("risk_level", "vocab", True), _c("closed_at", "datetime"), _c("source"),
))

CRIMES = FileSpec("crimes", "crimes", ("crime_id",), (
    _c("crime_id", "id", True), _c("recorded_at", "datetime", True),
    _c("kind", "vocab", True, "crime_kind"), _c("offence"), _c("cse_marker", "vocab", vocab="yes_no"),
    _c("victims", "refs"), _c("suspects", "refs"), _c("outcome_code"),
    _c("location", "location"), _c("source"),
), locations=("location",))

EDUCATION = FileSpec("education", "education", ("record_id",), (
    _c("record_id", "id", True), _c("child_id", "id", True),
    _c("status", "vocab", True, "education_status"), _c("start_date", "date", True),
    _c("end_date", "date"), _c("school"), _c("source"),
))

#: Denominators for rates (ONS mid-year estimates are the intended source). The natural key is
#: derived from (area_code, age_band, year, sex) in ``population_id``.
POPULATIONS = FileSpec("populations", "populations", ("population_id",), (
    _c("area_code", "text", True), _c("age_band", "text", True), _c("year", "int"),
    _c("sex", "vocab", vocab="population_sex"), _c("count", "int", True), _c("source"),
))

#: Files in the order they are ingested: referenced records before the records that refer to them.
FILES: tuple[FileSpec, ...] = (CHILDREN, PERSONS, PREMISES, PLACES, EPISODES, RETURN_INTERVIEWS,
                               LINKS, INTELLIGENCE, CSE_ASSESSMENTS, CRIMES, EDUCATION,
                               POPULATIONS)
FILES_BY_NAME = {f.name: f for f in FILES}


def vocab_key(values: pd.Series) -> pd.Series:
    """Case-fold and make spaces, hyphens and underscores equivalent."""
    return (values.astype("string").str.strip().str.lower()
            .str.replace(r"[\s\-_]+", "_", regex=True))


def normalise_vocab(values: pd.Series, vocab: str) -> pd.Series:
    """Map free-typed vocabulary values onto the controlled values; anything else becomes <NA>."""
    keys = vocab_key(values)
    keys = keys.replace(SYNONYMS.get(vocab, {}))
    return keys.where(keys.isin(VOCAB[vocab]))


def grading_code(source_eval, intel_eval, handling) -> str:
    """The 3x5x2 code as officers write it, e.g. ``2B P``; parts not given are left out."""
    left = f"{source_eval or ''}{(intel_eval or '').upper()}"
    return " ".join(p for p in (left, (handling or "").upper()) if p)
