"""Benchmark and planted-record generator for network.identity.

``planted_records`` builds synthetic children and adults (no real people) with planted
duplicates across sources (nicknames, typos, transposed names, day/month swaps, off-by-a-month
dates, moved placements, missing values, shared identifiers) and planted siblings and twins
(same surname and address, different given names). The tests use it at small scale; the
benchmark at national scale (about 400k child records).

Run:  .venv/bin/python bench/bench_identity.py --children 400000 [--synth]
"""
from __future__ import annotations

import argparse
import json
import resource
import string
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

GIVEN_F = [
    "olivia", "amelia", "isla", "ava", "mia", "isabella", "sophia", "grace", "lily", "freya",
    "emily", "ivy", "ella", "rosie", "evie", "florence", "poppy", "charlotte", "willow",
    "isabelle", "evelyn", "sienna", "elsie", "daisy", "phoebe", "ruby", "matilda", "alice",
    "harper", "sofia", "jessica", "chloe", "lucy", "katherine", "elizabeth", "margaret",
    "rebecca", "samantha", "victoria", "nicola", "jennifer", "hannah", "zara", "aisha",
    "fatima", "maryam", "amira", "layla", "leah", "megan", "bethany", "natalie", "abigail",
    "caitlin", "courtney", "demi", "shannon", "tia", "kayleigh", "jade", "paige", "aaliyah",
    "precious", "nia", "keisha", "chantelle", "destiny", "imani", "sadia", "rukhsana",
    "alexandra", "christine", "danielle", "stephanie", "deborah", "patricia", "susan",
    "josephine", "georgina", "harriet", "eleanor", "caroline", "louise", "sarah", "laura",
]
GIVEN_M = [
    "oliver", "george", "noah", "arthur", "harry", "leo", "muhammad", "jack", "charlie",
    "oscar", "jacob", "henry", "thomas", "freddie", "alfie", "theo", "william", "theodore",
    "archie", "joshua", "alexander", "james", "isaac", "edward", "lucas", "tommy", "finley",
    "max", "logan", "ethan", "mason", "daniel", "samuel", "benjamin", "joseph", "michael",
    "christopher", "matthew", "nicholas", "robert", "richard", "anthony", "jonathan",
    "callum", "kyle", "liam", "connor", "reece", "tyler", "jordan", "kai", "jayden",
    "ibrahim", "yusuf", "hamza", "bilal", "zain", "omar", "ali", "hassan", "tyrone",
    "kwame", "jermaine", "dwayne", "marcus", "andre", "stephen", "patrick", "frederick",
    "lawrence", "dominic", "sebastian", "tobias", "zachary", "nathaniel", "philip", "peter",
    "david", "andrew", "gregory", "vincent", "kenneth", "timothy", "bradley", "adam",
]
FAMILY_COMMON = [
    "smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "patel",
    "robinson", "wright", "thompson", "evans", "walker", "white", "roberts", "green", "hall",
    "thomas", "clarke", "jackson", "wood", "harris", "edwards", "turner", "martin", "cooper",
    "hill", "ward", "hughes", "moore", "clark", "king", "harrison", "lewis", "baker", "lee",
    "allen", "morris", "khan", "scott", "watson", "davis", "parker", "james", "bennett",
    "young", "phillips", "richardson", "mitchell", "bailey", "carter", "cook", "singh",
    "shaw", "bell", "collins", "morgan", "kelly", "begum", "miller", "cox", "hussain",
    "marshall", "simpson", "price", "anderson", "adams", "wilkinson", "ali", "ahmed",
    "foster", "ellis", "murphy", "chapman", "mason", "gray", "richards", "webb", "griffiths",
    "hunt", "palmer", "campbell", "holmes", "mills", "rogers", "barnes", "knight", "matthews",
    "barker", "powell", "stevens", "kaur", "fisher", "butler", "dixon", "russell", "harvey",
    "pearson", "graham", "okafor", "mensah", "nowak", "kowalski", "mahmood", "akhtar",
    "rahman", "iqbal", "chowdhury", "nguyen", "o'brien", "mcdonald", "smith-jones",
]
SOURCES = ["police", "carefirst", "rhi_provider", "education"]
ID_OF_SOURCE = {"police": "police_id", "carefirst": "carefirst_id", "education": "upn"}
NICK = {
    "katherine": ["kate", "katie", "kathy"], "elizabeth": ["liz", "beth", "lizzie"],
    "margaret": ["maggie", "meg"], "rebecca": ["becky", "becca"], "samantha": ["sam"],
    "victoria": ["vicky", "tori"], "nicola": ["nikki", "nicky"], "jennifer": ["jen", "jenny"],
    "jessica": ["jess"], "charlotte": ["lottie", "charlie"], "abigail": ["abbie", "abby"],
    "alexandra": ["alex", "lexi"], "christine": ["chris", "tina"], "danielle": ["dani"],
    "stephanie": ["steph"], "deborah": ["debbie"], "patricia": ["trish", "pat"],
    "susan": ["sue", "susie"], "josephine": ["josie", "jo"], "georgina": ["georgie"],
    "harriet": ["hattie"], "eleanor": ["ellie", "nell"], "william": ["will", "bill", "billy"],
    "thomas": ["tom", "tommy"], "alexander": ["alex", "alec"], "james": ["jim", "jamie"],
    "edward": ["ed", "eddie", "ted"], "daniel": ["dan", "danny"], "samuel": ["sam"],
    "benjamin": ["ben"], "joseph": ["joe", "joey"], "michael": ["mike", "mick"],
    "christopher": ["chris"], "matthew": ["matt"], "nicholas": ["nick"],
    "robert": ["rob", "bob", "robbie"], "richard": ["rich", "rick"], "anthony": ["tony"],
    "jonathan": ["jon", "jonny"], "stephen": ["steve"], "patrick": ["paddy", "pat"],
    "frederick": ["fred", "freddie"], "lawrence": ["larry"], "dominic": ["dom"],
    "sebastian": ["seb"], "tobias": ["toby"], "zachary": ["zach"], "philip": ["phil"],
    "peter": ["pete"], "david": ["dave"], "andrew": ["andy"], "gregory": ["greg"],
    "vincent": ["vince"], "kenneth": ["ken"], "timothy": ["tim"], "bradley": ["brad"],
    "muhammad": ["mohammed", "mohammad"], "isabella": ["bella", "izzy"], "sophia": ["sophie"],
    "matilda": ["tilly"], "florence": ["flo"], "oliver": ["ollie"], "theodore": ["theo"],
    "harry": ["harrison"],
}


def _family_pool(rng: np.random.Generator, size: int) -> tuple[list[str], np.ndarray]:
    """Common surnames plus a long tail of invented ones, Zipf-like frequencies."""
    syl = ["ab", "ad", "al", "an", "ar", "ba", "be", "bo", "ca", "da", "de", "di", "el", "en",
           "fa", "ga", "ha", "ho", "ib", "ka", "ke", "ko", "la", "le", "lo", "ma", "me", "mo",
           "na", "ne", "no", "ok", "ol", "pa", "ra", "re", "ri", "ro", "sa", "se", "si", "ta",
           "te", "to", "ul", "va", "wa", "ya", "yo", "za", "ford", "ton", "son", "ley", "well",
           "by", "ham", "wick", "field", "man", "worth", "shaw"]
    names = list(dict.fromkeys(FAMILY_COMMON))
    seen = set(names)
    while len(names) < size:
        k = rng.integers(2, 4)
        nm = "".join(rng.choice(syl, k))
        if len(nm) >= 4 and nm not in seen:
            seen.add(nm)
            names.append(nm)
    ranks = np.arange(1, len(names) + 1)
    p = 1.0 / ranks ** 0.9
    return names, p / p.sum()


def _postcodes(rng: np.random.Generator, n: int, areas: list[str]) -> np.ndarray:
    letters = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
    area = rng.choice(areas, n)
    district = rng.integers(1, 40, n)
    sector = rng.integers(0, 10, n)
    unit = np.char.add(rng.choice(letters, n), rng.choice(letters, n))
    return np.array([f"{a}{d} {s}{u}" for a, d, s, u in zip(area, district, sector, unit)],
                    dtype=object)


def _typo(rng: np.random.Generator, s: str) -> str:
    if len(s) < 3:
        return s
    i = int(rng.integers(1, len(s) - 1))
    op = rng.integers(0, 3)
    if op == 0:  # substitute
        return s[:i] + rng.choice(list(string.ascii_lowercase)) + s[i + 1:]
    if op == 1:  # drop
        return s[:i] + s[i + 1:]
    return s[:i - 1] + s[i] + s[i - 1] + s[i + 1:]  # swap neighbours


def _style(rng: np.random.Generator, s: str | None) -> str | None:
    if s is None:
        return None
    r = rng.random()
    if r < 0.6:
        return s.title()
    if r < 0.8:
        return s.upper()
    if r < 0.9:
        return " " + s + " "
    return s


def planted_records(n_children: int, seed: int = 0, *, adults: float = 0.15,
                    sibling_rate: float = 0.2, twin_rate: float = 0.01,
                    areas: list[str] | None = None, noise: float = 1.0):
    """Synthetic children and adults with planted duplicates and siblings.

    Returns ``(records, truth, siblings)``: records has network.identity.RECORD_COLUMNS,
    truth maps record -> true id, siblings lists pairs of records of different children who
    share surname and postcode (including twins, who also share a date of birth).
    ``n_children`` is the approximate number of child records. ``noise`` scales every
    perturbation probability.
    """
    rng = np.random.default_rng(seed)
    areas = areas or ["B", "CV", "WS", "WV", "DY", "M", "L", "LS", "S", "NE", "BS", "E", "N",
                      "SE", "SW", "W", "NW", "NG", "LE", "DE", "ST", "OX", "CB", "CF", "BN"]
    fam_names, fam_p = _family_pool(rng, max(300, n_children // 40))
    avg_records = 2.0
    n_child_people = max(4, int(n_children / avg_records))
    n_adults = int(n_child_people * adults)

    people = []  # (tid, kind, given, family, sex, dob, postcode)
    base_dob_child = np.datetime64("2000-01-01")
    sib_pairs_true = []
    tid = 0
    i = 0
    while i < n_child_people:
        sex = "female" if rng.random() < 0.6 else "male"
        given = str(rng.choice(GIVEN_F if sex == "female" else GIVEN_M))
        family = str(fam_names[rng.choice(len(fam_names), p=fam_p)])
        dob = base_dob_child + np.timedelta64(int(rng.integers(0, 18 * 365)), "D")
        pc = _postcodes(rng, 1, areas)[0]
        people.append((f"T{tid:07d}", "child", given, family, sex, dob, pc))
        first = tid
        tid += 1
        i += 1
        r = rng.random()
        if r < sibling_rate + twin_rate and i < n_child_people:
            twin = r < twin_rate
            s2 = "female" if rng.random() < 0.5 else "male"
            pool = GIVEN_F if s2 == "female" else GIVEN_M
            g2 = str(rng.choice(pool))
            while g2 == given or g2[:3] == given[:3] or set(NICK.get(g2, [])) & set(NICK.get(given, [])):
                g2 = str(rng.choice(pool))
            if twin:
                d2 = dob
            else:
                gap = int(rng.integers(400, 6 * 365)) * (1 if rng.random() < 0.5 else -1)
                d2 = dob + np.timedelta64(gap, "D")
            people.append((f"T{tid:07d}", "child", g2, family, s2, d2, pc))
            sib_pairs_true.append((f"T{first:07d}", f"T{tid:07d}"))
            tid += 1
            i += 1
    base_dob_adult = np.datetime64("1960-01-01")
    for _ in range(n_adults):
        sex = "male" if rng.random() < 0.8 else "female"
        given = str(rng.choice(GIVEN_F if sex == "female" else GIVEN_M))
        family = str(fam_names[rng.choice(len(fam_names), p=fam_p)])
        dob = base_dob_adult + np.timedelta64(int(rng.integers(0, 40 * 365)), "D")
        people.append((f"T{tid:07d}", "person", given, family, sex, dob,
                       _postcodes(rng, 1, areas)[0]))
        tid += 1

    rows = []
    truth = {}
    counters = {s: 0 for s in SOURCES}
    nz = noise
    for (t, kind, given, family, sex, dob, pc) in people:
        if kind == "child":
            k = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.2, 0.1]))
            srcs = list(rng.choice(SOURCES, k, replace=False))
        else:
            k = int(rng.choice([1, 2], p=[0.6, 0.4]))
            srcs = list(rng.choice(["police", "rhi_provider"], k, replace=False))
        # a few records duplicated inside one source
        if rng.random() < 0.05:
            srcs.append(srcs[0])
        ids = {c: f"{c[:2].upper()}{t[1:]}{rng.integers(10, 99)}" for c in ID_OF_SOURCE.values()}
        for src in srcs:
            counters[src] += 1
            rec = f"{src}/{'C' if kind == 'child' else 'A'}{counters[src]:07d}"
            g, f, d, s, p = given, family, dob, sex, pc
            if rng.random() < 0.2 * nz and g in NICK:
                g = str(rng.choice(NICK[g]))
            if rng.random() < 0.05 * nz:
                g = _typo(rng, g)
            if rng.random() < 0.08 * nz:
                f = _typo(rng, f)
            dd = pd.Timestamp(d)
            r = rng.random()
            if r < 0.04 * nz and dd.day <= 12 and dd.day != dd.month:
                dd = pd.Timestamp(year=dd.year, month=dd.day, day=dd.month)
            elif r < 0.08 * nz:
                m = dd.month + (1 if dd.month < 12 else -1)
                dd = pd.Timestamp(year=dd.year, month=m, day=min(dd.day, 28))
            dob_s = dd.strftime("%Y-%m-%d") if rng.random() < 0.5 else dd.strftime("%d/%m/%Y")
            if rng.random() < 0.03 * nz:
                dob_s = None
            if rng.random() < 0.03 * nz:
                g, f = f, g
            if rng.random() < 0.2 * nz:
                p = _postcodes(rng, 1, areas)[0]  # moved placement
            if rng.random() < 0.1 * nz:
                p = None
            elif p is not None and rng.random() < 0.3:
                p = p.replace(" ", "").lower()
            if rng.random() < 0.05 * nz:
                s = None
            row = {"record": rec, "kind": kind, "source": src,
                   "given_name": _style(rng, g), "family_name": _style(rng, f),
                   "dob": dob_s, "sex": s, "postcode": p,
                   "police_id": None, "carefirst_id": None, "upn": None}
            own = ID_OF_SOURCE.get(src)
            if own and (kind == "child" or own == "police_id"):
                row[own] = ids[own]
            for other in ID_OF_SOURCE.values():
                if other != own and rng.random() < 0.15 and (kind == "child" or other == "police_id"):
                    row[other] = ids[other]
            rows.append(row)
            truth[rec] = t
    records = pd.DataFrame(rows)
    by_true: dict[str, list[str]] = {}
    for r, t in truth.items():
        by_true.setdefault(t, []).append(r)
    siblings = []
    for a, b in sib_pairs_true:
        siblings.append((by_true[a][0], by_true[b][0]))
    return records, truth, siblings


def pairwise_scores(person_ids: pd.Series, true_ids: pd.Series) -> dict:
    """Pairwise precision and recall of a clustering against the truth (same index)."""
    def pairs(counts):
        c = counts.to_numpy(dtype=np.int64)
        return int((c * (c - 1) // 2).sum())
    df = pd.DataFrame({"p": person_ids.to_numpy(), "t": true_ids.to_numpy()})
    tp = pairs(df.groupby(["p", "t"]).size())
    pp = pairs(df.groupby("p").size())
    tt = pairs(df.groupby("t").size())
    return {"precision": tp / pp if pp else 1.0, "recall": tp / tt if tt else 1.0,
            "true_pairs": tt, "predicted_pairs": pp, "tp": tp}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=int, default=400_000, help="child records (approx.)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from network.identity import resolve_identities_with_audit

    t0 = time.perf_counter()
    records, truth, siblings = planted_records(args.children, seed=args.seed)
    t_gen = time.perf_counter() - t0
    rss_gen = _peak_rss_mb()
    t1 = time.perf_counter()
    res = resolve_identities_with_audit(records, seed=0)
    t_link = time.perf_counter() - t1
    ids = res.identities.set_index("record")["person_id"]
    truth_s = pd.Series(truth).reindex(ids.index)
    scores = pairwise_scores(ids, truth_s)
    merged = sum(ids[a] == ids[b] for a, b in siblings)
    out = {
        "records": len(records),
        "child_records": int((records["kind"] == "child").sum()),
        "person_records": int((records["kind"] == "person").sum()),
        "generate_s": round(t_gen, 1),
        "link_s": round(t_link, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 0),
        "peak_rss_after_generate_mb": round(rss_gen, 0),
        "candidate_pairs": res.model["blocking"]["candidate_pairs"],
        "blocking": res.model["blocking"]["rules"],
        "precision": round(scores["precision"], 5),
        "recall": round(scores["recall"], 5),
        "siblings": len(siblings),
        "siblings_merged": int(merged),
        "em_iterations": res.model["iterations"],
        "prior": res.model["prior"],
        "components_split": res.model["components_split"],
    }
    print(json.dumps(out, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
