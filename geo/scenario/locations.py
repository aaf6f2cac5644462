"""Messy location texts with known truth, for the scenario generator.

A :class:`Catalogue` holds every location text the generator may write, one row per distinct text,
with its truth: ``easting``/``northing`` (EPSG:27700 metres), ``precision`` (the best precision an
offline geocoder can reach with the bundled reference data: premises, postcode, street, area,
none), ``ward_code`` and ``resolvable``. Texts are unique, so a text always means one place.
Rendering a true target (a postcode, a premises, a place, a street, a ward) picks one of its
variants at random, vectorised: ``start[target] + floor(u**1.6 * count[target])`` so the tidier
first variants are the commonest.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.scenario.reference import AREA_FORMS, NONE_TEXTS, STREET_STEMS, STREET_SUFFIXES, Reference

KINDS = ("postcode", "place", "street", "ward", "premises", "none")


def addresses(rng: np.random.Generator, postcodes: pd.Series, ward_names: pd.Series) -> pd.Series:
    """'12 Albert Road, Aston, B6 4PS'-style addresses (fictional street names, real postcodes)."""
    n = len(postcodes)
    num = pd.Series(rng.integers(1, 240, n)).astype(str)
    street = pd.Series(STREET_STEMS[rng.integers(0, len(STREET_STEMS), n)]) + " " + \
        pd.Series(STREET_SUFFIXES[rng.integers(0, len(STREET_SUFFIXES), n)])
    flat = pd.Series(np.where(rng.random(n) < 0.1, "Flat " + pd.Series(rng.integers(1, 30, n)).astype(str) + ", ", ""))
    return flat + num + " " + street + ", " + ward_names.reset_index(drop=True) + ", " + postcodes.reset_index(drop=True)


def _pc_variants(pc: pd.Series) -> list[pd.Series]:
    compact = pc.str.replace(" ", "", regex=False)
    out, inw = pc.str.split(" ").str[0], pc.str.split(" ").str[1]
    return [pc, compact, compact.str.lower(), out + "  " + inw, pc.str.lower(), " " + compact + " "]


def _premises_variants(name: pd.Series, pc: pd.Series, nickname: pd.Series | None = None) -> list[pd.Series]:
    """Ways people write a premises; ``nickname`` (the invented premises' street name, e.g.
    "the offie Fennstead") replaces the generic nickname and is also written on its own."""
    short = (name.str.replace(r"\bStreet\b", "St", regex=True).str.replace(r"\bRoad\b", "Rd", regex=True)
             .str.replace(r"\bBirmingham\b ?", "", regex=True).str.replace(r"^The ", "", regex=True).str.strip())
    nick = (name.str.replace(r"(?i).*wetherspoon.*", "the Spoons", regex=True)
            .str.replace(r"(?i)^mcdonald'?s", "maccies", regex=True))
    own = pd.Series("", index=name.index) if nickname is None else nickname.fillna("").astype(str)
    nick = nick.where(own == "", own)
    return [name, name.str.lower(), "outside " + name, short, short.str.lower(), nick + " " + pc,
            name + ", " + pc, "the " + short.str.lower(), own]


class Catalogue:
    """Every location text the scenario may write, with its truth (EPSG:27700 metres)."""

    def __init__(self, ref: Reference, rng: np.random.Generator):
        self.ref = ref
        pcs, wards = ref.postcodes, ref.wards
        ward_ix = pd.Series(np.arange(len(wards)), index=wards.ward_code)
        parts = []

        def add(kind, target, text, e, n, precision, ward, order):
            parts.append(pd.DataFrame({"kind": kind, "target": np.asarray(target), "order": order,
                                       "text": pd.Series(text).astype(str).to_numpy(),
                                       "easting": np.asarray(e, dtype=float), "northing": np.asarray(n, dtype=float),
                                       "precision": precision, "ward_code": np.asarray(ward, dtype=object)}))

        t = np.arange(len(pcs))
        self.postcode_address = addresses(rng, pcs.postcode, pcs.ward_name)
        variants = _pc_variants(pcs.postcode)
        for j, v in enumerate(variants[:1] + [self.postcode_address] + variants[1:]):
            add("postcode", t, v, pcs.easting, pcs.northing, "postcode", pcs.ward_code, j)
        pl = ref.places
        for j, v in enumerate([pl.name, pl.name.str.lower()]):
            add("place", np.arange(len(pl)), v, pl.true_e, pl.true_n, "premises", pl.ward_code, j)
        al = pl[["aliases", "true_e", "true_n", "ward_code"]].assign(t=np.arange(len(pl))).explode("aliases")
        add("place", al.t, al.aliases, al.true_e, al.true_n, "premises", al.ward_code, 2)
        st = ref.streets
        add("street", np.arange(len(st)), st.name, st.true_e, st.true_n, "street", st.ward_code, 0)
        sl = st.assign(t=np.arange(len(st))).explode("aliases")
        add("street", sl.t, sl.aliases, sl.true_e, sl.true_n, "street", sl.ward_code, 1)
        add("street", sl.t, "on " + sl.aliases, sl.true_e, sl.true_n, "street", sl.ward_code, 2)
        for j, form in enumerate(AREA_FORMS):
            text = [form.format(w=w, lw=w.lower()) for w in wards.ward_name]
            add("ward", np.arange(len(wards)), text, wards.easting, wards.northing, "area", wards.ward_code, j)
        pr = ref.premises
        for j, v in enumerate(_premises_variants(pr.name, pr.pc_norm, pr.get("nickname"))):
            add("premises", np.arange(len(pr)), v, pr.true_e, pr.true_n, "premises", pr.ward_code, j)
        add("none", np.arange(len(NONE_TEXTS)), NONE_TEXTS, np.nan, np.nan, "none", None, 0)

        cat = pd.concat(parts, ignore_index=True)
        cat["text"] = cat.text.str.replace(r"\s+$", " ", regex=True)
        cat = cat[cat.text.str.strip().str.len() > 2]
        # A text must mean one place: drop every text written for two different targets, then keep
        # one row per text.
        key = (cat.kind + ":" + cat.target.astype(str)).where(cat.kind != "none", "none")
        norm = cat.text.str.lower().str.replace(r"[^a-z0-9]", "", regex=True)
        ambiguous = pd.Series(key.to_numpy()).groupby(norm.to_numpy()).transform("nunique").to_numpy() > 1
        cat = cat[~ambiguous].drop_duplicates("text")
        cat = cat.sort_values(["kind", "target", "order"], kind="stable").reset_index(drop=True)
        cat["resolvable"] = cat.kind != "none"
        self.table = cat
        self.text = cat.text.to_numpy(dtype=object)
        self._offsets = {}
        for kind in KINDS:
            sizes = {"postcode": len(pcs), "place": len(pl), "street": len(st), "ward": len(wards),
                     "premises": len(pr), "none": len(NONE_TEXTS)}[kind]
            sub = cat.index[cat.kind == kind]
            tg = cat.target.to_numpy()[sub]
            count = np.bincount(tg, minlength=sizes)
            start = np.full(sizes, sub.min() if len(sub) else 0)
            first = np.searchsorted(tg, np.arange(sizes))
            start = sub.min() + first if len(sub) else start
            self._offsets[kind] = (start, count)
        self.ward_index = ward_ix
        pr_ok = self.variant_count("premises") > 0
        self.usable_premises = np.flatnonzero(pr_ok)
        self._tree = cKDTree(np.c_[pr.true_e.to_numpy()[pr_ok], pr.true_n.to_numpy()[pr_ok]])

    def variant_count(self, kind: str) -> np.ndarray:
        return self._offsets[kind][1]

    def render(self, rng: np.random.Generator, kind: str, target: np.ndarray) -> np.ndarray:
        """Catalogue row index of one random variant for each target (-1 where none exists)."""
        target = np.asarray(target, dtype=np.int64)
        start, count = self._offsets[kind]
        c = count[target]
        idx = start[target] + np.floor(rng.random(target.size) ** 1.6 * c).astype(np.int64)
        return np.where(c > 0, idx, -1)

    def render_point(self, rng: np.random.Generator, pc_idx: np.ndarray, p_premises: float = 0.12,
                     p_area: float = 0.12, p_none: float = 0.08, p_empty: float = 0.06) -> np.ndarray:
        """Texts for true postcode points: postcode spellings and addresses, the nearest premises
        (within 120 m) by name, the ward by a vague description, or nothing useful.

        Keeps the point distribution proportional to the chosen postcodes (premises stand in only
        for a postcode within 120 m; area texts stay in the postcode's ward). -2 marks an empty cell.
        """
        pc_idx = np.asarray(pc_idx, dtype=np.int64)
        n = pc_idx.size
        out = self.render(rng, "postcode", pc_idx)
        u = rng.random(n)
        pcs = self.ref.postcodes
        m = u < p_premises
        if m.any():
            d, j = self._tree.query(np.c_[pcs.easting.to_numpy()[pc_idx[m]], pcs.northing.to_numpy()[pc_idx[m]]])
            near = d < 120
            sel = np.flatnonzero(m)[near]
            out[sel] = self.render(rng, "premises", self.usable_premises[j[near]])
        m = (u >= p_premises) & (u < p_premises + p_area)
        if m.any():
            w = self.ward_index.loc[pcs.ward_code.to_numpy()[pc_idx[m]]].to_numpy()
            out[m] = self.render(rng, "ward", w)
        m = (u >= p_premises + p_area) & (u < p_premises + p_area + p_none)
        out[m] = self.render(rng, "none", rng.integers(0, len(NONE_TEXTS), m.sum()))
        out[u >= 1 - p_empty] = -2
        return out

    def texts(self, idx: np.ndarray) -> np.ndarray:
        """Texts for catalogue indices; negative indices give ''."""
        idx = np.asarray(idx)
        return np.where(idx >= 0, self.text[np.maximum(idx, 0)], "")

    def truth(self, used: np.ndarray) -> pd.DataFrame:
        """truth.json location records for the used catalogue indices."""
        u = np.unique(np.asarray(used)[np.asarray(used) >= 0])
        t = self.table.iloc[u]
        return t[["text", "easting", "northing", "precision", "ward_code", "resolvable", "kind"]]
