"""One best view of each person from all their linked records, with the provenance of every value.

Police, social care, the return-interview provider and schools each hold a record of the same
child (linked into one ``person_id`` by identity resolution, ``network.identity``); the records
often disagree (DOMAIN.md, "What goes wrong today"). Every scorecard, pack and profile reads a
child's attributes from this view, never from whichever record happens to come first.

Rule per field (:data:`RULES`): the value of the most authoritative source for that field
(:data:`AUTHORITY`: social care holds care status and placement; schools the school and UPN;
police the police id), ties within a rank broken by the record key (stable); ``unknown`` and
empty cells are no value. CSE risk takes the highest level any source records (a safeguarding
judgement: the most cautious view wins). Where the records of a person hold more than one
distinct value of a field, the view still gives the chosen value but marks the field as a
conflict (``<field>_conflict`` True, all values in ``<field>_values``) so it can be shown and
counted (geo.meetings.data_quality).

>>> import pandas as pd
>>> ch = pd.DataFrame({"person_id": ["P1", "P1", "P1"], "child_key": ["police/1", "carefirst/9", "rhi/4"],
...                    "source": ["police", "carefirst", "rhi_provider"],
...                    "care_status": ["none", "cic", "cp"], "dob": ["2003-01-02"] * 3})
>>> v = person_view(ch)
>>> v.loc["P1", "care_status"], v.loc["P1", "care_status_source"], bool(v.loc["P1", "care_status_conflict"])
('cic', 'carefirst/9', True)
>>> bool(v.loc["P1", "dob_conflict"])
False
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: kinds of source, by a word in the source's name (the contract lets each drop name its sources)
SOURCE_KINDS = (
    ("social_care", ("carefirst", "social", "care", "lcs", "mosaic", "liquidlogic", "eclipse",
                     "csc", "childrens_services", "children_services")),
    ("education", ("education", "school", "ems", "capita", "sims")),
    ("police", ("police", "compact", "niche", "athena", "pnc")),
    ("rhi", ("rhi", "return", "streetwise", "provider")),
)

#: the order in which source kinds are believed, per field (first = most authoritative)
_CARE = ("social_care", "police", "rhi", "education", "other")
_SCHOOL = ("education", "social_care", "rhi", "police", "other")
_POLICE = ("police", "social_care", "education", "rhi", "other")
AUTHORITY = {
    "care_status": _CARE, "placement_type": _CARE, "placement_postcode": _CARE,
    "placement_e": _CARE, "placement_n": _CARE, "placement_ward": _CARE,
    "placement_authority": _CARE, "establishment": _CARE, "responsible_authority": _CARE,
    "given_name": _CARE, "family_name": _CARE, "dob": _CARE, "sex": _CARE, "ethnicity": _CARE,
    "carefirst_id": _CARE, "school": _SCHOOL, "upn": _SCHOOL, "police_id": _POLICE,
}
#: ordered levels for the fields whose rule is "highest"
HIGHEST = {"cse_risk": ("none", "at_risk", "significant", "serious")}
#: the rule of each field: "authority" (AUTHORITY order) or "highest" (HIGHEST order)
RULES = {**{f: "authority" for f in AUTHORITY}, **{f: "highest" for f in HIGHEST}}
#: fields whose disagreement between sources is a data-quality finding (geo.meetings.data_quality)
CHECKED = ("care_status", "placement_type", "placement_postcode", "placement_authority",
           "establishment", "responsible_authority", "dob", "sex", "cse_risk")
#: placement coordinates follow the placement postcode's choice (they are one fact)
_FOLLOWS = {"placement_e": "placement_postcode", "placement_n": "placement_postcode",
            "placement_ward": "placement_postcode"}
NO_VALUE = {"", "unknown", "not known", "nan", "none_recorded"}


def source_kind(source: object) -> str:
    """The kind of a source name: social_care, education, police, rhi or other.

    >>> source_kind("carefirst"), source_kind("Police"), source_kind("rhi_provider"), source_kind("x")
    ('social_care', 'police', 'rhi', 'other')
    """
    s = str(source or "").strip().lower().replace("-", "_").replace(" ", "_")
    for kind, words in SOURCE_KINDS:
        if any(w in s for w in words):
            return kind
    return "other"


def _values(col: pd.Series) -> pd.Series:
    """Comparable text of a field's cells; no value (empty, unknown, NaN) as NaN."""
    if pd.api.types.is_datetime64_any_dtype(col):
        txt = col.dt.strftime("%Y-%m-%d")
    else:
        txt = col.astype("string").str.strip()
    txt = txt.astype(object)
    bad = col.isna().to_numpy() | txt.isna().to_numpy()
    low = pd.Series(txt, index=col.index).astype(str).str.lower()
    bad |= low.isin(NO_VALUE).to_numpy()
    return pd.Series(np.where(bad, None, txt), index=col.index, dtype=object)


def person_view(children: pd.DataFrame, fields=None) -> pd.DataFrame:
    """One row per ``person_id`` of the ``children`` frame (docs/FRAMES.md): for each field, the
    chosen value (the original cell, typed as in the frame), ``<field>_source`` (the record key
    it came from), ``<field>_conflict`` (the person's records hold more than one value) and,
    for the fields in :data:`CHECKED`, ``<field>_values`` (``{record key: value}`` of every
    record with a value, only where they conflict). Also ``records`` (number of records),
    ``sources`` (``;``-joined source names) and ``from_episode`` (True when every record was
    created from an episode of an unknown child)."""
    if children is None or len(children) == 0:
        return pd.DataFrame(index=pd.Index([], name="person_id"))
    # computed on integer codes (persons, record keys, sources and values numbered in sorted
    # order): a national children frame has half a million records and as many persons
    ch = children.reset_index(drop=True)
    key = ch["child_key"] if "child_key" in ch else pd.Series(ch.index.astype(str), index=ch.index)
    src = ch["source"] if "source" in ch else key.astype(str).str.split("/", n=1).str[0]
    s_codes, s_names = pd.factorize(src.astype(str), sort=True)
    s_kinds = [source_kind(n) for n in s_names]           # the kind of each distinct source
    p_codes, persons = pd.factorize(ch["person_id"].astype(str), sort=True)
    n = len(persons)
    key = key.astype(str)
    k_codes, k_names = pd.factorize(key, sort=True)
    out = pd.DataFrame(index=pd.Index(persons.tolist(), name="person_id"))
    out["records"] = np.bincount(p_codes, minlength=n)
    out["sources"] = _joined(p_codes, s_codes, np.asarray(s_names, dtype=object), n)
    if "from_episode" in ch:
        not_ep = ~ch["from_episode"].fillna(False).astype(bool).to_numpy()
        out["from_episode"] = np.bincount(p_codes, weights=not_ep, minlength=n) == 0
    fields = [f for f in (fields or list(RULES) + list(_FOLLOWS)) if f in ch.columns]
    for f in fields:
        if f in _FOLLOWS and _FOLLOWS[f] in ch.columns:
            continue                  # chosen with its leader below
        val = _values(ch[f])
        has = val.notna().to_numpy()
        if RULES.get(f, "authority") == "highest":
            order = {v: i for i, v in enumerate(HIGHEST[f])}
            rank = -val.map(order).fillna(-1).to_numpy(float)
        else:
            order = {k: i for i, k in enumerate(AUTHORITY.get(f, _CARE))}
            rank = np.asarray([order.get(k, len(order)) for k in s_kinds], dtype=float)[s_codes]
        rows = np.flatnonzero(has)
        # the records with a value, by person, then authority (or level), then record key
        rows = rows[np.lexsort((k_codes[rows], rank[rows], p_codes[rows]))]
        rp = p_codes[rows]
        lead = np.r_[True, rp[1:] != rp[:-1]] if len(rp) else np.zeros(0, dtype=bool)
        chosen = np.full(n, -1, dtype=np.int64)          # the chosen record of each person
        chosen[rp[lead]] = rows[lead]
        out[f] = _at(ch[f], chosen, out.index)
        out[f"{f}_source"] = _at(key, chosen, out.index)
        v_codes = pd.factorize(val.to_numpy()[rows])[0].astype(np.int64)
        distinct = np.unique(rp * (v_codes.max(initial=0) + 1) + v_codes)   # (person, value)
        conflict = np.bincount(distinct // (v_codes.max(initial=0) + 1), minlength=n) > 1
        out[f"{f}_conflict"] = conflict
        if f in CHECKED:
            values = np.full(n, np.nan, dtype=object)
            mine = conflict[rp]
            keys, texts = k_names[k_codes[rows[mine]]], val.to_numpy()[rows[mine]]
            for p, k, v in zip(rp[mine].tolist(), keys.tolist(), texts.tolist()):
                if not isinstance(values[p], dict):
                    values[p] = {}
                values[p][k] = v
            out[f"{f}_values"] = values
        for follower, leader in _FOLLOWS.items():
            if leader == f and follower in ch.columns:
                picked = ch[follower].reindex(chosen)
                out[follower] = np.where(chosen >= 0, picked.to_numpy(), np.nan)
    return out


def _joined(p_codes: np.ndarray, s_codes: np.ndarray, s_names: np.ndarray, n: int) -> np.ndarray:
    """Per person (code), the ``;``-joined sorted distinct names of its records' sources."""
    pairs = np.unique(p_codes.astype(np.int64) * len(s_names) + s_codes)
    pp, names = pairs // len(s_names), s_names[pairs % len(s_names)].tolist()
    cuts = np.flatnonzero(np.r_[True, pp[1:] != pp[:-1]]).tolist() + [len(pp)]
    return np.asarray([";".join(names[a:b]) for a, b in zip(cuts[:-1], cuts[1:])], dtype=object)


def _at(column: pd.Series, rows: np.ndarray, index: pd.Index) -> pd.Series:
    """The cells of ``column`` at ``rows`` (-1: missing, as ``Series.reindex`` fills them),
    indexed by ``index``."""
    return column.reindex(rows).set_axis(index)


def conflicts(view: pd.DataFrame, fields=CHECKED) -> pd.DataFrame:
    """Long form of the fields on which a person's records disagree: person_id, field, chosen
    (the view's value), chosen_from (record key), values (``record: value; ...``)."""
    rows = []
    for f in fields:
        c = f"{f}_conflict"
        if c not in view:
            continue
        sub = view[view[c].fillna(False).astype(bool)]
        for pid, r in sub.iterrows():
            vals = r.get(f"{f}_values")
            rows.append({"person_id": pid, "field": f, "chosen": _text(r[f]),
                         "chosen_from": r[f"{f}_source"],
                         "values": "; ".join(f"{k}: {v}" for k, v in (vals or {}).items())})
    return pd.DataFrame(rows, columns=["person_id", "field", "chosen", "chosen_from", "values"])


def _text(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return str(v)


def attribute(view: pd.DataFrame, field: str, person_ids: pd.Series) -> pd.Series:
    """The view's ``field`` of each person id in ``person_ids`` (NaN where the view has none)."""
    if field not in view:
        return pd.Series(np.nan, index=person_ids.index, dtype=object)
    return person_ids.map(view[field])
