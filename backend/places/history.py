"""Versions and history of places: what changed, by which batch or person, and the state before."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.places.models import Place

# Every column a rollback restores from a snapshot (all but the key). The version comes back too,
# so rolling back a later batch first makes the earlier one's places match its record again.
RESTORED_COLUMNS = tuple(c.name for c in Place.__table__.columns if c.name != "id")


def lock_source_version(session: Session, source: str) -> int:
    """The source's current version, locked until the transaction ends (serialises writers)."""
    session.execute(text("INSERT INTO place_sources (source, version) VALUES (:s, 0) "
                         "ON CONFLICT (source) DO NOTHING"), {"s": source})
    return session.execute(text("SELECT version FROM place_sources WHERE source = :s FOR UPDATE"),
                           {"s": source}).scalar_one()


def source_version(session: Session, source: str) -> int:
    """The source's current version (0 for a source never written)."""
    value = session.execute(text("SELECT version FROM place_sources WHERE source = :s"),
                            {"s": source}).scalar()
    return int(value or 0)


def bump_source_version(session: Session, source: str) -> None:
    """Record that a place of this source changed: pending dry runs of it are now stale."""
    session.execute(text(
        "INSERT INTO place_sources (source, version) VALUES (:s, 1) "
        "ON CONFLICT (source) DO UPDATE SET version = place_sources.version + 1"), {"s": source})


def snapshot_sql(alias: str) -> str:
    """SQL for a JSONB snapshot of a places row that jsonb_populate_record can restore."""
    return f"to_jsonb({alias}.*)"


def history_of(session: Session, public_id: Any) -> list[dict[str, Any]]:
    """Every recorded change of a place, oldest first."""
    rows = session.execute(text("""
        SELECT h.id, h.action, h.changed_fields, h.changed_at, h.after_version,
               b.public_id AS batch_id, u.email AS changed_by, h.before, h.after
        FROM place_history h
        LEFT JOIN upload_batches b ON b.id = h.batch_id
        LEFT JOIN users u ON u.id = h.changed_by
        WHERE h.public_id = :p ORDER BY h.id
    """), {"p": public_id}).mappings().all()
    return [{
        "action": r["action"], "changed_fields": list(r["changed_fields"] or []),
        "changed_at": r["changed_at"].isoformat(), "version": r["after_version"],
        "batch_id": str(r["batch_id"]) if r["batch_id"] else None,
        "changed_by": r["changed_by"],
        "before": _public_snapshot(r["before"]), "after": _public_snapshot(r["after"]),
    } for r in rows]


def _public_snapshot(snapshot: dict | None) -> dict | None:
    if snapshot is None:
        return None
    hidden = {"id", "location", "upload_batch_id", "public_id"}
    return {k: v for k, v in snapshot.items() if k not in hidden}
