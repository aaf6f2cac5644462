"""Licensing review records of premises: a licensing officer's decision about a premises of
concern (reviewed, no action, referred, conditions, suspended), its date, the officer and the
reason, kept in ``premises_reviews`` and shown in later screenings and packs. Recording one is an
alteration written to the audit trail by the edge that records it (CLI or API)."""
from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from geo.storage import schema

DECISIONS = ("reviewed", "no_action", "referred", "conditions", "suspended")
DECISION_WORDS = {"reviewed": "reviewed", "no_action": "no action", "referred": "referred",
                  "conditions": "conditions added", "suspended": "suspended"}


class ReviewError(ValueError):
    """A review that cannot be recorded (unknown premises, decision or date)."""


def normalise_decision(value: str) -> str:
    d = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if d not in DECISIONS:
        raise ReviewError(f"decision {value!r}: one of {', '.join(DECISIONS)}")
    return d


def record_review(store, premises_id: str, decision: str, decided_at, officer: str,
                  reason: str | None = None) -> dict:
    """Store one review of a registered premises; returns the stored row."""
    from geo.periods import PeriodError, parse_instant
    from geo.storage.store import utcnow
    decision = normalise_decision(decision)
    if not str(officer or "").strip():
        raise ReviewError("a review needs the officer who made it")
    known = store.read_sql(sa.select(schema.premises.c.premises_id)
                           .where(schema.premises.c.premises_id == str(premises_id)))
    if known.empty:
        raise ReviewError(f"no premises {premises_id!r} in the register")
    try:
        when = parse_instant(str(decided_at), "date") if decided_at else pd.Timestamp(utcnow(), tz="UTC")
    except PeriodError as exc:
        raise ReviewError(str(exc)) from None
    row = {"premises_id": str(premises_id), "decision": decision,
           "decided_at": when.tz_convert("UTC").tz_localize(None).to_pydatetime(),
           "officer": str(officer).strip(), "reason": (reason or "").strip() or None,
           "recorded_at": utcnow()}
    with store.engine.begin() as conn:
        row["id"] = conn.execute(schema.premises_reviews.insert().values(**row)).inserted_primary_key[0]
    return row


def reviews_frame(store, premises_id: str | None = None) -> pd.DataFrame:
    """Review records, oldest first (``decided_at`` as UTC timestamps)."""
    q = sa.select(schema.premises_reviews)
    if premises_id is not None:
        q = q.where(schema.premises_reviews.c.premises_id == str(premises_id))
    df = store.read_sql(q.order_by(schema.premises_reviews.c.decided_at, schema.premises_reviews.c.id))
    for c in ("decided_at", "recorded_at"):
        df[c] = pd.to_datetime(df[c]).dt.tz_localize("UTC")
    return df


def latest_reviews(reviews: pd.DataFrame) -> pd.DataFrame:
    """The latest review of each premises, indexed by premises_id."""
    if reviews is None or reviews.empty:
        return pd.DataFrame(columns=["decision", "decided_at", "officer", "reason"])
    return reviews.sort_values(["decided_at", "id"]).drop_duplicates("premises_id", keep="last") \
        .set_index("premises_id")
