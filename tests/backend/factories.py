"""Build and store places for tests through the same validation and upsert as real loads."""

from __future__ import annotations

import itertools

from backend.uploads.loader import upsert_records
from backend.uploads.validation import validate_record

_ids = itertools.count(1)


def place_fields(lat: float, lon: float, **overrides) -> dict:
    """Fields of a valid place record at a point; any field can be overridden."""
    fields = {
        "source": "test", "external_id": f"T-{next(_ids):06d}", "kind": "branch",
        "name": "Test place", "country": "GB", "lat": lat, "lon": lon,
        "timezone": "Europe/London", "opening_hours": "24/7", "hours_exceptions": None,
        "services": [], "accessibility": [], "repayment_methods": [], "status": "active",
    }
    fields.update(overrides)
    return fields


def add_places(session, *field_dicts: dict) -> list[str]:
    """Store places; returns their external ids in the order given (= id order)."""
    records = []
    for index, fields in enumerate(field_dicts):
        result = validate_record(f"item {index}", fields)
        assert result.record is not None, result.errors
        records.append(result.record)
    upsert_records(session, records)
    session.flush()
    return [f["external_id"] for f in field_dicts]


def public_ids_by_external_id(session) -> dict[str, str]:
    """Map external ids to the public ids the API shows."""
    from sqlalchemy import text

    rows = session.execute(text("SELECT external_id, public_id FROM places")).all()
    return {external: str(public) for external, public in rows}
