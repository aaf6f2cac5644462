"""The domain model of a drop: files, columns, vocabularies (shared/DATA_CONTRACT.md).

One declaration per contract file (``CONTRACT``) says what each column holds, which columns are
personal data or location texts, which table stores it and how erasure covers it. `geo.storage.ingest`
validates every file against it (vectorised, plus the rules registered on it), `geo.storage.schema`
derives the drop tables from it, the generator writes its headers and erasure reads its table
list from it. Nothing here touches the database.

To add a drop file: declare its ``FileSpec`` and add it to ``CONTRACT`` (at its place in the
ingest order), register its validation rules with ``@CONTRACT.rule(name)`` in geo.storage.ingest, and
add a migration creating its table (tests/geo/test_schema_migrations.py names what is missing).
A file with personal data must declare its ``Erasure`` or the contract refuses it.

>>> normalise_vocab(pd.Series(["Away-Without Authorisation", " MISSING "]), "category").tolist()
['away_without_authorisation', 'missing']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

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
    """One column of a contract file (or one the ingest rules derive and store beside them).

    kind: id | text | date | datetime | vocab | int | float | list | ref | refs | location | postcode
    size: the stored width (``String(size)``); None stores ids as ``String(128)`` and texts as
    ``Text``. stored: False for input columns converted on ingest (latitude/longitude).
    nullable: the stored column's nullability when it differs from ``not required``.
    after: for a derived column, the column it is stored after (None: right after ``source``).
    """

    name: str
    kind: str = "text"
    required: bool = False
    vocab: str | None = None
    size: int | None = None
    stored: bool = True
    nullable: bool | None = None
    after: str | None = None


@dataclass(frozen=True)
class Erasure:
    """How erasure (api erase) covers a file's table.

    how: in words, for the report and the docs. with_child: rows belong to one child through the
    derived ``child_key`` and are deleted with the child. mentions: ``(refs column, count name)``
    pairs whose entries naming the subject are scrubbed from other records. Files whose erasure
    needs more (children, persons, links, intelligence) are handled by name in erasure itself.
    """

    how: str
    with_child: bool = False
    mentions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class FileSpec:
    """A contract file: its table, natural key and columns, and how the store keeps it.

    personal: the columns holding personal data (a file with any must declare its ``erasure``).
    locations: the columns holding location texts, geocoded after ingest.
    derived: columns the file's validation rules add (stored, not read from the drop).
    indexes: columns indexed in its table.
    """

    name: str
    table: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    unique_within: str = "source"   # ids are unique within (source, file)
    locations: tuple[str, ...] = field(default_factory=tuple)
    personal: tuple[str, ...] = field(default_factory=tuple)
    erasure: Erasure | None = None
    derived: tuple[Column, ...] = field(default_factory=tuple)
    indexes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def file_name(self) -> str:
        """The file's name in a drop (``children.csv``)."""
        return f"{self.name}.csv"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def stored_columns(self) -> list[Column]:
        """The table's contract columns in stored order: ``source``, then the declared columns
        that are stored, each followed by the derived columns stored after it."""
        after: dict[str | None, list[Column]] = {}
        for d in self.derived:
            after.setdefault(d.after, []).append(d)
        source = next((c for c in self.columns if c.name == "source"), Column("source"))
        out = [source, *after.get(None, [])]
        for c in self.columns:
            if c.name != "source" and c.stored:
                out += [c, *after.get(c.name, [])]
        return out


#: A validation rule: ``rule(ctx, frame, problems, warnings) -> frame`` runs after the column
#: checks of its file (geo.storage.ingest); it may hold rows (``problems.add``), warn, and add the
#: file's derived columns. ``ctx`` is the ingest of the drop (earlier files' keys, the store).
Rule = Callable[..., pd.DataFrame]


class Contract:
    """The registry of drop files: each declared once, with its validation rules registered on it.

    Ingest, the schema (geo.storage.schema.drop_tables), the generator's headers and erasure's table list
    all read it; ``extend`` gives a copy with more files (tests declare toy files this way).
    """

    def __init__(self, files: Iterable[FileSpec]):
        self.files: tuple[FileSpec, ...] = tuple(files)
        self.by_name: dict[str, FileSpec] = {f.name: f for f in self.files}
        if len(self.by_name) != len(self.files):
            raise ValueError("two contract files share a name")
        for f in self.files:
            _check_spec(f)
        self._rules: dict[str, list[Rule]] = {f.name: [] for f in self.files}

    def rule(self, name: str) -> Callable[[Rule], Rule]:
        """Register a validation rule of file ``name`` (a decorator); rules run in the order
        registered."""
        if name not in self.by_name:
            raise KeyError(f"no contract file {name!r}")

        def register(fn: Rule) -> Rule:
            self._rules[name].append(fn)
            return fn
        return register

    def rules(self, name: str) -> tuple[Rule, ...]:
        return tuple(self._rules[name])

    def extend(self, *files: FileSpec) -> "Contract":
        """A new registry: these files after this one's, with this one's rules."""
        out = Contract(self.files + files)
        for name, fns in self._rules.items():
            out._rules[name] = list(fns)
        return out

    def personal_files(self) -> tuple[FileSpec, ...]:
        """Files holding personal data (erasure must cover each)."""
        return tuple(f for f in self.files if f.personal)

    def header(self, name: str) -> list[str]:
        """The header of a file as the generator writes it: the declared columns, in order."""
        return self.by_name[name].column_names


def _check_spec(spec: FileSpec) -> None:
    names = set(spec.column_names)
    derived = {d.name for d in spec.derived}
    for group, cols in (("key", spec.key), ("locations", spec.locations),
                        ("personal", spec.personal), ("indexes", spec.indexes)):
        unknown = [c for c in cols if c not in names | derived]
        if unknown:
            raise ValueError(f"{spec.name}: {group} names undeclared columns {unknown}")
    if bool(spec.personal) != (spec.erasure is not None):
        raise ValueError(f"{spec.name}: a file with personal data declares its erasure, and only "
                         "such a file")
    refs = [c.name for c in spec.columns if c.kind in ("ref", "refs") and c.name not in spec.personal]
    if refs:
        raise ValueError(f"{spec.name}: references to people are personal data: {refs}")
    if spec.erasure and spec.erasure.with_child and "child_key" not in derived:
        raise ValueError(f"{spec.name}: rows deleted with the child need a derived child_key")
    for col, _ in (spec.erasure.mentions if spec.erasure else ()):
        if col not in names or spec.column(col).kind != "refs":
            raise ValueError(f"{spec.name}: erasure scrubs mentions from refs columns, not {col!r}")


def _c(name, kind="text", required=False, vocab=None, size=None, **kw):
    return Column(name, kind, required, vocab if vocab or kind != "vocab" else name, size, **kw)


def _derived(name, kind="text", size=None, after=None, **kw):
    return Column(name, kind, False, None, size, after=after, **kw)


_NAME = ("given_name", "family_name", "dob", "sex")

CHILDREN = FileSpec("children", "children", ("child_id",), (
    _c("child_id", "id", True), _c("source", size=64), _c("given_name"), _c("family_name"),
    _c("dob", "date"), _c("sex", "vocab", size=16), _c("ethnicity"),
    _c("care_status", "vocab", size=16), _c("placement_type", "vocab", size=32),
    _c("placement_postcode", "location"), _c("responsible_authority"),
    _c("cse_risk", "vocab", size=16), _c("school"), _c("police_id", size=128),
    _c("carefirst_id", size=128), _c("upn", size=128),
    _c("placement_authority"), _c("establishment"),
), locations=("placement_postcode",),
    personal=("child_id", *_NAME, "ethnicity", "care_status", "placement_type",
              "placement_postcode", "cse_risk", "school", "police_id", "carefirst_id", "upn",
              "establishment"),
    erasure=Erasure("records deleted"),
    # a child created from an episode whose child_id is not in children.csv
    derived=(_derived("from_episode", "bool", nullable=False, after="establishment"),))

EPISODES = FileSpec("episodes", "episodes", ("episode_id",), (
    _c("episode_id", "id", True), _c("child_id", "id", True), _c("reported_at", "datetime", True),
    _c("returned_at", "datetime"), _c("category", "vocab", True, size=32),
    _c("police_risk", "vocab", size=16), _c("missing_from", "vocab", size=16),
    _c("reported_by"), _c("last_seen", "location"), _c("found_at", "location"),
    _c("found_with", "refs"), _c("rag", "vocab", size=8), _c("source", size=64),
), locations=("last_seen", "found_at"),
    personal=("child_id", "reported_at", "returned_at", "category", "police_risk",
              "missing_from", "reported_by", "last_seen", "found_at", "found_with", "rag"),
    erasure=Erasure("deleted with the child; found_with mentions scrubbed", with_child=True,
                    mentions=(("found_with", "episode_mentions"),)),
    derived=(_derived("child_key", size=200, nullable=False, after="child_id"),),
    indexes=("child_key", "reported_at"))

RETURN_INTERVIEWS = FileSpec("return_interviews", "return_interviews", ("rhi_id",), (
    _c("rhi_id", "id", True), _c("episode_id", "id", True), _c("notified_at", "datetime"),
    _c("offered_at", "datetime"), _c("held_at", "datetime"),
    _c("outcome", "vocab", True, size=16), _c("triage", "vocab", size=8),
    _c("priority", "vocab", size=16), _c("push_factors", "list"),
    _c("pull_factors", "list"), _c("issues", "list"), _c("places", "list"),
    _c("associates", "refs"), _c("seraf_score", "int"), _c("source", size=64),
), locations=("places",),
    personal=("episode_id", "outcome", "push_factors", "pull_factors", "issues", "places",
              "associates", "seraf_score"),
    erasure=Erasure("deleted with the episode; associates mentions scrubbed",
                    mentions=(("associates", "interview_mentions"),)),
    derived=(_derived("episode_key", size=200, nullable=False, after="episode_id"),),
    indexes=("episode_key",))

PERSONS = FileSpec("persons", "persons", ("person_id",), (
    _c("person_id", "id", True), _c("given_name"), _c("family_name"), _c("dob", "date"),
    _c("sex", "vocab", size=16), _c("role", "vocab", size=32), _c("address", "location"),
    _c("police_id", size=128), _c("source", size=64),
), locations=("address",),
    personal=("person_id", *_NAME, "role", "address", "police_id"),
    erasure=Erasure("records deleted"))

PREMISES = FileSpec("premises", "premises", ("premises_id",), (
    _c("premises_id", "id", True), _c("name", "text", True),
    # required in the file; the stored column predates the rule and stays nullable
    _c("premises_type", "vocab", True, size=32, nullable=True),
    _c("address"), _c("postcode", size=16), _c("easting", "float"), _c("northing", "float"),
    _c("latitude", "float", stored=False), _c("longitude", "float", stored=False),
    _c("licence_type", "vocab", size=32), _c("status", "vocab", size=16), _c("source", size=64),
), derived=(_derived("coordinates_from", size=16, after="northing"),))   # given | geocoded | none

PLACES = FileSpec("places", "places", ("name",), (
    _c("name", "text", True), _c("aliases", "list"), _c("kind", "vocab", size=32),
    _c("postcode", size=16), _c("easting", "float"), _c("northing", "float"),
    _c("latitude", "float", stored=False), _c("longitude", "float", stored=False),
    _c("source", size=64),
))

LINKS = FileSpec("links", "links", ("link_id",), (
    _c("from_ref", "ref", True), _c("to_ref", "ref", True),
    _c("relation", "vocab", True, size=32), _c("observed_at", "datetime"), _c("source_ref"),
    _c("grading", size=16), _c("source", size=64),
), personal=("from_ref", "to_ref", "relation", "observed_at"),
    erasure=Erasure("links with the subject at either end deleted"),
    derived=(_derived("link_id", size=32, nullable=False),))   # a hash of the link's content

INTELLIGENCE = FileSpec("intelligence", "intelligence", ("intel_id",), (
    _c("intel_id", "id", True), _c("recorded_at", "datetime", True),
    _c("source_eval", "vocab", size=1), _c("intel_eval", "vocab", size=1),
    _c("handling", "vocab", size=1), _c("subjects", "refs"), _c("location", "location"),
    _c("premises_id", size=128), _c("vehicle", size=32), _c("tags", "list"), _c("text"),
    _c("source", size=64),
), locations=("location",),
    personal=("subjects", "location", "vehicle", "text"),
    erasure=Erasure("subjects scrubbed, names redacted from the text"))

CSE_ASSESSMENTS = FileSpec("cse_assessments", "cse_assessments", ("assessment_id",), (
    _c("assessment_id", "id", True), _c("child_id", "id", True),
    _c("assessed_at", "datetime", True), _c("tool", "vocab", size=16), _c("score", "int"),
    _c("risk_level", "vocab", True, size=8), _c("closed_at", "datetime"), _c("source", size=64),
), personal=("child_id", "assessed_at", "tool", "score", "risk_level", "closed_at"),
    erasure=Erasure("deleted with the child", with_child=True),
    derived=(_derived("child_key", size=200, nullable=False, after="child_id"),),
    indexes=("child_key",))

CRIMES = FileSpec("crimes", "crimes", ("crime_id",), (
    _c("crime_id", "id", True), _c("recorded_at", "datetime", True),
    _c("kind", "vocab", True, "crime_kind", size=16), _c("offence"),
    _c("cse_marker", "vocab", vocab="yes_no", size=4), _c("victims", "refs"),
    _c("suspects", "refs"), _c("outcome_code", size=64), _c("location", "location"),
    _c("source", size=64),
), locations=("location",),
    personal=("victims", "suspects"),
    erasure=Erasure("victims and suspects mentions scrubbed",
                    mentions=(("victims", "crime_victim_mentions"),
                              ("suspects", "crime_suspect_mentions"))))

EDUCATION = FileSpec("education", "education", ("record_id",), (
    _c("record_id", "id", True), _c("child_id", "id", True),
    _c("status", "vocab", True, "education_status", size=32), _c("start_date", "date", True),
    _c("end_date", "date"), _c("school"), _c("source", size=64),
), personal=("child_id", "status", "start_date", "end_date", "school"),
    erasure=Erasure("deleted with the child", with_child=True),
    derived=(_derived("child_key", size=200, nullable=False, after="child_id"),),
    indexes=("child_key",))

#: Denominators for rates (ONS mid-year estimates are the intended source). The natural key is
#: derived from (area_code, age_band, year, sex) in ``population_id``.
POPULATIONS = FileSpec("populations", "populations", ("population_id",), (
    _c("area_code", "text", True, size=16), _c("age_band", "text", True, size=16),
    _c("year", "int"), _c("sex", "vocab", vocab="population_sex", size=8),
    _c("count", "int", True), _c("source", size=64),
), derived=(_derived("population_id", size=200, nullable=False),))

#: The drop contract: files in the order they are ingested (referenced records before the
#: records that refer to them). Validation rules are registered on it in geo.storage.ingest.
CONTRACT = Contract((CHILDREN, PERSONS, PREMISES, PLACES, EPISODES, RETURN_INTERVIEWS, LINKS,
                     INTELLIGENCE, CSE_ASSESSMENTS, CRIMES, EDUCATION, POPULATIONS))
FILES: tuple[FileSpec, ...] = CONTRACT.files
FILES_BY_NAME = CONTRACT.by_name


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
