"""Licensing review records of premises: their JSON form and their audit entry."""
from __future__ import annotations


def review_json(r: dict) -> dict:
    import pandas as pd
    return {"id": int(r["id"]), "premises_id": r["premises_id"], "decision": r["decision"],
            "decided_at": pd.Timestamp(r["decided_at"]).isoformat(), "officer": r["officer"],
            "reason": None if r.get("reason") is None or pd.isna(r.get("reason")) else r["reason"]}


def audit_review(engine, user: str, role: str, route: str, row: dict) -> None:
    """Record the review as an alteration (who recorded which decision on which premises)."""
    from api.jobs.audit import AuditEntry, append_entries
    from api.tables import create_tables
    create_tables(engine)
    append_entries(engine, [AuditEntry(
        action="alteration", user_name=user, role=role, route=route,
        what=f"premises {row['premises_id']} review {row['id']}: {row['decision']}",
        result_count=1, status=0)])
