"""The maintainers' upload workflow: dry run with a diff, atomic apply, exact rollback.

A submitted file is parsed as a stream, each record validated, and the valid ones copied into
`upload_rows` with COPY; duplicates, near-duplicates and the diff against `places` are then
computed set-based in SQL. Nothing a cardholder sees changes until the batch is applied.
"""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any, BinaryIO

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend import world
from backend.audit import record_audit
from backend.db import get_by_public_id
from backend.errors import BadRequest, Conflict, field_error
from backend.geocoding import Geocoder, GeocodingUnavailable
from backend.hours import OpeningHours
from backend.places.history import (
    RESTORED_COLUMNS,
    bump_source_version,
    lock_source_version,
    snapshot_sql,
    source_version,
)
from backend.uploads.checks import location_problems
from backend.uploads.models import UploadBatch
from backend.uploads.parsers import (
    COLUMNS,
    HEAD_BYTES,
    LIST_COLUMNS,
    FileFormatError,
    RawRecord,
    detect_format,
    parse_file,
    split_list,
)
from backend.uploads.parsers.coords import parse_coordinate
from backend.uploads.parsers.detect import family_of
from backend.uploads.parsers.mapped import parse_mapped_csv, parse_mapping
from backend.uploads.validation import validate_record
from backend.uploads.workers import checked_in_order

MODES = ("merge", "sync")
SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# The columns an upload sets on a place, in upload_rows' order.
VALUE_COLUMNS = (
    "kind", "name", "brand", "street", "locality", "region", "postcode", "country", "location",
    "timezone", "opening_hours", "services", "accessibility", "repayment_methods",
    "repayment_fee", "repayment_fee_currency", "repayment_posting", "repayment_cutoff", "phone",
    "status", "last_verified_at",
)
# A re-upload that only re-verifies a place is not a change of it.
DIFF_COLUMNS = tuple(c for c in VALUE_COLUMNS if c != "last_verified_at")
NEAR_METRES = 10.0
NAME_SIMILARITY = 0.8
# Names whose numbers differ ("ATM 1", "ATM 2") are different places: SQL drops those pairs,
# _similar() judges the rest.
SAME_NUMBERS = "regexp_replace({a}, '\\D', '', 'g') = regexp_replace({b}, '\\D', '', 'g')"
MAX_NEAR_WARNINGS = 10_000
REPORT_ITEMS = 200
PROGRESS_EVERY = 5_000
COPY_LINES = 1_000  # staged rows sent to COPY at a time
# Records are staged in a temporary table (no WAL, no foreign-key check per row), checked there
# set-based, and written to upload_rows once, with their diff.
STAGE = "upload_stage"


@dataclass
class _Counts:
    records: int = 0
    rejected: int = 0
    warned: int = 0
    issues: int = 0
    seen_ids: set[str] = field(default_factory=set)


def _raw_conn(session: Session):
    """The psycopg connection under the session's transaction (for COPY)."""
    return session.connection().connection.driver_connection


def submit_upload(session: Session, stream: BinaryIO, filename: str, source: str, mode: str,
                  *, actor_id: int | None, via: str, file_format: str | None = None,
                  geocoder: Geocoder | None = None,
                  progress: Callable[[int], None] | None = None,
                  columns: str | dict | None = None,
                  defaults: str | dict | None = None,
                  workers: int | None = None) -> UploadBatch:
    """Parse, validate and diff a file; store it as a pending batch and return it.

    `columns` (our field names to the file's CSV headers) reads any CSV as `mapped-csv`;
    `defaults` fill fields a record leaves empty, in any format. Both are JSON objects (text or
    dicts). `workers`: processes that check a large file's records (None: see
    backend.uploads.workers.worker_count; 0: this process only).

    :raises BadRequest: for a bad mode or source, or a file that cannot be read at all; in that
        case nothing is stored.
    """
    problems = []
    if mode not in MODES:
        problems.append(field_error("mode", f"Must be one of {', '.join(MODES)}."))
    if not SOURCE_PATTERN.match(source or ""):
        problems.append(field_error("source", "Must be a slug: lower-case letters, digits, "
                                              "'.', '_' or '-', at most 64 characters."))
    mappings = {}
    for name, value in (("columns", columns), ("defaults", defaults)):
        try:
            mappings[name] = parse_mapping(value, name)
        except ValueError as exc:
            problems.append(field_error(name, str(exc)))
    if mappings.get("columns"):
        if file_format not in (None, "mapped-csv"):
            problems.append(field_error("format", "must be mapped-csv (or left out) when "
                                                  "`columns` is given"))
        file_format = "mapped-csv"
    elif file_format == "mapped-csv":
        problems.append(field_error("columns", "is required with the mapped-csv format"))
    if problems:
        raise BadRequest("The upload cannot be accepted.", problems)
    batch = UploadBatch(source=source, mode=mode, filename=filename, format="unknown",
                        status="pending", base_version=source_version(session, source),
                        created_by=actor_id, created_via=via)
    session.add(batch)
    session.flush()
    try:
        records, detected = _open(stream, filename, file_format, mappings.get("columns"))
        batch.format = detected
        counts = _stage(session, batch, records, geocoder, progress,
                        mappings.get("defaults") or {}, workers)
    except FileFormatError as exc:
        session.rollback()
        raise BadRequest(f"The file cannot be read: {exc}", [field_error("file", str(exc))]) \
            from None
    if counts.records == 0:
        session.rollback()
        raise BadRequest("The file holds no records.",
                         [field_error("file", "No records found.")])
    # Statistics of the staged rows (a temporary table is never analysed on its own): the
    # planner must know how many there are. Only the columns the joins use.
    session.execute(text(f"ANALYZE {STAGE} (seq, source, external_id)"))
    _mark_duplicates(session, batch)
    _flag_near_duplicates(session, batch)
    _diff(session, batch)
    if mode == "sync":
        _decommission_missing(session, batch)
    session.execute(text(f"DROP TABLE {STAGE}"))
    # Fresh statistics for the apply's joins (the columns they filter on).
    session.execute(text("ANALYZE upload_rows (batch_id, action, place_id)"))
    batch.summary = _summary(session, batch, counts)
    record_audit(session, "upload.submit", "upload_batch", str(batch.public_id), actor_id,
                 via=via, source=source, mode=mode, filename=filename,
                 summary=batch.summary)
    session.commit()
    return batch


def _open(stream: BinaryIO, filename: str, file_format: str | None,
          columns: dict[str, str] | None = None):
    """Records of the file and the format they were read as."""
    if columns:
        if family_of(filename) != "csv":
            raise FileFormatError("`columns` maps CSV headers: upload a .csv or .tsv file")
        return parse_mapped_csv(stream, columns), "mapped-csv"
    if file_format is None:
        file_format = detect_format(stream.read(HEAD_BYTES), filename)
        stream.seek(0)
    return parse_file(stream, filename, file_format), file_format


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str) -> str:
    """Text PostgreSQL can hold: NUL and unpaired surrogates become U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def _stage(session: Session, batch: UploadBatch, records: Iterator[Any],
           geocoder: Geocoder | None, progress: Callable[[int], None] | None,
           defaults: dict[str, str], workers: int | None = None) -> _Counts:
    """Validate each record and COPY the valid ones; issues go through a spool file.

    A large file's records are checked in worker processes (backend.uploads.workers), in order.
    """
    counts = _Counts()
    columns = ("batch_id", "seq", "locator", "source", "external_id", *VALUE_COLUMNS)
    issue_columns = ("batch_id", "seq", "locator", "external_id", "severity", "field",
                     "message", "raw")
    session.execute(text(f"CREATE TEMP TABLE {STAGE} (LIKE upload_rows) ON COMMIT DROP"))
    with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as spool:
        issues = csv.writer(spool)
        conn = _raw_conn(session)
        lines: list[str] = []
        with conn.cursor() as cur, cur.copy(
                f"COPY {STAGE} ({', '.join(columns)}) FROM STDIN") as copy:
            if defaults:  # before the check, so report.csv shows the values used
                records = (_with_defaults(raw, defaults) for raw in records)
            checked = checked_in_order(
                records, batch.source, lambda raw: _check(batch, raw, geocoder),
                lambda raw: geocoder is None or not _needs_geocoding(raw.fields),
                workers=workers)
            for seq, (raw, (row, found)) in enumerate(checked, start=1):
                counts.records = seq
                if row is not None:
                    lines.append(f"{batch.id}\t{seq}\t{_copy_escape(_storable(raw.locator))}"
                                 f"\t{row}\n")
                    if len(lines) == COPY_LINES:
                        copy.write("".join(lines))
                        lines.clear()
                errors = [f for f in found if f[0] == "error"]
                if errors:
                    counts.rejected += 1
                elif found:
                    counts.warned += 1
                # PostgreSQL's jsonb cannot hold NUL or a lone surrogate; the report shows
                # U+FFFD in their place.
                raw_json = _storable(json.dumps(raw.fields, default=str, ensure_ascii=False)
                                     .replace("\\u0000", "\\ufffd")) if found else None
                for severity, name, message in found:
                    counts.issues += 1
                    issues.writerow((batch.id, seq, raw.locator,
                                     _storable(str(raw.fields.get("external_id") or "")),
                                     severity, name, message, raw_json))
                if progress and seq % PROGRESS_EVERY == 0:
                    progress(seq)
            copy.write("".join(lines))
        if progress:
            progress(counts.records)
        spool.seek(0)
        with conn.cursor() as cur, cur.copy(
                f"COPY upload_issues ({', '.join(issue_columns)}) FROM STDIN "
                "WITH (FORMAT csv)") as copy:
            while chunk := spool.read(1 << 20):
                copy.write(chunk)
    return counts


def _with_defaults(raw: RawRecord, defaults: dict[str, str]) -> RawRecord:
    """A record with `defaults` in the fields it leaves empty."""
    fields = dict(raw.fields)
    for name, value in defaults.items():
        if fields.get(name) in (None, "", []):
            fields[name] = split_list(value) if name in LIST_COLUMNS else value
    return RawRecord(raw.locator, fields, raw.warnings)


def _check(batch: UploadBatch, raw: Any,
           geocoder: Geocoder | None) -> tuple[tuple | None, list[tuple[str, str, str]]]:
    """The staged row of a record (None when rejected) and its (severity, field, message)s."""
    fields = dict(raw.fields)
    found: list[tuple[str, str, str]] = [
        ("warning", "record", note) for note in getattr(raw, "warnings", ())]
    if not fields.get("source"):
        fields["source"] = batch.source
    elif fields["source"] != batch.source:
        found.append(("error", "source", f"is {fields['source']!r} but this upload is for "
                                         f"{batch.source!r}"))
    if geocoder and _needs_geocoding(fields):
        found += _geocode(fields, geocoder)
    timezone_given = bool(fields.get("timezone"))
    found += _place_from_point(fields)
    result = validate_record(raw.locator, fields)
    found += [("error", e.field, e.message) for e in result.errors]
    found += [("warning", w.field, w.message) for w in result.warnings]
    record = result.record
    if record is None or any(f[0] == "error" for f in found):
        return None, found
    found += location_problems(record.lat, record.lon, record.values["country"],
                               record.values["timezone"] if timezone_given else None)
    if any(f[0] == "error" for f in found):
        return None, found
    return _copy_text(record.values, record.lat, record.lon), found


# COPY's text format: a tab between columns, \N for NULL, backslash escapes.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_TEXT_COLUMNS = frozenset(("source", "external_id", "kind", "name", "brand", "street", "locality",
                           "region", "postcode", "country", "timezone", "repayment_fee_currency",
                           "repayment_posting", "phone", "status"))
_ARRAY_COLUMNS = frozenset(("services", "accessibility", "repayment_methods"))
_EWKB_POINT = struct.Struct("<BIIdd")  # little-endian, type Point with SRID, SRID, x, y
_EWKB_POINT_SRID = 0x20000001
_HOURS_CACHE_SIZE = 4096
_hours_texts: dict[int, tuple[Any, str]] = {}


def _copy_escape(value: str) -> str:
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


@lru_cache(maxsize=4096)
def _array_text(items: tuple[str, ...]) -> str:
    """A text[] value in COPY text format (every element quoted, so any text is safe)."""
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return _copy_escape("{" + ",".join(quoted) + "}")


def _hours_text(document: Any) -> str:
    """An opening-hours document as JSONB in COPY text format, once per distinct document.

    Validation hands out one cached dict per distinct schedule, so the text is kept by the
    dict's identity (the dict is kept alive with it, so the identity cannot be reused).
    """
    known = _hours_texts.get(id(document))
    if known is not None and known[0] is document:
        return known[1]
    if len(_hours_texts) >= _HOURS_CACHE_SIZE:
        _hours_texts.clear()
    value = _copy_escape(json.dumps(document))
    _hours_texts[id(document)] = (document, value)
    return value


def _copy_text(values: dict[str, Any], lat: float, lon: float) -> str:
    """A valid record's upload_rows columns from `source` on, as one line of COPY text.

    What psycopg would send, formatted here at a fraction of its cost: the point as hex EWKB
    (exactly the doubles validated; the server reads it faster than WKT), the hours as JSON.
    """
    cells = [_copy_escape(values["source"]), _copy_escape(values["external_id"])]
    for column in VALUE_COLUMNS:
        if column == "location":
            cells.append(_EWKB_POINT.pack(1, _EWKB_POINT_SRID, 4326, lon, lat).hex())
            continue
        value = values[column]
        if value is None:
            cells.append("\\N")
        elif column in _TEXT_COLUMNS:
            cells.append(_copy_escape(value))
        elif column in _ARRAY_COLUMNS:
            cells.append(_array_text(tuple(value)))
        elif column == "opening_hours":
            cells.append(_hours_text(value))
        else:  # repayment_fee (Decimal), repayment_cutoff (time), last_verified_at (datetime)
            cells.append(_copy_escape(value.isoformat() if column != "repayment_fee"
                                      else str(value)))
    return "\t".join(cells)


def _needs_geocoding(fields: dict[str, Any]) -> bool:
    return fields.get("lat") in (None, "") and fields.get("lon") in (None, "")


def _geocode(fields: dict[str, Any], geocoder: Geocoder) -> list[tuple[str, str, str]]:
    """Fill a record's missing point from its address, saying so."""
    parts = (fields.get("street"), fields.get("postcode"), fields.get("locality"),
             fields.get("region"))
    address = ", ".join(p for p in parts if p)
    if not address:
        return []
    try:
        point = geocoder.geocode(address, fields.get("country"))
    except GeocodingUnavailable:
        return [("error", "lat", "no coordinates, and the geocoder could not be reached to "
                                 "look up the address")]
    if point is None:
        return [("error", "lat", f"no coordinates, and the address {address!r} was not found")]
    fields["lat"], fields["lon"] = point
    return [("warning", "lat", f"no coordinates: geocoded from the address {address!r} to "
                               f"({point[0]:.6f}, {point[1]:.6f})")]


def _place_from_point(fields: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Fill a record's missing country and time zone from its point, anywhere, saying so."""
    if fields.get("country") and fields.get("timezone"):
        return []
    try:
        lat = parse_coordinate(fields.get("lat"), "lat")
        lon = parse_coordinate(fields.get("lon"), "lon")
    except (ValueError, TypeError):
        return []  # validation reports the coordinates
    if lat == 0 and lon == 0:
        return []  # the location check refuses it
    found = []
    if not fields.get("country"):
        match = world.country_at(lat, lon)
        if match is None:
            found.append(("error", "country", "not given, and the point is in no country's land "
                                              "(at sea?): give the country or check the point"))
        else:
            fields["country"] = match.code
            off = (f" ({match.outside_metres:.0f} m off its coast)"
                   if match.outside_metres else "")
            found.append(("warning", "country", f"not given; {match.code} taken from the "
                                                f"point{off}"))
    if not fields.get("timezone"):
        zone = world.timezone_at(lat, lon)
        if zone:
            fields["timezone"] = zone
            found.append(("warning", "timezone", f"not given; {zone} taken from the point"))
    return found


def _mark_duplicates(session: Session, batch: UploadBatch) -> None:
    """An id given twice: the last record wins, the earlier ones are reported and ignored."""
    session.execute(text("""
        WITH ranked AS (
            SELECT seq, locator, external_id,
                   first_value(seq) OVER last AS last_seq,
                   first_value(locator) OVER last AS last_locator
            FROM upload_stage
            WINDOW last AS (PARTITION BY external_id ORDER BY seq DESC)
        ), earlier AS (
            SELECT * FROM ranked WHERE seq < last_seq
        ), marked AS (
            UPDATE upload_stage u SET action = 'duplicate'
            FROM earlier e WHERE u.seq = e.seq
        )
        INSERT INTO upload_issues (batch_id, seq, locator, external_id, severity, field, message)
        SELECT :b, seq, locator, external_id, 'warning', 'external_id',
               'duplicate id in this file: ' || last_locator || ' with the same id is used instead'
        FROM earlier
    """), {"b": batch.id})
    # The last record of an id wins even when it was rejected: then the id is left alone.
    session.execute(text("""
        WITH rejected AS (
            SELECT external_id, max(seq) AS seq FROM upload_issues
            WHERE batch_id = :b AND severity = 'error'
            GROUP BY external_id
        ), superseded AS (
            UPDATE upload_stage u SET action = 'duplicate'
            FROM rejected r
            WHERE u.action IS NULL AND r.external_id = u.external_id AND r.seq > u.seq
            RETURNING u.seq, u.locator, u.external_id
        )
        INSERT INTO upload_issues (batch_id, seq, locator, external_id, severity, field, message)
        SELECT :b, seq, locator, external_id, 'warning', 'external_id',
               'duplicate id in this file: a later record with the same id was rejected, so '
               || 'this id is left as it is'
        FROM superseded
    """), {"b": batch.id})


def _similar(a: str | None, b: str | None) -> bool:
    left = re.sub(r"[^0-9a-z]+", " ", (a or "").lower()).strip()
    right = re.sub(r"[^0-9a-z]+", " ", (b or "").lower()).strip()
    if not left or not right:
        return False
    if re.findall(r"\d+", left) != re.findall(r"\d+", right):
        return False  # "ATM 1" and "ATM 2" in one lobby are two machines
    return left in right or right in left or \
        SequenceMatcher(None, left, right).ratio() >= NAME_SIMILARITY


def _flag_near_duplicates(session: Session, batch: UploadBatch) -> None:
    """Two different places within 10 m with similar names, in the file or against the data."""
    # In spatial order (geometry's sort order follows a space-filling curve), so that the
    # index probes of neighbouring points touch the same index pages: in file order, 10^6
    # points probed a temporary index (8 MB of temp_buffers) at random, for minutes.
    session.execute(text("""
        CREATE TEMP TABLE staged_points ON COMMIT DROP AS
        SELECT seq, locator, external_id, name, location FROM upload_stage
        WHERE action IS NULL ORDER BY location::geometry
    """))
    session.execute(text("CREATE INDEX ON staged_points USING gist (location)"))
    session.execute(text("ANALYZE staged_points"))
    in_file = f"""
        SELECT a.seq, a.locator, a.external_id, a.name,
               b.locator || ' (' || b.external_id || ')', b.name,
               ST_Distance(a.location, b.location)
        FROM staged_points a JOIN staged_points b
          ON a.seq < b.seq AND a.external_id <> b.external_id
         AND ST_DWithin(a.location, b.location, :m)
        WHERE {SAME_NUMBERS.format(a="a.name", b="b.name")}
    """
    # Each staged point, in that order, probes the places' index (OFFSET 0 keeps the planner
    # from turning it around into every place probing the staged points at random).
    existing = f"""
        SELECT s.seq, s.locator, s.external_id, s.name, p.other, p.name, p.metres
        FROM staged_points s CROSS JOIN LATERAL (
            SELECT p.source || ':' || p.external_id AS other, p.name,
                   ST_Distance(s.location, p.location) AS metres
            FROM places p
            WHERE ST_DWithin(p.location, s.location, :m)
              AND NOT (p.source = :source AND p.external_id = s.external_id)
              AND p.status <> 'decommissioned'
              AND {SAME_NUMBERS.format(a="s.name", b="p.name")}
            OFFSET 0
        ) p
    """
    issues: list[dict[str, Any]] = []
    # Pairs are streamed (many ATMs can share one point), only the warnings are capped.
    for sql in (in_file, existing):
        pairs = session.execute(text(sql), {"m": NEAR_METRES, "source": batch.source},
                                execution_options={"stream_results": True, "yield_per": 5000})
        for seq, locator, external_id, name, other, other_name, metres in pairs:
            if len(issues) == MAX_NEAR_WARNINGS:
                issues.append({"b": batch.id, "seq": None, "locator": "file", "e": None,
                               "msg": f"more than {MAX_NEAR_WARNINGS} possible duplicates: "
                                      "the rest are not listed"})
                break
            if _similar(name, other_name):
                issues.append({"b": batch.id, "seq": seq, "locator": locator,
                               "e": external_id,
                               "msg": f"{metres:.1f} m from {other} with a similar name "
                                      f"({other_name!r}): the same place twice?"})
        pairs.close()
    if issues:
        session.execute(text("""
            INSERT INTO upload_issues (batch_id, seq, locator, external_id, severity, field,
                                       message)
            VALUES (:b, :seq, :locator, :e, 'warning', 'location', :msg)
        """), issues)
    session.execute(text("DROP TABLE staged_points"))


def _diff(session: Session, batch: UploadBatch) -> None:
    """Write the staged rows to upload_rows, each marked create, update (with the changed
    fields), unchanged or duplicate: one pass over the staging table joined with places.

    An unchanged record without issues keeps only its keys there: nothing reads its values
    (the apply leaves it alone, report.csv lists only records with issues), and a nightly feed
    of unchanged records would otherwise write its whole file again.
    """
    changed = ", ".join(
        f"CASE WHEN {_differs('u', 'p', c)} THEN '{c}' END" for c in DIFF_COLUMNS)
    keys = ("batch_id", "seq", "locator", "source", "external_id")
    staged = ", ".join((*keys, *VALUE_COLUMNS))
    kept = ", ".join((*keys, *(f"CASE WHEN action <> 'unchanged' OR noted THEN {c} END"
                               for c in VALUE_COLUMNS)))
    session.execute(text(f"""
        INSERT INTO upload_rows ({staged}, action, place_id, place_version, changed_fields)
        SELECT {kept}, action, place_id, place_version, changed_fields
        FROM (
            SELECT *, CASE
                       WHEN marked IS NOT NULL THEN marked
                       WHEN place_id IS NULL THEN 'create'
                       WHEN cardinality(changed_fields) > 0 THEN 'update'
                       ELSE 'unchanged' END AS action
            FROM (
                SELECT {", ".join(f"u.{c}" for c in staged.split(", "))}, u.action AS marked,
                       p.id AS place_id, p.version AS place_version,
                       CASE WHEN p.id IS NOT NULL
                            THEN array_remove(ARRAY[{changed}]::text[], NULL)
                            END AS changed_fields,
                       i.seq IS NOT NULL AS noted
                FROM {STAGE} u
                LEFT JOIN places p ON u.action IS NULL
                     AND p.source = u.source AND p.external_id = u.external_id
                LEFT JOIN (SELECT DISTINCT seq FROM upload_issues WHERE batch_id = :b) i
                     ON i.seq = u.seq
            ) joined
        ) diffed
    """), {"b": batch.id})


def _new_value(new: str, old: str, column: str) -> str:
    """SQL for the value a staged row gives a column of an existing place."""
    if column == "status":
        # A file without statuses keeps a maintainer's "temporarily closed"; a place that was
        # decommissioned and is in the file again is back.
        return (f"coalesce({new}.status, CASE WHEN {old}.status = 'decommissioned' "
                f"THEN 'active' ELSE {old}.status END)")
    return f"{new}.{column}"


def _differs(new: str, old: str, column: str) -> str:
    if column == "status":
        return f"{_new_value(new, old, column)} IS DISTINCT FROM {old}.status"
    if column == "location":
        # Exact comparison: geography's `=` compares rounded bounding boxes.
        return f"ST_AsBinary({new}.location) IS DISTINCT FROM ST_AsBinary({old}.location)"
    return f"{new}.{column} IS DISTINCT FROM {old}.{column}"


def _decommission_missing(session: Session, batch: UploadBatch) -> None:
    """Sync mode: the source's places that the file does not mention are decommissioned.

    A record the file mentions but that was rejected is not "missing": it keeps its place.
    """
    session.execute(text("""
        INSERT INTO upload_rows (batch_id, seq, source, external_id, action, place_id,
                                 place_version, changed_fields, status)
        SELECT :b, -row_number() OVER (ORDER BY p.id), p.source, p.external_id,
               'decommission', p.id, p.version, ARRAY['status'], 'decommissioned'
        FROM places p
        WHERE p.source = :s AND p.status <> 'decommissioned'
          AND NOT EXISTS (SELECT 1 FROM upload_stage u WHERE u.external_id = p.external_id)
          AND NOT EXISTS (SELECT 1 FROM upload_issues i
                          WHERE i.batch_id = :b AND i.external_id = p.external_id
                            AND i.severity = 'error')
    """), {"b": batch.id, "s": batch.source})


def _summary(session: Session, batch: UploadBatch, counts: _Counts) -> dict[str, int]:
    actions = dict(session.execute(text(
        "SELECT action, count(*) FROM upload_rows WHERE batch_id = :b GROUP BY action"),
        {"b": batch.id}).all())
    warned = session.execute(text(
        "SELECT count(DISTINCT seq) FROM upload_issues WHERE batch_id = :b "
        "AND severity = 'warning'"), {"b": batch.id}).scalar_one()
    return {
        "records": counts.records, "rejected": counts.rejected, "with_warnings": warned,
        **{name: actions.get(name, 0) for name in
           ("create", "update", "unchanged", "decommission", "duplicate")},
    }


def get_batch(session: Session, public_id: str) -> UploadBatch:
    """A batch by its public id.

    :raises NotFound: when there is none.
    """
    return get_by_public_id(session, UploadBatch, public_id, "upload")


def list_batches(session: Session, limit: int, before: int | None) -> list[UploadBatch]:
    """Batches, newest first (by id), after the cursor."""
    query = select(UploadBatch).order_by(UploadBatch.id.desc()).limit(limit)
    if before is not None:
        query = query.where(UploadBatch.id < before)
    return list(session.scalars(query))


def batch_report(session: Session, batch: UploadBatch,
                 items: int = REPORT_ITEMS) -> dict[str, Any]:
    """The batch with its summary, first issues and first changes."""
    issues = session.execute(text("""
        SELECT locator, external_id, severity, field, message FROM upload_issues
        WHERE batch_id = :b ORDER BY severity, seq NULLS FIRST, id LIMIT :n
    """), {"b": batch.id, "n": items + 1}).mappings().all()
    changes = session.execute(text("""
        SELECT u.external_id, u.action, u.changed_fields, u.locator, p.public_id
        FROM upload_rows u LEFT JOIN places p ON p.id = u.place_id
        WHERE u.batch_id = :b AND u.action IN ('create', 'update', 'decommission')
        ORDER BY u.action, u.seq LIMIT :n
    """), {"b": batch.id, "n": items + 1}).mappings().all()
    return {
        **batch_summary(batch),
        "issues": [dict(i) for i in issues[:items]],
        "issues_truncated": len(issues) > items,
        "changes": [{"external_id": c["external_id"], "action": c["action"],
                     "changed_fields": list(c["changed_fields"] or []),
                     "locator": c["locator"],
                     "place_id": str(c["public_id"]) if c["public_id"] else None}
                    for c in changes[:items]],
        "changes_truncated": len(changes) > items,
    }


def batch_summary(batch: UploadBatch) -> dict[str, Any]:
    """The batch's identity, state and counts."""
    return {
        "id": str(batch.public_id), "source": batch.source, "mode": batch.mode,
        "filename": batch.filename, "format": batch.format, "status": batch.status,
        "created_at": batch.created_at.isoformat() if batch.created_at else None,
        "applied_at": batch.applied_at.isoformat() if batch.applied_at else None,
        "rolled_back_at": batch.rolled_back_at.isoformat() if batch.rolled_back_at else None,
        "summary": batch.summary,
    }


def apply_upload(session: Session, batch: UploadBatch, *, actor_id: int | None,
                 via: str) -> UploadBatch:
    """Apply a pending batch to the places in one transaction.

    :raises Conflict: when the batch is not pending, or when the source's data changed since
        the dry run (another batch applied, a rollback, a manual edit).
    """
    version = lock_source_version(session, batch.source)
    session.refresh(batch, with_for_update=True)
    if batch.status != "pending":
        raise Conflict(f"This upload is {batch.status.replace('_', ' ')}; only a pending "
                       "upload can be applied.")
    if version != batch.base_version:
        raise Conflict("The data changed since this dry run (another upload, a rollback or a "
                       "manual edit). Submit the file again for a fresh diff.")
    params = {"b": batch.id, "user": actor_id}
    # Each change writes its place and its history row in one statement: the history row gets
    # the snapshots before and after at once (every part of a statement sees the data as it was
    # before the statement, and RETURNING gives the rows as written), so no history row is
    # written twice and no created place is looked up again.
    assignments = ", ".join(f"{c} = {_new_value('u', 'p', c)}" for c in DIFF_COLUMNS)
    for action, change in (
        ("update", f"""{assignments},
            last_verified_at = coalesce(u.last_verified_at, now()),
            upload_batch_id = :b, version = p.version + 1, updated_at = now()"""),
        ("decommission", """status = 'decommissioned', upload_batch_id = :b,
            version = p.version + 1, updated_at = now()"""),
    ):
        session.execute(text(f"""
            WITH old AS (
                SELECT p.id, p.public_id, u.changed_fields, {snapshot_sql('p')} AS before
                FROM upload_rows u JOIN places p ON p.id = u.place_id
                WHERE u.batch_id = :b AND u.action = '{action}'
            ), changed AS (
                UPDATE places p SET {change}
                FROM upload_rows u
                WHERE u.batch_id = :b AND u.action = '{action}' AND p.id = u.place_id
                RETURNING p.*
            )
            INSERT INTO place_history (place_id, public_id, batch_id, action, changed_fields,
                                       before, after, after_version, changed_by)
            SELECT old.id, old.public_id, :b, '{action}', old.changed_fields, old.before,
                   {snapshot_sql('changed')}, changed.version, :user
            FROM old JOIN changed ON changed.id = old.id
            ORDER BY old.id
        """), params)
    inserted = ", ".join(c for c in DIFF_COLUMNS)
    selected = ", ".join("coalesce(u.status, 'active')" if c == "status" else f"u.{c}"
                         for c in DIFF_COLUMNS)
    session.execute(text(f"""
        WITH created AS (
            INSERT INTO places (source, external_id, {inserted}, last_verified_at,
                                upload_batch_id)
            SELECT u.source, u.external_id, {selected}, coalesce(u.last_verified_at, now()), :b
            FROM upload_rows u WHERE u.batch_id = :b AND u.action = 'create'
            ORDER BY u.location::geometry
            RETURNING *
        )
        INSERT INTO place_history (place_id, public_id, batch_id, action, changed_fields,
                                   after, after_version, changed_by)
        SELECT created.id, created.public_id, :b, 'create', NULL, {snapshot_sql('created')},
               created.version, :user
        FROM created
    """), params)
    bump_source_version(session, batch.source)
    batch.status, batch.applied_by, batch.applied_at = "applied", actor_id, datetime.now(UTC)
    record_audit(session, "upload.apply", "upload_batch", str(batch.public_id), actor_id,
                 via=via, source=batch.source, summary=batch.summary)
    session.commit()
    return batch


def rollback_upload(session: Session, batch: UploadBatch, *, actor_id: int | None,
                    via: str) -> UploadBatch:
    """Restore every place an applied batch touched to exactly its state before.

    :raises Conflict: when the batch is not applied, or when a place it touched has changed
        since (the conflicts are named).
    """
    lock_source_version(session, batch.source)
    session.refresh(batch, with_for_update=True)
    if batch.status != "applied":
        raise Conflict(f"This upload is {batch.status.replace('_', ' ')}; only an applied "
                       "upload can be rolled back.")
    params = {"b": batch.id, "user": actor_id}
    conflicts = session.execute(text("""
        SELECT h.public_id, coalesce(p.source || ':' || p.external_id,
                                     h.after ->> 'source' || ':' || (h.after ->> 'external_id'))
        FROM place_history h LEFT JOIN places p ON p.id = h.place_id
        WHERE h.batch_id = :b AND h.action IN ('create', 'update', 'decommission')
          AND (p.id IS NULL OR p.version <> h.after_version)
        ORDER BY h.id LIMIT 101
    """), params).all()
    if conflicts:
        raise Conflict(
            "Places this upload touched have changed since; roll those changes back first.",
            conflicts=[{"place_id": str(pid), "place": name} for pid, name in conflicts[:100]])
    session.execute(text(f"""
        INSERT INTO place_history (place_id, public_id, batch_id, action, changed_fields,
                                   before, after, changed_by)
        SELECT p.id, p.public_id, :b, 'rollback', h.changed_fields, {snapshot_sql('p')},
               h.before, :user
        FROM place_history h JOIN places p ON p.id = h.place_id
        WHERE h.batch_id = :b AND h.action IN ('create', 'update', 'decommission')
    """), params)
    restored = ", ".join(RESTORED_COLUMNS)
    session.execute(text(f"""
        UPDATE places p SET ({restored}) = (SELECT {restored} FROM
                jsonb_populate_record(NULL::places, h.before))
        FROM place_history h
        WHERE h.batch_id = :b AND h.action IN ('update', 'decommission') AND p.id = h.place_id
    """), params)
    session.execute(text("""
        DELETE FROM places p USING place_history h
        WHERE h.batch_id = :b AND h.action = 'create' AND p.id = h.place_id
    """), params)
    bump_source_version(session, batch.source)
    batch.status = "rolled_back"
    batch.rolled_back_by, batch.rolled_back_at = actor_id, datetime.now(UTC)
    record_audit(session, "upload.rollback", "upload_batch", str(batch.public_id), actor_id,
                 via=via, source=batch.source)
    session.commit()
    return batch


_NUMBER = re.compile(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")


def _neutralise(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (numbers stay numbers)."""
    cell = "" if value is None else (";".join(value) if isinstance(value, list) else str(value))
    if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def report_csv(session: Session, batch: UploadBatch) -> Iterator[str]:
    """The rejected and warned records as CSV in the project's format, ready to fix."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # The leading columns are ignored when the fixed file is uploaded again.
    writer.writerow(["outcome", "problems", "locator", *COLUMNS])
    yield buffer.getvalue()
    # The SQL steps (duplicate ids, near-duplicates) record an issue without the raw record:
    # such a row is written from the staged record, so every row can be fixed and sent again.
    rows = session.execute(text("""
        WITH grouped AS (
            SELECT seq, min(locator) AS locator,
                   CASE WHEN bool_or(severity = 'error') THEN 'rejected' ELSE 'warning' END
                       AS outcome,
                   string_agg(field || ': ' || message, ' | ' ORDER BY severity, id)
                       AS problems,
                   (array_agg(raw) FILTER (WHERE raw IS NOT NULL))[1] AS raw
            FROM upload_issues WHERE batch_id = :b AND seq IS NOT NULL AND seq > 0
            GROUP BY seq
        )
        SELECT g.*, CASE WHEN g.raw IS NULL THEN to_jsonb(u) END AS staged,
               ST_Y(u.location::geometry) AS lat, ST_X(u.location::geometry) AS lon
        FROM grouped g
        LEFT JOIN upload_rows u ON u.batch_id = :b AND u.seq = g.seq
        ORDER BY g.seq
    """), {"b": batch.id}).yield_per(1000)
    for row in rows:
        raw = row.raw or _staged_fields(row.staged, row.lat, row.lon)
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([row.outcome, _neutralise(row.problems), _neutralise(row.locator),
                         *(_neutralise(raw.get(c)) for c in COLUMNS)])
        yield buffer.getvalue()


def _staged_fields(staged: dict | None, lat: float | None, lon: float | None) -> dict[str, Any]:
    """A staged upload row in the project's columns (what report.csv writes)."""
    if not staged:
        return {}
    fields = {c: staged.get(c) for c in COLUMNS if c in staged}
    fields["lat"], fields["lon"] = lat, lon
    if fields.get("repayment_fee") is not None:
        fields["repayment_fee"] = f"{Decimal(str(fields['repayment_fee'])):.2f}"
    if fields.get("repayment_cutoff"):
        fields["repayment_cutoff"] = str(fields["repayment_cutoff"])[:5]  # HH:MM:SS -> HH:MM
    if staged.get("opening_hours"):
        fields["opening_hours"], exceptions = \
            OpeningHours.from_json(staged["opening_hours"]).to_text()
        fields["hours_exceptions"] = exceptions or None
    return fields
