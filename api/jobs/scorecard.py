"""The meetings' scorecards from loaded frames (shared/DATA_CONTRACT.md, "Scorecard measures"):
the CSE scorecard here; the MOG scorecard is ``geo.meetings.scorecards``."""
from __future__ import annotations


def cse_scorecard_of(frames: dict, period) -> dict:
    """The scorecard from loaded frames: victims and suspects resolved through identity
    (network.crime_parties), then the pure measures (geo.meetings.cse) and the profile extras."""
    from geo.meetings import cse
    from network.crime_parties import cse_inputs
    x = cse_inputs(frames)
    card = cse.cse_scorecard(x["cse_assessments"], x["crimes"], x["parties"], x["episodes"], period)
    card.update(cse.cse_extras(x["cse_assessments"], x["crimes"], x["episodes"], x["children"], period,
                               frames.get("populations")))
    return card
