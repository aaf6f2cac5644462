"""Pack wording (issue 14): "Adults of concern" lists only adults with concerning evidence, with the
basis filled in; family and professionals linked through a shared place are left out and counted;
no NaT or nan in a table cell."""
import pandas as pd

from maps import packs


def _data():
    bp = pd.DataFrame({
        "rank": [1, 2, 3, 4], "person_id": ["A1", "F1", "A2", "Q1"], "children": [6, 89, 3, 4],
        "score": [9.0, 8.0, 4.0, 2.0], "intelligence_only": [False, False, False, True],
        "evidence": ["P1 associate; P2 transported_by; P3 seen_with; P4 associate",
                     "P9 other; P8 resides_at+found_at via place:1:2:postcode (1 High St, B7 4PS)",
                     "P5 associate; P6 found_at via place:3:4:postcode (x)",
                     "P7 intelligence"]})
    persons = pd.DataFrame({"person_id": ["A1", "F1", "A2", "Q1"],
                            "role": ["adult_of_concern", "family", "peer", "unknown"]})
    return {"bridging_persons": bp, "persons": persons}


def test_adults_of_concern_only_with_concerning_evidence():
    shown, left_out = packs.adults_of_concern(_data())
    assert list(shown["person_id"]) == ["A1", "A2", "Q1"] and left_out == 1
    basis = dict(zip(shown["person_id"], shown["basis"]))
    assert basis["A1"] == ("recorded as an adult of concern; associate of 2 children; transported 1 child; "
                           "seen with 1 child")
    assert basis["A2"] == "associate of 1 child"
    assert "intelligence only (graded, not fact)" in basis["Q1"]
    html = packs.adults_table(_data(), packs.View("cog_member"))
    assert "F1" not in html and "A1" not in html           # pseudonyms for members
    assert "associate of 2 children" in html and "&lt;5 other adults" in html   # 1 left out, banded


def test_no_nat_or_nan_in_cells():
    df = pd.DataFrame({"a": [pd.NaT, float("nan"), None, "nan", "ok"]})
    html = packs._table(df, [("a", "A")])
    assert "NaT" not in html and "nan" not in html and "None" not in html and "ok" in html


def test_mase_pack_names_only_its_own_child_for_a_member_with_a_purpose(frames):
    from dataclasses import replace
    pid = packs.resolve_child(frames, "synth/C0001")
    ch = frames["children"]
    row = ch[ch["person_id"] == pid].iloc[0]
    own = f"{row['given_name']} {row['family_name']}"
    others = set((ch["given_name"] + " " + ch["family_name"])[ch["person_id"] != pid]) - {own}
    view = packs.View(role="mase_member", secret="s")
    plain = packs.build_pack("mase", frames, "2017-01-01", "2017-12-31", child="synth/C0001", view=view)
    named = packs.build_pack("mase", frames, "2017-01-01", "2017-12-31", child="synth/C0001",
                             view=replace(view, subject=pid))
    assert own not in plain and own in named
    assert view.pseudonym(pid) in named                  # the name sits beside the pseudonym
    for n in others:
        assert n not in named


def test_mase_pack_reads_words_not_codes(frames):
    import re
    html = packs.build_pack("mase", frames, "2017-01-01", "2017-12-31", child="synth/C0001",
                            view=packs.View(role="analyst"))
    visible = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", html, flags=re.S)
    assert not re.search(r"\baway_without_authorisation\b|\bsemi_independent\b|\bNaT\b", visible)
