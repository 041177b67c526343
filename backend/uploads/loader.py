"""Load a place file of the project's own format: all records or none (`flask places load`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from backend.places.history import bump_source_version
from backend.places.models import Place
from backend.uploads.parsers import parse_file
from backend.uploads.validation import PlaceRecord, RecordIssue, validate_record

BATCH = 1000


@dataclass
class LoadReport:
    """What a load did, or why it did nothing."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RecordIssue] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a person."""
        if self.errors:
            return f"refused: {len(self.errors)} error(s); nothing was changed"
        return (f"loaded: {self.inserted} inserted, {self.updated} updated, "
                f"{self.unchanged} unchanged")


def count_places(session: Session) -> int:
    """How many places exist."""
    return session.scalar(select(func.count()).select_from(Place)) or 0


def load_places_file(session: Session, path: str | Path,
                     progress: Callable[[int], None] | None = None) -> LoadReport:
    """Validate every record of a file, then upsert them all in one transaction.

    Existing places are matched on (source, external_id). With any invalid record nothing is
    written and the report lists the errors.
    """
    report = LoadReport()
    records: list[PlaceRecord] = []
    with open(path, "rb") as stream:
        for raw in parse_file(stream, str(path)):
            result = validate_record(raw.locator, raw.fields)
            if result.record is None:
                report.errors.extend(result.errors)
            else:
                records.append(result.record)
    if report.errors:
        return report
    for start in range(0, len(records), BATCH):
        chunk = records[start:start + BATCH]
        inserted, updated = upsert_records(session, chunk)
        report.inserted += inserted
        report.updated += updated
        report.unchanged += len(chunk) - inserted - updated
        if progress:
            progress(len(chunk))
    session.commit()
    return report


def upsert_records(session: Session, records: list[PlaceRecord]) -> tuple[int, int]:
    """Insert or update records matched on (source, external_id); (inserted, updated) counts.

    A record identical to its place leaves it alone (no new version, not counted as updated).
    """
    rows = [{**r.values, "status": r.values["status"] or "active",
             "location": f"SRID=4326;POINT({r.lon!r} {r.lat!r})"} for r in records]
    statement = insert(Place).values(rows)
    compared = [k for k in rows[0] if k not in ("source", "external_id", "location")]
    updatable = {k: statement.excluded[k] for k in rows[0] if k not in ("source", "external_id")}
    updatable["updated_at"] = func.now()
    # A load is a change like any other: pending dry runs and rollbacks must see it.
    updatable["version"] = Place.version + 1
    changed = or_(
        # Exact comparison: geography's `=` compares rounded bounding boxes.
        func.ST_AsBinary(Place.location).is_distinct_from(
            func.ST_AsBinary(statement.excluded.location)),
        *(Place.__table__.c[k].is_distinct_from(statement.excluded[k]) for k in compared))
    statement = statement.on_conflict_do_update(
        constraint="uq_places_source_external_id", set_=updatable, where=changed,
    ).returning(text("(xmax = 0) AS inserted"))
    results = [was_inserted for (was_inserted,) in session.execute(statement)]
    inserted = sum(1 for was_inserted in results if was_inserted)
    if results:
        for source in {r.values["source"] for r in records}:
            bump_source_version(session, source)
    return inserted, len(results) - inserted
