"""The audit trail: entries for consultations and denials, never personal data; tampering detected."""
from sqlalchemy import delete, select, update

from api.jobs.audit import AuditEntry, append_entries, verify
from api.tables import audit_log


def test_consultation_logged_without_personal_data(app, as_role):
    wf = app.state.wf
    r = as_role("mog_member", "GET", "/children/worrying?purpose=MOG+monthly+review")
    assert r.status_code == 200
    wf.audit.flush()
    with wf.store.engine.connect() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.route == "/children/worrying")
                           .order_by(audit_log.c.id.desc())).mappings().first()
    assert row["user_name"] == "t_mog_member" and row["role"] == "mog_member"
    assert row["action"] == "consultation" and row["purpose"] == "MOG monthly review"
    assert row["result_count"] == len(r.json()) and row["status"] == 200
    # profile by person id: the log holds the pseudonym, not the record key
    pid = "police/C0001"
    as_role("analyst", "GET", f"/profiles/{pid}?purpose=problem+profile")
    wf.audit.flush()
    with wf.store.engine.connect() as conn:
        whats = list(conn.execute(select(audit_log.c.what)).scalars())
    assert not any("C0001" in (w or "") for w in whats)
    assert not any("Testgiven" in (w or "") for w in whats)


def test_purpose_required(as_role):
    r = as_role("analyst", "GET", "/children/missing-now")
    assert r.status_code == 400 and "purpose" in r.json()["description"]


def test_admin_reads_and_verifies(as_role):
    r = as_role("admin", "GET", "/audit?limit=5&action=denied")
    assert r.status_code == 200
    assert as_role("admin", "GET", "/audit/verify").json()["ok"] is True
    assert as_role("analyst", "GET", "/audit").status_code == 403


def test_tampering_detected(tmp_path):
    from geo.storage.store import open_store
    from api.jobs.audit import AuditTrail
    store = open_store(f"sqlite:///{tmp_path / 'a.sqlite'}")
    trail = AuditTrail(store.engine)
    for i in range(5):
        trail.record(AuditEntry("consultation", f"u{i}", "analyst", "/collections", "what", None, i, 200))
    trail.flush()
    assert verify(store.engine).ok
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 3).values(result_count=999))
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 3 and "3" in res.message
    with store.engine.begin() as conn:   # restore, then delete a middle entry
        conn.execute(update(audit_log).where(audit_log.c.id == 3).values(result_count=2))
    assert verify(store.engine).ok
    with store.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == 2))
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 2 and "missing" in res.message


def test_tail_deletion_detected(tmp_path):
    from geo.storage.store import open_store
    from api.jobs.audit import AuditTrail
    store = open_store(f"sqlite:///{tmp_path / 'b.sqlite'}")
    AuditTrail(store.engine)
    append_entries(store.engine, [AuditEntry("login", "u", "admin") for _ in range(3)])
    with store.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == 3))
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 3
